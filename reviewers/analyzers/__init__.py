"""Static analyzers (ruff, bandit, secrets, semgrep) run on the changed files of a diff."""

from reviewers.analyzers.bandit import BanditAnalyzer, bandit_severity
from reviewers.analyzers.base import Analyzer, AnalyzerError, AnalyzerResult
from reviewers.analyzers.ruff import RuffAnalyzer
from reviewers.analyzers.runner import default_analyzers, run_analyzers
from reviewers.analyzers.secrets import SecretsAnalyzer
from reviewers.analyzers.semgrep import SemgrepAnalyzer

__all__ = [
    "Analyzer",
    "AnalyzerError",
    "AnalyzerResult",
    "BanditAnalyzer",
    "RuffAnalyzer",
    "SecretsAnalyzer",
    "SemgrepAnalyzer",
    "bandit_severity",
    "default_analyzers",
    "run_analyzers",
]
