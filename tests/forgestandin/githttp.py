"""Serves git repositories over smart HTTP through the real `git http-backend` CGI."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from tests.forgestandin.server import Reply, Request


def basic_token(headers: dict[str, str]) -> str | None:
    """The password of an `Authorization: Basic` header (the token), if any."""
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def serve_git(request: Request, project_root: Path) -> Reply:
    """Run one smart-HTTP request (info/refs, git-upload-pack) against `project_root`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": request.path,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": "&".join(f"{k}={v[-1]}" for k, v in request.query.items()),
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(request.raw)),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_USER": "x-access-token",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "uploadpack.allowAnySHA1InWant",
        "GIT_CONFIG_VALUE_0": "true",
        "GIT_CONFIG_KEY_1": "safe.directory",
        "GIT_CONFIG_VALUE_1": "*",
    }
    if "git-protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["git-protocol"]
    if "content-encoding" in request.headers:  # git gzips large negotiation requests
        env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
    done = subprocess.run(["git", "http-backend"], input=request.raw, env=env,
                          capture_output=True, check=False)
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    if not _:
        head, _, body = done.stdout.partition(b"\n\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    headers.pop("Content-Length", None)
    return Reply(status, body, headers)
