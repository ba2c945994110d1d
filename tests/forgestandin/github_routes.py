"""The GitHub stand-in's endpoint handlers, answering with the shapes and codes GitHub uses."""

from __future__ import annotations

import secrets
import subprocess
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.forgestandin.server import Reply, Request

if TYPE_CHECKING:
    from tests.forgestandin.github import GitHubStandin, Pull, Repo

MAX_BODY = 65536


def register(gh: GitHubStandin) -> None:
    from tests.forgestandin.github import _error, blob_json, now_iso, reaction_rollup

    def access_token(req: Request) -> Reply:
        installation = int(req.params["installation_id"])
        if installation not in {r.installation_id for r in gh.repos.values()}:
            return _error(404, "Not Found")
        token = f"ghs_{secrets.token_urlsafe(24)}"
        expires = time.time() + gh.token_lifetime_s
        gh.tokens[token] = (installation, expires)
        stamp = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Reply(201, {"token": token, "expires_at": stamp, "permissions": {
            "pull_requests": "write", "checks": "write", "contents": "read"},
            "repository_selection": "all"})

    def app(req: Request) -> Reply:
        return Reply(200, {"id": int(gh.app_id), "slug": gh.app_slug, "name": "reviewbot test",
                           "owner": gh.user("acme"), "html_url": "https://github.example/apps/x"})

    def installation(req: Request) -> Reply:
        repo = gh.repos.get(f"{req.params['owner']}/{req.params['repo']}")
        if repo is None:
            return _error(404, "Not Found")
        return Reply(200, {"id": repo.installation_id, "app_id": int(gh.app_id),
                           "account": gh.user(req.params["owner"]), "target_type": "Organization"})

    def get_repo(req: Request) -> Reply:
        return Reply(200, gh.repo_json(gh.repo_of(req)))

    def pull_json(repo: Repo, pull: Pull) -> dict[str, Any]:
        url = f"{gh.base_url}/repos/{repo.full_name}/pulls/{pull.number}"
        return {
            "id": pull.number * 11, "number": pull.number,
            "state": "closed" if pull.closed_at else "open", "title": pull.title,
            "body": "PR description", "draft": pull.draft, "merged": pull.merged_at is not None,
            "closed_at": pull.closed_at, "merged_at": pull.merged_at,
            "user": gh.user(pull.author), "url": url,
            "html_url": f"https://github.example/{repo.full_name}/pull/{pull.number}",
            "issue_url": f"{gh.base_url}/repos/{repo.full_name}/issues/{pull.number}",
            "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": gh.repo_json(repo)},
            "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": gh.repo_json(repo)},
        }

    def get_pull(req: Request) -> Reply:
        repo = gh.repo_of(req)
        pull = repo.pulls.get(int(req.params["pull_number"]))
        return Reply(200, pull_json(repo, pull)) if pull else _error(404, "Not Found")

    def contents(req: Request) -> Reply:
        repo = gh.repo_of(req)
        ref, path = req.arg("ref") or repo.default_branch, req.params["path"]
        found = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{ref}:{path}"],
                               cwd=repo.git_dir, capture_output=True, check=False)
        if found.returncode != 0:
            return _error(404, "Not Found")
        sha = found.stdout.decode().strip()
        blob = blob_json(gh, repo, sha)
        large = blob["size"] > 1024 * 1024
        return Reply(200, {
            "type": "file", "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha,
            "size": blob["size"], "encoding": "none" if large else "base64",
            "content": "" if large else blob["content"],
            "url": f"{gh.base_url}/repos/{repo.full_name}/contents/{path}?ref={ref}",
            "git_url": blob["url"], "html_url": None, "download_url": None,
            "_links": {"self": blob["url"], "git": blob["url"], "html": None}})

    def get_blob(req: Request) -> Reply:
        return Reply(200, blob_json(gh, gh.repo_of(req), req.params["file_sha"]))

    def comment_problem(pull: Pull, c: dict[str, Any]) -> str | None:
        if "position" in c:
            gh.violations.append("review comment used the deprecated `position`")
        side = c.get("side", "RIGHT")
        if side not in {"LEFT", "RIGHT"} or "line" not in c:
            return "Unprocessable Entity: line and side required"
        hunk = pull.diff.hunk(c["path"], c["line"], side)
        if hunk is None:
            return "Pull request review thread line must be part of the diff"
        if "start_line" in c:
            if c["start_line"] >= c["line"]:
                return "Pull request review thread start line must precede the end line"
            start = pull.diff.hunk(c["path"], c["start_line"], c.get("start_side", side))
            if start != hunk:
                return "Pull request review thread start line must be part of the same hunk"
        if len(c.get("body", "")) > MAX_BODY:
            return "Body is too long (maximum is 65536 characters)"
        return None

    def create_review(req: Request) -> Reply:
        repo = gh.repo_of(req)
        pull = repo.pulls.get(int(req.params["pull_number"]))
        if pull is None:
            return _error(404, "Not Found")
        data = req.json() or {}
        if data.get("event") in {"COMMENT", "REQUEST_CHANGES"} and not data.get("body"):
            return _error(422, "Unprocessable Entity", ["Body is required"])
        if len(data.get("body", "")) > MAX_BODY:
            return _error(422, "Unprocessable Entity", ["Body is too long"])
        problems = [p for c in data.get("comments", []) if (p := comment_problem(pull, c))]
        if problems:  # all or nothing, and GitHub does not name the culprit
            return _error(422, "Unprocessable Entity", problems[:1])
        review_id = gh.next_id()
        commit = data.get("commit_id") or pull.head_sha
        review = {"id": review_id, "node_id": f"PRR_{review_id}", "user": gh.user(gh.bot_login),
                  "body": data.get("body", ""), "state": "COMMENTED", "commit_id": commit,
                  "html_url": f"https://github.example/{repo.full_name}/pull/{pull.number}"
                              f"#pullrequestreview-{review_id}",
                  "pull_request_url": f"{gh.base_url}/repos/{repo.full_name}/pulls/{pull.number}",
                  "submitted_at": now_iso(), "author_association": "NONE",
                  "_links": {"html": {"href": "x"}, "pull_request": {"href": "x"}},
                  "pull_number": pull.number}
        repo.reviews.append(review)
        for c in data.get("comments", []):
            repo.review_comments.append({
                "id": gh.next_id(), "pull_request_review_id": review_id, "path": c["path"],
                "line": c["line"], "side": c.get("side", "RIGHT"),
                "start_line": c.get("start_line"), "start_side": c.get("start_side"),
                "body": c["body"], "commit_id": commit, "user": gh.user(gh.bot_login),
                "pull_number": pull.number, "created_at": now_iso(),
                "reactions": reaction_rollup()})
        return Reply(200, review)

    def of_pull(items: list[dict[str, Any]], req: Request) -> list[dict[str, Any]]:
        return [i for i in items if i["pull_number"] == int(req.params["pull_number"])]

    def list_review_comments(req: Request) -> Reply:
        return gh.paginate(req, of_pull(gh.repo_of(req).review_comments, req))

    def list_reviews(req: Request) -> Reply:
        return gh.paginate(req, of_pull(gh.repo_of(req).reviews, req))

    def list_issue_comments(req: Request) -> Reply:
        number = int(req.params["issue_number"])
        items = [c for c in gh.repo_of(req).issue_comments.values() if c["number"] == number]
        return gh.paginate(req, items)

    def create_issue_comment(req: Request) -> Reply:
        repo = gh.repo_of(req)
        number = int(req.params["issue_number"])
        if number not in repo.pulls and number not in repo.issues:
            return _error(404, "Not Found")
        body = (req.json() or {}).get("body", "")
        if len(body) > MAX_BODY:
            return _error(422, "Validation Failed", [{"message": "Body is too long"}])
        comment_id = gh.next_id()
        comment = {"id": comment_id, "number": number, "body": body,
                   "user": gh.user(gh.bot_login), "created_at": now_iso(),
                   "url": f"{gh.base_url}/repos/{repo.full_name}/issues/comments/{comment_id}",
                   "html_url": f"https://github.example/{repo.full_name}/pull/{number}"}
        repo.issue_comments[comment_id] = comment
        return Reply(201, comment)

    def edit_issue_comment(req: Request) -> Reply:
        comment = gh.repo_of(req).issue_comments.get(int(req.params["comment_id"]))
        if comment is None:
            return _error(404, "Not Found")
        comment["body"] = (req.json() or {})["body"]
        return Reply(200, comment)

    def react(req: Request, *, inline: bool = False) -> Reply:
        """A reaction on an issue comment or (inline) a review comment; 200 if it exists."""
        repo = gh.repo_of(req)
        comment_id = int(req.params["comment_id"])
        known = ({c["id"] for c in repo.review_comments} if inline
                 else set(repo.issue_comments))
        if comment_id not in known:
            return _error(404, "Not Found")
        content = (req.json() or {})["content"]
        for existing in repo.reactions:
            if (existing["comment_id"], existing["inline"], existing["content"]) == (
                    comment_id, inline, content):
                return Reply(200, existing)
        reaction = {"id": gh.next_id(), "comment_id": comment_id, "content": content,
                    "inline": inline, "user": gh.user(gh.bot_login), "created_at": now_iso()}
        repo.reactions.append(reaction)
        return Reply(201, reaction)

    def create_check(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json()
        run_id = gh.next_id()
        run = {"id": run_id, "name": data["name"], "head_sha": data["head_sha"],
               "status": data.get("status", "queued"), "conclusion": data.get("conclusion"),
               "output": {"title": None, "summary": None, "annotations_count": 0},
               "annotations": [], "patches": 0,
               "url": f"{gh.base_url}/repos/{repo.full_name}/check-runs/{run_id}"}
        repo.check_runs[run_id] = run
        return Reply(201, run)

    def update_check(req: Request) -> Reply:
        run = gh.repo_of(req).check_runs.get(int(req.params["check_run_id"]))
        if run is None:
            return _error(404, "Not Found")
        data = req.json()
        run["patches"] += 1
        if "conclusion" in data:
            run["status"], run["conclusion"] = "completed", data["conclusion"]
        elif "status" in data:
            run["status"] = data["status"]
        output = data.get("output") or {}
        run["annotations"].extend(output.get("annotations", []))
        run["output"] = {"title": output.get("title", run["output"]["title"]),
                         "summary": output.get("summary", run["output"]["summary"]),
                         "annotations_count": len(run["annotations"])}
        return Reply(200, run)

    def permission(req: Request) -> Reply:
        repo = gh.repo_of(req)
        login = req.params["username"]
        if login not in repo.collaborators:
            return _error(404, f"{login} is not a user")
        level = repo.collaborators[login]
        legacy = {"maintain": "write", "triage": "read"}.get(level, level)
        return Reply(200, {"permission": legacy, "role_name": level, "user": gh.user(login)})

    def list_issues(req: Request) -> Reply:
        repo = gh.repo_of(req)
        labels = set(filter(None, (req.arg("labels") or "").split(",")))
        state = req.arg("state") or "open"
        items = [i for i in repo.issues.values()
                 if (state == "all" or i["state"] == state)
                 and labels <= {label["name"] for label in i["labels"]}]
        return gh.paginate(req, items)

    def create_issue(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json()
        number = max([*repo.issues, *repo.pulls, 0]) + 1
        issue = {"id": gh.next_id(), "number": number, "title": data["title"],
                 "body": data.get("body"), "state": "open", "user": gh.user(gh.bot_login),
                 "labels": [{"name": n} for n in data.get("labels", [])],
                 "url": f"{gh.base_url}/repos/{repo.full_name}/issues/{number}",
                 "html_url": f"https://github.example/{repo.full_name}/issues/{number}"}
        repo.issues[number] = issue
        return Reply(201, issue)

    def edit_issue(req: Request) -> Reply:
        issue = gh.repo_of(req).issues.get(int(req.params["issue_number"]))
        if issue is None:
            return _error(404, "Not Found")
        issue.update({k: v for k, v in (req.json() or {}).items() if k in {"title", "body"}})
        return Reply(200, issue)

    base = "/repos/{owner}/{repo}"
    for method, pattern, handler in [
        ("POST", "/app/installations/{installation_id}/access_tokens", access_token),
        ("GET", "/app", app),
        ("GET", f"{base}/installation", installation),
        ("GET", base, get_repo),
        ("GET", f"{base}/pulls/{{pull_number}}", get_pull),
        ("GET", f"{base}/contents/{{path}}", contents),
        ("GET", f"{base}/git/blobs/{{file_sha}}", get_blob),
        ("POST", f"{base}/pulls/{{pull_number}}/reviews", create_review),
        ("GET", f"{base}/pulls/{{pull_number}}/reviews", list_reviews),
        ("GET", f"{base}/pulls/{{pull_number}}/comments", list_review_comments),
        ("GET", f"{base}/issues/{{issue_number}}/comments", list_issue_comments),
        ("POST", f"{base}/issues/{{issue_number}}/comments", create_issue_comment),
        ("PATCH", f"{base}/issues/comments/{{comment_id}}", edit_issue_comment),
        ("POST", f"{base}/issues/comments/{{comment_id}}/reactions", react),
        ("POST", f"{base}/pulls/comments/{{comment_id}}/reactions",
         lambda req: react(req, inline=True)),
        ("POST", f"{base}/check-runs", create_check),
        ("PATCH", f"{base}/check-runs/{{check_run_id}}", update_check),
        ("GET", f"{base}/collaborators/{{username}}/permission", permission),
        ("GET", f"{base}/issues", list_issues),
        ("POST", f"{base}/issues", create_issue),
        ("PATCH", f"{base}/issues/{{issue_number}}", edit_issue),
    ]:
        gh.route(method, pattern, handler)

