"""The GitLab stand-in's endpoint handlers (shapes and status codes as GitLab answers)."""

from __future__ import annotations

import hashlib
import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.forgestandin.server import Reply, Request

if TYPE_CHECKING:
    from tests.forgestandin.gitlab import GitLabStandin, MergeRequest, Project

STATES = {"pending", "running", "success", "failed", "canceled", "skipped"}
WEB = "https://gitlab.example"


def register(gl: GitLabStandin) -> None:
    from tests.forgestandin.gitlab import API, _bad

    def scoped(handler: Any) -> Any:
        def wrapped(req: Request) -> Reply:
            project = gl.project_of(req)
            if project is None:
                return _bad("404 Project Not Found", 404)
            mr = None
            if "iid" in req.params:
                mr = project.mrs.get(int(req.params["iid"]))
                if mr is None:
                    return _bad("404 Not found", 404)
            return handler(req, project, mr)  # type: ignore[no-any-return]
        return wrapped

    def me(req: Request) -> Reply:
        return Reply(200, gl.user_json(gl.bot_username))

    def project_json(req: Request, p: Project, _: Any) -> Reply:
        return Reply(200, {"id": p.id, "path_with_namespace": p.path,
                           "default_branch": p.default_branch, "web_url": f"{WEB}/{p.path}",
                           "http_url_to_repo": f"{gl.base_url}/{p.path}.git"})

    def mr_json(p: Project, mr: MergeRequest) -> dict[str, Any]:
        return {"id": mr.iid * 7, "iid": mr.iid, "project_id": p.id, "title": mr.title,
                "description": "MR description", "state": "opened", "draft": False,
                "author": gl.user_json(mr.author), "source_branch": mr.source_branch,
                "target_branch": mr.target_branch, "sha": mr.head_sha,
                "diff_refs": {"base_sha": mr.base_sha, "start_sha": mr.start_sha,
                              "head_sha": mr.head_sha},
                "web_url": f"{WEB}/{p.path}/-/merge_requests/{mr.iid}"}

    def get_mr(req: Request, p: Project, mr: MergeRequest) -> Reply:
        return Reply(200, mr_json(p, mr))

    def raw_file(req: Request, p: Project, _: Any) -> Reply:
        ref = req.arg("ref")
        if not ref:
            return _bad("400 Bad request - ref is missing")
        path = unquote(req.params["path"])
        done = subprocess.run(["git", "cat-file", "blob", f"{ref}:{path}"], cwd=p.git_dir,
                              capture_output=True, check=False)
        if done.returncode != 0:
            return _bad("404 File Not Found", 404)
        return Reply(200, done.stdout, {"Content-Type": "text/plain"})

    def versions(req: Request, p: Project, mr: MergeRequest) -> Reply:
        return gl.paginate(req, [{"id": mr.iid * 100, "head_commit_sha": mr.head_sha,
                                  "base_commit_sha": mr.base_sha,
                                  "start_commit_sha": mr.start_sha, "state": "collected",
                                  "merge_request_id": mr.iid * 7, "real_size": "1"}], 20)

    def note_json(p: Project, mr: MergeRequest, body: str, **extra: Any) -> dict[str, Any]:
        note = {"id": gl.next_id(), "body": body, "author": gl.user_json(gl.bot_username),
                "system": False, "noteable_type": "MergeRequest", "noteable_iid": mr.iid,
                "resolvable": False, "type": None, **extra}
        p.notes.append(note)
        return note

    def position_problem(mr: MergeRequest, pos: dict[str, Any]) -> str | None:
        shas = (pos.get("base_sha"), pos.get("start_sha"), pos.get("head_sha"))
        if shas != (mr.base_sha, mr.start_sha, mr.head_sha):
            return "400 Bad request - Note {:position=>[\"is incomplete\"]}"
        if pos.get("position_type") != "text" or not pos.get("old_path") or not pos.get(
                "new_path"):
            return "400 Bad request - position[old_path], position[new_path] are missing"
        path, old, new = pos["new_path"], pos.get("old_line"), pos.get("new_line")
        ok = ((new is not None and old is None and (path, new) in mr.diff.added)
              or (old is not None and new is None and (path, old) in mr.diff.removed)
              or (old is not None and new is not None and (path, old, new) in mr.diff.context))
        if not ok:
            return ("400 Bad request - Note {:line_code=>[\"can't be blank\", "
                    "\"must be a valid line code\"]}")
        return None

    def create_discussion(req: Request, p: Project, mr: MergeRequest) -> Reply:
        data = req.json() or {}
        if not data.get("body"):
            return _bad("400 Bad request - body is missing")
        position = data.get("position")
        if position is not None:
            problem = position_problem(mr, position)
            if problem:
                return _bad(problem)
        line_code = None
        if position is not None:
            digest = hashlib.sha1(position["new_path"].encode(), usedforsecurity=False)
            line_code = (f"{digest.hexdigest()}_{position.get('old_line') or ''}_"
                         f"{position.get('new_line') or ''}")
        note = note_json(p, mr, data["body"], type="DiffNote" if position else "DiscussionNote",
                         position=position, line_code=line_code, resolvable=True)
        discussion = {"id": hashlib.sha1(str(note["id"]).encode(),
                                         usedforsecurity=False).hexdigest(),
                      "individual_note": False, "notes": [note], "iid": mr.iid}
        p.discussions.append(discussion)
        return Reply(201, discussion)

    def list_notes(req: Request, p: Project, mr: MergeRequest) -> Reply:
        return gl.paginate(req, [n for n in p.notes if n["noteable_iid"] == mr.iid], 20)

    def create_note(req: Request, p: Project, mr: MergeRequest) -> Reply:
        body = (req.json() or {}).get("body")
        if not body:
            return _bad("400 Bad request - body is missing")
        return Reply(201, note_json(p, mr, body))

    def update_note(req: Request, p: Project, mr: MergeRequest) -> Reply:
        for note in p.notes:
            if note["id"] == int(req.params["note_id"]) and note["noteable_iid"] == mr.iid:
                note["body"] = (req.json() or {})["body"]
                return Reply(200, note)
        return _bad("404 Note Not Found", 404)

    def award(req: Request, p: Project, mr: MergeRequest) -> Reply:
        note_id = int(req.params["note_id"])
        if not any(n["id"] == note_id for n in p.notes):
            return _bad("404 Note Not Found", 404)
        emoji = {"id": gl.next_id(), "name": (req.json() or {})["name"], "note_id": note_id,
                 "user": gl.user_json(gl.bot_username), "awardable_type": "Note"}
        p.awards.append(emoji)
        return Reply(201, emoji)

    def list_awards(req: Request, p: Project, mr: MergeRequest) -> Reply:
        note_id = int(req.params["note_id"])
        if not any(n["id"] == note_id for n in p.notes):
            return _bad("404 Note Not Found", 404)
        return gl.paginate(req, [a for a in p.awards if a["note_id"] == note_id], 20)

    def set_status(req: Request, p: Project, _: Any) -> Reply:
        data = req.json() or {}
        state, name = data.get("state"), data.get("name") or data.get("context") or "default"
        if state not in STATES:
            return _bad("400 Bad request - state does not have a valid value")
        sha = req.params["sha"]
        previous = [s for s in p.statuses if s["sha"] == sha and s["name"] == name]
        if previous and previous[-1]["status"] == state:
            return _bad(f"Cannot transition status via :{state} from :{state}")
        status = {"id": gl.next_id(), "sha": sha, "name": name, "status": state,
                  "description": data.get("description"), "target_url": data.get("target_url")}
        p.statuses.append(status)
        return Reply(201, status)

    def list_users(req: Request) -> Reply:
        name = req.arg("username")
        return gl.paginate(req, [gl.user_json(n) for n in gl.users if n == name], 20)

    def member(req: Request, p: Project, _: Any) -> Reply:
        user_id = int(req.params["user_id"])
        if user_id not in p.members:
            return _bad("404 Not found", 404)
        username = next(n for n, i in gl.users.items() if i == user_id)
        return Reply(200, {**gl.user_json(username), "access_level": p.members[user_id]})

    def list_issues(req: Request, p: Project, _: Any) -> Reply:
        labels = set(filter(None, (req.arg("labels") or "").split(",")))
        state = req.arg("state")
        items = [i for i in p.issues.values()
                 if (state in {None, "all"} or i["state"] == state) and labels <= set(i["labels"])]
        return gl.paginate(req, items, 20)

    def create_issue(req: Request, p: Project, _: Any) -> Reply:
        data = req.json() or {}
        if not data.get("title"):
            return _bad("400 Bad request - title is missing")
        iid = max([*p.issues, 0]) + 1
        issue = {"id": gl.next_id(), "iid": iid, "project_id": p.id, "title": data["title"],
                 "description": data.get("description"), "state": "opened",
                 "labels": [x for x in str(data.get("labels", "")).split(",") if x],
                 "web_url": f"{WEB}/{p.path}/-/issues/{iid}"}
        p.issues[iid] = issue
        return Reply(201, issue)

    def update_issue(req: Request, p: Project, _: Any) -> Reply:
        issue = p.issues.get(int(req.params["issue_iid"]))
        if issue is None:
            return _bad("404 Issue Not Found", 404)
        issue.update({k: v for k, v in (req.json() or {}).items()
                      if k in {"title", "description"}})
        return Reply(200, issue)

    hook_fields = ("url", "token", "merge_requests_events", "note_events", "push_events",
                   "issues_events", "pipeline_events", "enable_ssl_verification")

    def hook_json(hook: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in hook.items() if k != "token"}  # GitLab never returns it

    def list_hooks(req: Request, p: Project, _: Any) -> Reply:
        return gl.paginate(req, [hook_json(h) for h in p.hooks.values()], 20)

    def create_hook(req: Request, p: Project, _: Any) -> Reply:
        data = req.json() or {}
        if not str(data.get("url", "")).startswith(("http://", "https://")):
            return _bad("400 Bad request - url is missing or invalid")
        hook = {"id": gl.next_id(), "project_id": p.id, "push_events": True,
                "merge_requests_events": False, "note_events": False, "issues_events": False,
                "pipeline_events": False, "enable_ssl_verification": True,
                **{k: data[k] for k in hook_fields if k in data}}
        p.hooks[hook["id"]] = hook
        return Reply(201, hook_json(hook))

    def update_hook(req: Request, p: Project, _: Any) -> Reply:
        hook = p.hooks.get(int(req.params["hook_id"]))
        if hook is None:
            return _bad("404 Not found", 404)
        hook.update({k: v for k, v in (req.json() or {}).items() if k in hook_fields})
        return Reply(200, hook_json(hook))

    proj, mrp = f"{API}/projects/{{id}}", f"{API}/projects/{{id}}/merge_requests/{{iid}}"
    for method, pattern, handler in [
        ("GET", f"{API}/user", me),
        ("GET", f"{API}/users", list_users),
        ("GET", proj, scoped(project_json)),
        ("GET", mrp, scoped(get_mr)),
        ("GET", f"{proj}/repository/files/{{path}}/raw", scoped(raw_file)),
        ("GET", f"{mrp}/versions", scoped(versions)),
        ("POST", f"{mrp}/discussions", scoped(create_discussion)),
        ("GET", f"{mrp}/notes", scoped(list_notes)),
        ("POST", f"{mrp}/notes", scoped(create_note)),
        ("PUT", f"{mrp}/notes/{{note_id}}", scoped(update_note)),
        ("POST", f"{mrp}/notes/{{note_id}}/award_emoji", scoped(award)),
        ("GET", f"{mrp}/notes/{{note_id}}/award_emoji", scoped(list_awards)),
        ("POST", f"{proj}/statuses/{{sha}}", scoped(set_status)),
        ("GET", f"{proj}/members/all/{{user_id}}", scoped(member)),
        ("GET", f"{proj}/issues", scoped(list_issues)),
        ("POST", f"{proj}/issues", scoped(create_issue)),
        ("PUT", f"{proj}/issues/{{issue_iid}}", scoped(update_issue)),
        ("GET", f"{proj}/hooks", scoped(list_hooks)),
        ("POST", f"{proj}/hooks", scoped(create_hook)),
        ("PUT", f"{proj}/hooks/{{hook_id}}", scoped(update_hook)),
    ]:
        gl.route(method, pattern, handler)
