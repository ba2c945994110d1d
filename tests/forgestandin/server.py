"""A small threaded HTTP server on 127.0.0.1 with regex routes, recording and fault modes."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Request:
    method: str
    path: str  # raw path, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    raw: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    injected: bool = False  # produced by a fault/rate-limit mode, not by a route


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int


Handler = Callable[[Request], Reply]


class StandinServer:
    """Routes requests to handlers; subclasses add authentication, validation and state."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.recorded: list[Recorded] = []
        self.lock = threading.RLock()
        self._faults: list[Reply] = []
        self._targeted: list[tuple[str, re.Pattern[str], Reply]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        regex = regex.replace("(?P<path>[^/]+)", "(?P<path>.+)")
        self._routes.append((method, re.compile(f"^{regex}$"), handler))

    def fail_next(self, status: int = 502, count: int = 1, body: Any = None,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next `count` API requests with this status instead of routing them."""
        with self.lock:
            for _ in range(count):
                self._faults.append(Reply(status, body if body is not None else
                                          {"message": "Server Error"}, dict(headers or {}),
                                          injected=True))

    def fail_matching(self, method: str, pattern: str, status: int, count: int = 1,
                      body: Any = None, headers: dict[str, str] | None = None) -> None:
        """Answer the next `count` requests of `method` whose path matches `pattern` with
        this status (e.g. a 422 on the review POST only), leaving other calls alone."""
        with self.lock:
            for _ in range(count):
                self._targeted.append((method, re.compile(pattern), Reply(
                    status, body if body is not None else {"message": "Server Error"},
                    dict(headers or {}), injected=True)))

    def _targeted_fault(self, request: Request) -> Reply | None:
        for index, (method, regex, reply) in enumerate(self._targeted):
            if method == request.method and regex.search(request.path):
                del self._targeted[index]
                return reply
        return None

    def requests_to(self, method: str, pattern: str) -> list[Recorded]:
        regex = re.compile(pattern)
        return [r for r in self.recorded if r.method == method and regex.search(r.path)]

    # -- hooks for subclasses ----------------------------------------------------------------

    def before(self, request: Request) -> Reply | None:
        """Authenticate/validate; a Reply here short-circuits routing."""
        return None

    def after(self, request: Request, reply: Reply) -> None:
        """Add headers (rate limits) or check the reply."""

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        reply = self.before(request)
        if reply is None:
            with self.lock:
                fault = self._faults.pop(0) if self._faults and not _is_git(request) else None
                fault = fault or self._targeted_fault(request)
            reply = fault or self._route(request)
        self.after(request, reply)
        body: Any = request.raw
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            body = request.json()
        with self.lock:
            self.recorded.append(Recorded(request.method, request.path, request.query,
                                          request.headers, body, reply.status))
        return reply

    def _route(self, request: Request) -> Reply:
        for method, regex, handler in self._routes:
            match = regex.match(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                with self.lock:
                    return handler(request)
        return Reply(404, {"message": "Not Found"})

    def paginate(self, request: Request, items: list[Any], default_per_page: int = 30) -> Reply:
        """One page of `items` with a Link header (next/prev/first/last) like both forges."""
        per_page = max(1, min(int(request.arg("per_page") or default_per_page), 100))
        page = max(1, int(request.arg("page") or 1))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        links = []
        for rel, number in (("next", page + 1), ("last", last), ("first", 1), ("prev", page - 1)):
            if (rel in {"next", "last"} and page < last) or (rel in {"first", "prev"} and page > 1):
                query = {k: v[-1] for k, v in request.query.items()}
                query.update(page=str(number), per_page=str(per_page))
                links.append(f'<{self.base_url}{request.path}?{urlencode(query)}>; rel="{rel}"')
        headers = {"X-Total": str(len(items)), "X-Total-Pages": str(last),
                   "X-Page": str(page), "X-Per-Page": str(per_page)}
        if page < last:
            headers["X-Next-Page"] = str(page + 1)
        if links:
            headers["Link"] = ", ".join(links)
        return Reply(200, chunk, headers)


def _is_git(request: Request) -> bool:
    return ".git/" in request.path


def _make_handler(standin: StandinServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body leave in one segment (no delayed-ACK stalls)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            raw = self._read_body()
            request = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()}, raw)
            reply = standin.dispatch(request)
            if isinstance(reply.body, bytes):
                payload, ctype = reply.body, "application/octet-stream"
            elif reply.body is None:
                payload, ctype = b"", "application/json; charset=utf-8"
            else:
                payload, ctype = json.dumps(reply.body).encode(), "application/json; charset=utf-8"
            self.send_response(reply.status)
            headers = {"Content-Type": ctype, **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return _Handler
