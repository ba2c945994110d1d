"""The programming language of a file, told from its name."""

from __future__ import annotations

from pathlib import PurePosixPath

_BY_SUFFIX = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "typescript",
    ".go": "go",
    ".java": "java",
    ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala",
    ".rb": "ruby",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".cs": "csharp",
    ".php": "php",
    ".swift": "swift",
    ".m": "objective-c",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".sql": "sql",
    ".html": "html", ".htm": "html",
    ".css": "css", ".scss": "scss",
    ".yml": "yaml", ".yaml": "yaml",
    ".json": "json",
    ".toml": "toml",
    ".md": "markdown", ".rst": "restructuredtext",
    ".tf": "terraform",
    ".proto": "protobuf",
}
_BY_NAME = {
    "dockerfile": "dockerfile",
    "makefile": "makefile",
    "gnumakefile": "makefile",
    "jenkinsfile": "groovy",
}


def language_for(path: str) -> str | None:
    """"python", "javascript", "typescript", "go", "java", ... or None when unknown."""
    name = PurePosixPath(path).name
    lowered = name.lower()
    if lowered in _BY_NAME or lowered.startswith("dockerfile."):
        return _BY_NAME.get(lowered, "dockerfile")
    return _BY_SUFFIX.get(PurePosixPath(lowered).suffix)
