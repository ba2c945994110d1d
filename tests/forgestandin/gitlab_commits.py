"""GitLab stand-in: commits with file actions, branches, compare, and opening/listing merge
requests, writing real objects into the project's repository."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from tests.forgestandin.gitwrite import commit_info, commit_tree, exists, git, tree_with
from tests.forgestandin.server import Reply, Request

if TYPE_CHECKING:
    from tests.forgestandin.gitlab import GitLabStandin, MergeRequest, Project

WEB = "https://gitlab.example"


def register(gl: GitLabStandin) -> dict[int, dict[str, Any]]:
    """Routes; returns the merge requests opened through the API (iid -> fields)."""
    from tests.forgestandin.gitlab import API, _bad

    opened: dict[int, dict[str, Any]] = {}

    def project(req: Request) -> Project | None:
        return gl.project_of(req)

    def commit_json(p: Project, sha: str) -> dict[str, Any] | None:
        info = commit_info(p.git_dir, sha)
        if info is None:
            return None
        _, parents, message = info
        return {"id": sha, "short_id": sha[:8], "title": message.splitlines()[0] if message
                else "", "message": message, "parent_ids": parents,
                "web_url": f"{WEB}/{p.path}/-/commit/{sha}"}

    def get_commit(req: Request) -> Reply:
        p = project(req)
        data = commit_json(p, req.params["sha"]) if p else None
        return Reply(200, data) if data else _bad("404 Commit Not Found", 404)

    def get_branch(req: Request) -> Reply:
        p = project(req)
        name = unquote(req.params["branch"])
        if p is None or not exists(p.git_dir, f"refs/heads/{name}"):
            return _bad("404 Branch Not Found", 404)
        sha = git(p.git_dir, "rev-parse", f"refs/heads/{name}")
        return Reply(200, {"name": name, "commit": commit_json(p, sha), "protected": False,
                           "web_url": f"{WEB}/{p.path}/-/tree/{name}"})

    def compare(req: Request) -> Reply:
        p = project(req)
        old, new = req.arg("from") or "", req.arg("to") or ""
        if p is None or not (exists(p.git_dir, old) and exists(p.git_dir, new)):
            return _bad("404 Ref Not Found", 404)
        names = git(p.git_dir, "diff", "--name-status", "--no-renames", old, new).splitlines()
        diffs = [{"old_path": line.split("\t")[1], "new_path": line.split("\t")[1],
                  "new_file": line[0] == "A", "deleted_file": line[0] == "D",
                  "renamed_file": False} for line in names if line]
        return Reply(200, {"commit": commit_json(p, git(p.git_dir, "rev-parse", new)),
                           "diffs": diffs, "compare_same_ref": old == new})

    def create_commit(req: Request) -> Reply:
        p = project(req)
        if p is None:
            return _bad("404 Project Not Found", 404)
        data = req.json() or {}
        branch, start = data.get("branch"), data.get("start_sha") or data.get("start_branch")
        if not branch or not data.get("commit_message") or not data.get("actions"):
            return _bad("400 Bad request - branch, commit_message, actions are missing")
        base = start or f"refs/heads/{branch}"
        if not exists(p.git_dir, f"{base}^{{commit}}"):
            return _bad("404 Start Not Found", 404)
        if exists(p.git_dir, f"refs/heads/{branch}") and start and not data.get("force"):
            return _bad(f"A branch called '{branch}' already exists")
        files = {}
        for action in data["actions"]:
            present = subprocess.run(["git", "cat-file", "-e", f"{base}:{action['file_path']}"],
                                     cwd=p.git_dir, capture_output=True,
                                     check=False).returncode == 0
            if action["action"] == "create" and present:
                return _bad("A file with this name already exists")
            if action["action"] not in ("create", "update"):
                return _bad(f"action {action['action']} is not modelled by the stand-in")
            files[action["file_path"]] = action["content"]
        parent = git(p.git_dir, "rev-parse", f"{base}^{{commit}}")
        tree = tree_with(p.git_dir, git(p.git_dir, "rev-parse", f"{parent}^{{tree}}"), files)
        sha = commit_tree(p.git_dir, tree, [parent], data["commit_message"])
        git(p.git_dir, "update-ref", f"refs/heads/{branch}", sha)
        return Reply(201, commit_json(p, sha))

    def mr_json(p: Project, iid: int, fields: dict[str, Any]) -> dict[str, Any]:
        return {"id": iid * 7, "iid": iid, "project_id": p.id, "title": fields["title"],
                "description": fields["description"], "state": "opened", "draft": False,
                "author": gl.user_json(gl.bot_username),
                "source_branch": fields["source_branch"],
                "target_branch": fields["target_branch"],
                "sha": git(p.git_dir, "rev-parse", f"refs/heads/{fields['source_branch']}"),
                "web_url": f"{WEB}/{p.path}/-/merge_requests/{iid}"}

    def list_mrs(req: Request) -> Reply:
        p = project(req)
        if p is None:
            return _bad("404 Project Not Found", 404)
        source, target = req.arg("source_branch"), req.arg("target_branch")
        items = [mr_json(p, iid, f) for iid, f in opened.items()
                 if f["project"] == p.path and (not source or f["source_branch"] == source)
                 and (not target or f["target_branch"] == target)]
        return gl.paginate(req, items, 20)

    def create_mr(req: Request) -> Reply:
        p = project(req)
        if p is None:
            return _bad("404 Project Not Found", 404)
        data = req.json() or {}
        for ref in (data.get("source_branch"), data.get("target_branch")):
            if not ref or not exists(p.git_dir, f"refs/heads/{ref}"):
                return _bad(f"400 Bad request - branch {ref!r} does not exist")
        if any(f["project"] == p.path and f["source_branch"] == data["source_branch"]
               and f["target_branch"] == data["target_branch"] for f in opened.values()):
            return _bad("Another open merge request already exists for this source branch",
                        409)
        iid = max([*p.mrs, *opened, 0]) + 1
        opened[iid] = {"project": p.path, "title": data["title"],
                       "description": data.get("description") or "",
                       "source_branch": data["source_branch"],
                       "target_branch": data["target_branch"]}
        return Reply(201, mr_json(p, iid, opened[iid]))

    def update_mr(req: Request) -> Reply:
        p = project(req)
        fields = opened.get(int(req.params["iid"]))
        if p is None or fields is None:
            return _bad("404 Not found", 404)
        fields.update({k: v for k, v in (req.json() or {}).items()
                       if k in {"title", "description"}})
        return Reply(200, mr_json(p, int(req.params["iid"]), fields))

    proj = f"{API}/projects/{{id}}"
    for method, pattern, handler in [
        ("GET", f"{proj}/repository/commits/{{sha}}", get_commit),
        ("POST", f"{proj}/repository/commits", create_commit),
        ("GET", f"{proj}/repository/branches/{{branch}}", get_branch),
        ("GET", f"{proj}/repository/compare", compare),
        ("GET", f"{proj}/merge_requests", list_mrs),
        ("POST", f"{proj}/merge_requests", create_mr),
        ("PUT", f"{proj}/merge_requests/{{iid}}", update_mr),
    ]:
        gl.route(method, pattern, handler)
    return opened


__all__ = ["MergeRequest", "register"]
