"""The digest as plain JSON data (`reviewbot digest --format json`), for scripts and CI."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from bot.digest.compute import DigestData
from bot.history.queries import FindingCounts


def _counts(counts: FindingCounts) -> dict[str, Any]:
    return {"total": counts.total, "by_severity": counts.by_severity,
            "by_category": counts.by_category, "by_cwe": counts.by_cwe}


def digest_json(data: DigestData) -> dict[str, Any]:
    """Every figure of the digest; rates are fractions, latencies seconds, None when unknown."""
    return {
        "scope": data.scope.name,
        "kind": data.scope.kind,
        "week": data.week.label,
        "period_start": data.week.start.isoformat(),
        "period_end": data.week.end.isoformat(),
        "baseline_weeks": len(data.history) - 1,
        "figures": {f.key: {"label": f.label, "unit": f.unit, "current": f.current,
                            "baseline": f.baseline, "change": f.change}
                    for f in data.figures},
        "introduced": _counts(data.introduced),
        "fixed": _counts(data.fixed),
        "generated_tests": {"kept": data.tests.kept, "discarded": data.tests.discarded},
        "top_open_findings": [asdict(f) for f in data.top_open],
        "noisiest_rules": [{"rule": r.key, "posted": r.posted, "accepted": r.accepted,
                            "dismissed": r.dismissed, "dismissal_rate": r.dismissal_rate}
                           for r in data.noisiest_rules],
        "merged_tests": [asdict(t) for t in data.merged_tests],
        "hot_files": [{"path": path, "findings": n} for path, n in data.hot_files],
        "generated_at": data.generated_at.isoformat(),
    }
