"""Repository context for a diff: enclosing code, referenced definitions, tests, conventions.

Public API: `build_context(tree, diff, *, limits=None) -> ContextPack`.
"""

from reviewers.context.builder import build_context
from reviewers.context.model import ContextItem, ContextKind, ContextLimits, ContextPack

__all__ = ["ContextItem", "ContextKind", "ContextLimits", "ContextPack", "build_context"]
