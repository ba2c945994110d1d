"""Load `base...head` of a local repository as a `ReviewDiff`: git's patch, hunks by unidiff.

Git's extended headers give paths, status and modes (parsed here, so odd file names cannot
confuse a regex); unidiff parses the hunks of each file. Each file is decoded on its own:
UTF-8, or Latin-1 when that fails, so no byte sequence can crash the review.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from itertools import pairwise

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from reviewers.diff import FileDiff, FileStatus, Hunk, HunkLine, LineKind, ReviewDiff
from reviewers.errors import RepositoryError
from reviewers.gitrepo import (
    GITLINK_MODE,
    MAX_BLOB_BYTES,
    SYMLINK_MODE,
    LocalRepository,
    stream_git,
)
from reviewers.languages import language_for

log = logging.getLogger(__name__)

MAX_PATCH_BYTES = 32 * 1024 * 1024  # beyond this the diff is cut at a file boundary, noted
MAX_DIFF_FILES = 3000  # GitHub's own cap on a pull request's file list
DIFF_MEMORY_BYTES = 1024 * 1024 * 1024  # git queues every changed file before printing
DIFF_TIMEOUT_S = 120.0

# `-C` finds copies among the files the change modifies; --find-copies-harder would compare
# every added file with every file of the repository, too costly on large repositories.
_DIFF_ARGS = (
    # files over the blob limit diff as "binary" (not read into memory, noted, not reviewed)
    "-c", "core.quotePath=false", "-c", f"core.bigFileThreshold={MAX_BLOB_BYTES}",
    "diff", "--no-color", "--no-ext-diff", "--no-textconv",
    "--no-relative", "--submodule=short", "--ignore-submodules=none", "-M", "-C",
    "--unified=3", "--src-prefix=a/", "--dst-prefix=b/", "--full-index",
)
_FILE_START = re.compile(rb"^diff --git ", re.MULTILINE)
_C_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12,
              ord("r"): 13, ord('"'): 34, ord("\\"): 92}
_KINDS = {"+": LineKind.ADDED, "-": LineKind.REMOVED, " ": LineKind.CONTEXT}


def load_diff(repo: LocalRepository, base: str, head: str) -> ReviewDiff:
    """The diff of `base...head`: from the merge base of the two to `head`.

    `ReviewDiff.base_sha` is that merge base (the revision the old-side line numbers refer to).
    """
    head_sha = repo.resolve(head)
    merge_base = repo.merge_base(base, head_sha)
    patch, stderr, truncated = stream_git(repo.root, [*_DIFF_ARGS, merge_base, head_sha, "--"],
                                  max_bytes=MAX_PATCH_BYTES, timeout_s=DIFF_TIMEOUT_S,
                                  max_memory=DIFF_MEMORY_BYTES)
    if truncated:  # keep whole files only: the last one was cut
        cut = max(0, patch.rfind(b"\ndiff --git ") + 1)
        patch = patch[:cut]
    starts = [m.start() for m in _FILE_START.finditer(patch)]
    if len(starts) > MAX_DIFF_FILES:
        patch, truncated = patch[:starts[MAX_DIFF_FILES]], True
    diff = parse_git_diff(patch, base_sha=merge_base, head_sha=head_sha)
    if truncated:
        diff.notes.append(f"the diff is larger than {MAX_PATCH_BYTES // (1024 * 1024)} MiB "
                          f"or {MAX_DIFF_FILES} files: only its first {len(diff.files)} "
                          "file(s) were reviewed")
    if b"rename detection was skipped" in stderr:
        diff.notes.append("git skipped rename detection (too many files): renamed files "
                          "show as deleted and added")
    if not diff.files:
        diff.notes.append(f"no changes between {base} and {head}")
    log.debug("diff loaded", extra={"base": merge_base, "head": head_sha,
                                    "files": len(diff.files)})
    return diff


def parse_git_diff(data: bytes, *, base_sha: str, head_sha: str) -> ReviewDiff:
    """Parse the bytes of `git diff` (with the options `load_diff` uses) into a ReviewDiff."""
    starts = [match.start() for match in _FILE_START.finditer(data)]
    files: list[FileDiff] = []
    texts: list[str] = []
    for start, end in pairwise([*starts, len(data)]):
        file_diff, text = _parse_file(data[start:end])
        files.append(file_diff)
        texts.append(text)
    return ReviewDiff(base_sha=base_sha, head_sha=head_sha, files=_join_type_changes(files),
                      patch_text="".join(texts))


@dataclass(slots=True)
class _Header:
    old_path: str | None = None
    new_path: str | None = None
    status: FileStatus = FileStatus.MODIFIED
    old_mode: str | None = None
    new_mode: str | None = None
    old_oid: str = ""
    new_oid: str = ""
    similarity: str = ""
    binary: bool = False


def _unquote(raw: bytes) -> bytes:
    """Undo git's C-style quoting of a path ("a/x\\ty" -> a/x<TAB>y); unquoted stays as is."""
    if not (len(raw) >= 2 and raw.startswith(b'"') and raw.endswith(b'"')):
        return raw
    out = bytearray()
    body, i = raw[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == 0x5C and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if 0x30 <= nxt <= 0x37 and i + 4 <= len(body):
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return bytes(out)


def _path(raw: bytes, prefix: bytes) -> str:
    """A header path without git's a/ or b/ prefix, as text (undecodable bytes escaped)."""
    unquoted = _unquote(raw)
    return unquoted.removeprefix(prefix).decode("utf-8", "surrogateescape")


def _split_git_line(rest: bytes) -> tuple[bytes, bytes] | None:
    """The two paths of `diff --git A B`; None when ambiguous (renames carry their own lines)."""
    if rest.startswith(b'"'):
        end = 1
        while end < len(rest) and rest[end] != 0x22:
            end += 2 if rest[end] == 0x5C else 1
        return rest[:end + 1], rest[end + 2:]
    if rest.endswith(b'"') and b' "' in rest:
        cut = rest.rfind(b' "')
        return rest[:cut], rest[cut + 1:]
    half = (len(rest) - 1) // 2
    a_side, b_side = rest[:half], rest[half + 1:]
    if rest[half:half + 1] == b" " and a_side[2:] == b_side[2:]:
        return a_side, b_side
    return None


def _parse_header(lines: list[bytes]) -> _Header:
    header = _Header()
    git_paths = _split_git_line(lines[0].removeprefix(b"diff --git "))
    minus = plus = None
    for line in lines[1:]:
        if line.startswith(b"--- "):
            minus = line[4:]
        elif line.startswith(b"+++ "):
            plus = line[4:]
        elif line.startswith((b"rename from ", b"copy from ")):
            header.old_path = _path(line.split(b" ", 2)[2], b"")
            header.status = FileStatus.RENAMED if line[0] == 0x72 else FileStatus.COPIED
        elif line.startswith((b"rename to ", b"copy to ")):
            header.new_path = _path(line.split(b" ", 2)[2], b"")
        elif line.startswith(b"new file mode "):
            header.status, header.new_mode = FileStatus.ADDED, line[14:].decode("ascii")
        elif line.startswith(b"deleted file mode "):
            header.status, header.old_mode = FileStatus.DELETED, line[18:].decode("ascii")
        elif line.startswith(b"old mode "):
            header.old_mode = line[9:].decode("ascii")
        elif line.startswith(b"new mode "):
            header.new_mode = line[9:].decode("ascii")
        elif line.startswith(b"similarity index "):
            header.similarity = line[17:].decode("ascii")
        elif line.startswith(b"index "):
            oids, _, mode = line[6:].decode("ascii").partition(" ")
            header.old_oid, _, header.new_oid = oids.partition("..")
            if mode and header.status is not FileStatus.ADDED and header.old_mode is None:
                header.old_mode = mode
            if mode and header.status is not FileStatus.DELETED and header.new_mode is None:
                header.new_mode = mode
        elif line.startswith(b"Binary files ") or line == b"GIT binary patch":
            header.binary = True
    if header.old_path is None:
        if minus is not None and minus != b"/dev/null":
            header.old_path = _path(minus.removesuffix(b"\t"), b"a/")
        elif git_paths is not None and header.status is not FileStatus.ADDED:
            header.old_path = _path(git_paths[0], b"a/")
    if header.new_path is None:
        if plus is not None and plus != b"/dev/null":
            header.new_path = _path(plus.removesuffix(b"\t"), b"b/")
        elif git_paths is not None and header.status is not FileStatus.DELETED:
            header.new_path = _path(git_paths[1], b"b/")
    return header


def _decode_body(body: bytes, notes: list[str]) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        notes.append("not valid UTF-8: shown decoded as Latin-1")
        return body.decode("latin-1")


def _parse_hunks(path: str, body: str, notes: list[str]) -> list[Hunk]:
    lines = [line + "\n" for line in body.split("\n")]
    if lines and lines[-1] == "\n":
        lines.pop()  # the text after the final newline
    try:
        patched = PatchSet(["--- a/f\n", "+++ b/f\n", *lines])
    except UnidiffParseError as exc:
        raise RepositoryError(f"could not parse git's diff of {path}: {exc}") from exc
    hunks: list[Hunk] = []
    crlf = False
    kinds = _KINDS
    for source_hunk in patched[0] if patched else []:
        hunk_lines: list[HunkLine] = []
        append = hunk_lines.append
        for line in source_hunk:
            kind, text = line.line_type, line.value
            if kind == "\\":
                previous = hunk_lines[-1].kind if hunk_lines else LineKind.CONTEXT
                side = {LineKind.ADDED: "head", LineKind.REMOVED: "base"}.get(previous, "both")
                notes.append(f"no newline at end of file ({side} version)")
                continue
            if text[-1:] == "\n":
                text = text[:-1]
            if text[-1:] == "\r":
                text, crlf = text[:-1], True
            append(HunkLine(kinds[kind], text, line.source_line_no, line.target_line_no))
        hunks.append(Hunk(source_hunk.source_start, source_hunk.source_length,
                          source_hunk.target_start, source_hunk.target_length,
                          source_hunk.section_header.rstrip("\r\n"), hunk_lines))
    if crlf:
        notes.append("CRLF line endings (the \\r is stripped from the lines)")
    return hunks


def _parse_file(chunk: bytes) -> tuple[FileDiff, str]:
    first_hunk = chunk.find(b"\n@@ ")
    head_bytes = chunk if first_hunk < 0 else chunk[:first_hunk + 1]
    body_bytes = b"" if first_hunk < 0 else chunk[first_hunk + 1:]
    header = _parse_header(head_bytes.rstrip(b"\n").split(b"\n"))
    notes: list[str] = []
    body = _decode_body(body_bytes, notes)
    text = head_bytes.decode("utf-8", "replace") + body
    path = header.new_path or header.old_path or ""
    modes = {header.old_mode, header.new_mode}
    file_diff = FileDiff(
        path=path,
        old_path=None if header.status is FileStatus.ADDED else header.old_path,
        status=header.status, is_binary=header.binary, is_submodule=GITLINK_MODE in modes,
        old_mode=header.old_mode, new_mode=header.new_mode, language=language_for(path),
        notes=notes)
    if header.status in (FileStatus.RENAMED, FileStatus.COPIED):
        verb = "renamed" if header.status is FileStatus.RENAMED else "copied"
        change = "without changes" if header.similarity == "100%" else (
            f"similarity {header.similarity}")
        notes.append(f"{verb} from {header.old_path} ({change})")
    if file_diff.is_submodule:
        notes.append(f"submodule: {header.old_oid[:12] or 'none'} -> "
                     f"{header.new_oid[:12] or 'none'}; not reviewed")
        return file_diff, text
    if header.binary:
        notes.append("binary file; not reviewed")
        return file_diff, text
    if SYMLINK_MODE in modes:
        notes.append("symlink (its content is the link target)")
    if header.old_mode and header.new_mode and header.old_mode != header.new_mode:
        notes.append(f"mode changed {header.old_mode} -> {header.new_mode}")
    file_diff.hunks = _parse_hunks(path, body, notes)
    if not file_diff.hunks and header.status is FileStatus.ADDED:
        notes.append("empty file")
    return file_diff, text


def _join_type_changes(files: list[FileDiff]) -> list[FileDiff]:
    """Git shows a type change (file <-> symlink/submodule) as a deletion and an addition."""
    joined: list[FileDiff] = []
    for file_diff in files:
        previous = joined[-1] if joined else None
        if (previous is not None and previous.status is FileStatus.DELETED
                and file_diff.status is FileStatus.ADDED and previous.path == file_diff.path):
            file_diff.status = FileStatus.MODIFIED
            file_diff.old_path = previous.old_path
            file_diff.old_mode = previous.old_mode
            file_diff.notes.insert(0, f"type changed: mode {previous.old_mode} -> "
                                      f"{file_diff.new_mode}")
            joined[-1] = file_diff
        else:
            joined.append(file_diff)
    return joined
