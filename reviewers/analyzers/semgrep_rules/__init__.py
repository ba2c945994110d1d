"""Semgrep rules kept in the project (a package so the YAML ships in the wheel)."""
