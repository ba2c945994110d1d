"""`reviewbot doctor`: check settings, database, broker, engine, forges and sandbox; say how
to fix what is wrong."""

from __future__ import annotations

import argparse
import json

from bot.clibase import EXIT_FINDINGS, EXIT_OK, Subparsers

_EXAMPLES = """\
examples:
  reviewbot doctor                      check this deployment, one line per check
  reviewbot doctor --format json        the same as JSON (for scripts and CI)
  kubectl exec deploy/reviewbot-api -- reviewbot doctor

Checks: settings, database (reachable, migrated), broker, every engine replica (reachable,
serves REVIEWBOT_ENGINE_MODEL, max_model_len >= REVIEWBOT_MAX_MODEL_LEN), forge credentials
(GitHub App key, GitLab token) and the test sandbox (bubblewrap).
Exit status: 0 nothing failed (warnings allowed), 1 at least one check failed, 2 an error."""

_MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser("doctor", help="check that this deployment can review PRs",
                       description="Check settings, database, broker, engine replicas, forge "
                                   "credentials and the sandbox; print what is wrong and how "
                                   "to fix it.",
                       epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", choices=["text", "json"], default="text", dest="output_format",
                   help="output format (default: text)")
    p.set_defaults(handler=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    from bot.doctor import Status, load_settings, run_checks
    from bot.logs import SecretRedactor, configured_secrets

    settings, settings_results = load_settings()
    checks = run_checks(settings, settings_results)
    redactor = SecretRedactor(configured_secrets(settings) if settings else ())
    failed = any(check.status is Status.FAIL for check in checks)
    if args.output_format == "json":
        text = json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=2)
        print(redactor.redact(text))
    else:
        for check in checks:
            print(redactor.redact(f"{_MARKS[check.status.value]}  {check.name}: {check.detail}"))
            if check.fix and check.status in (Status.FAIL, Status.WARN):
                print(redactor.redact(f"      fix: {check.fix}"))
        print("all checks passed" if not failed else "some checks failed: fix them in order")
    return EXIT_FINDINGS if failed else EXIT_OK
