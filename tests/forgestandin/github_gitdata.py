"""GitHub stand-in: the git data API (commits, trees, refs) and opening/listing pull requests,
writing real objects into the repository so later fetches and diffs see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.forgestandin.gitwrite import commit_info, commit_tree, exists, git, tree_with
from tests.forgestandin.server import Reply, Request

if TYPE_CHECKING:
    from tests.forgestandin.github import GitHubStandin, Repo


@dataclass
class OpenedPulls:
    """Pull requests opened through the API: number -> {title, body, head, base}."""

    by_repo: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)


def register(gh: GitHubStandin) -> OpenedPulls:
    from tests.forgestandin.github import _error

    opened = OpenedPulls()

    def commit_json(repo: Repo, sha: str) -> dict[str, Any] | None:
        info = commit_info(repo.git_dir, sha)
        if info is None:
            return None
        tree, parents, message = info
        url = f"{gh.base_url}/repos/{repo.full_name}/git/commits"
        return {"sha": sha, "node_id": f"C_{sha[:10]}", "url": f"{url}/{sha}",
                "html_url": f"https://github.example/{repo.full_name}/commit/{sha}",
                "message": message,
                "tree": {"sha": tree, "url": f"{gh.base_url}/repos/{repo.full_name}/git/trees/"
                                             f"{tree}"},
                "parents": [{"sha": p, "url": f"{url}/{p}"} for p in parents]}

    def get_commit(req: Request) -> Reply:
        data = commit_json(gh.repo_of(req), req.params["commit_sha"])
        return Reply(200, data) if data else _error(404, "Not Found")

    def create_tree(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json() or {}
        base = data.get("base_tree")
        if base and not exists(repo.git_dir, f"{base}^{{tree}}"):
            return _error(422, "Invalid tree info", [{"message": "base_tree not found"}])
        files = {e["path"]: e["content"] for e in data["tree"]}
        sha = tree_with(repo.git_dir, base, files)
        return Reply(201, {"sha": sha, "truncated": False, "tree": [],
                           "url": f"{gh.base_url}/repos/{repo.full_name}/git/trees/{sha}"})

    def create_commit(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json() or {}
        parents = list(data.get("parents", []))
        if not all(exists(repo.git_dir, f"{p}^{{commit}}") for p in [*parents]):
            return _error(422, "Parent SHA does not exist or is not a commit object")
        sha = commit_tree(repo.git_dir, data["tree"], parents, data["message"])
        return Reply(201, commit_json(repo, sha))

    def ref_json(repo: Repo, ref: str) -> dict[str, Any]:
        sha = git(repo.git_dir, "rev-parse", ref)
        return {"ref": ref, "node_id": f"REF_{sha[:8]}",
                "url": f"{gh.base_url}/repos/{repo.full_name}/git/{ref}",
                "object": {"type": "commit", "sha": sha,
                           "url": f"{gh.base_url}/repos/{repo.full_name}/git/commits/{sha}"}}

    def get_ref(req: Request) -> Reply:
        repo = gh.repo_of(req)
        ref = f"refs/{req.params['path']}"
        if not exists(repo.git_dir, ref):
            return _error(404, "Not Found")
        return Reply(200, ref_json(repo, ref))

    def create_ref(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json() or {}
        if exists(repo.git_dir, data["ref"]):
            return _error(422, "Reference already exists")
        git(repo.git_dir, "update-ref", data["ref"], data["sha"])
        return Reply(201, ref_json(repo, data["ref"]))

    def update_ref(req: Request) -> Reply:
        repo = gh.repo_of(req)
        ref, data = f"refs/{req.params['path']}", req.json() or {}
        if not exists(repo.git_dir, ref):
            return _error(422, "Reference does not exist")
        old = git(repo.git_dir, "rev-parse", ref)
        is_ancestor = git(repo.git_dir, "merge-base", old, data["sha"]) == old
        if not data.get("force") and not is_ancestor:
            return _error(422, "Update is not a fast forward")
        git(repo.git_dir, "update-ref", ref, data["sha"])
        return Reply(200, ref_json(repo, ref))

    def pull_json(repo: Repo, number: int, pull: dict[str, Any]) -> dict[str, Any]:
        sha = git(repo.git_dir, "rev-parse", pull["head"])
        return {"id": number * 11, "number": number, "state": "open", "title": pull["title"],
                "body": pull["body"], "draft": False, "merged": False,
                "user": gh.user(gh.bot_login),
                "url": f"{gh.base_url}/repos/{repo.full_name}/pulls/{number}",
                "html_url": f"https://github.example/{repo.full_name}/pull/{number}",
                "head": {"ref": pull["head"], "sha": sha,
                         "label": f"{repo.full_name.split('/')[0]}:{pull['head']}"},
                "base": {"ref": pull["base"],
                         "sha": git(repo.git_dir, "rev-parse", pull["base"])}}

    def list_pulls(req: Request) -> Reply:
        repo = gh.repo_of(req)
        owner = repo.full_name.split("/")[0]
        head, base = req.arg("head"), req.arg("base")
        items = [pull_json(repo, n, p) for n, p in opened.by_repo.get(repo.full_name, {}).items()
                 if (not head or head == f"{owner}:{p['head']}")
                 and (not base or base == p["base"])]
        return gh.paginate(req, items)

    def open_pull(req: Request) -> Reply:
        repo = gh.repo_of(req)
        data = req.json() or {}
        for ref in (data["head"], data["base"]):
            if not exists(repo.git_dir, f"refs/heads/{ref}"):
                return _error(422, "Validation Failed", [{"resource": "PullRequest",
                                                          "field": "head", "code": "invalid"}])
        mine = opened.by_repo.setdefault(repo.full_name, {})
        if any(p["head"] == data["head"] and p["base"] == data["base"] for p in mine.values()):
            return _error(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {data['head']}."}])
        number = max([*repo.issues, *repo.pulls, *mine, 0]) + 1
        mine[number] = {"title": data["title"], "body": data.get("body") or "",
                        "head": data["head"], "base": data["base"]}
        return Reply(201, pull_json(repo, number, mine[number]))

    def update_pull(req: Request) -> Reply:
        repo = gh.repo_of(req)
        pull = opened.by_repo.get(repo.full_name, {}).get(int(req.params["pull_number"]))
        if pull is None:
            return _error(404, "Not Found")
        pull.update({k: v for k, v in (req.json() or {}).items() if k in {"title", "body"}})
        return Reply(200, pull_json(repo, int(req.params["pull_number"]), pull))

    base = "/repos/{owner}/{repo}"
    for method, pattern, handler in [
        ("GET", f"{base}/git/commits/{{commit_sha}}", get_commit),
        ("POST", f"{base}/git/trees", create_tree),
        ("POST", f"{base}/git/commits", create_commit),
        ("GET", f"{base}/git/ref/{{path}}", get_ref),  # refs hold slashes: greedy `path`
        ("POST", f"{base}/git/refs", create_ref),
        ("PATCH", f"{base}/git/refs/{{path}}", update_ref),
        ("GET", f"{base}/pulls", list_pulls),
        ("POST", f"{base}/pulls", open_pull),
        ("PATCH", f"{base}/pulls/{{pull_number}}", update_pull),
    ]:
        gh.route(method, pattern, handler)
    return opened
