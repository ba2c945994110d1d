"""`reviewbot github-app manifest` and `reviewbot gitlab connect`: connect the bot to a forge.

The first prints the GitHub App manifest with the operator's public URL filled in; the
second registers the bot's webhook on one GitLab project (merge request and note events,
the configured webhook secret as its token).
"""

from __future__ import annotations

import argparse
import json

from bot.clibase import EXIT_OK, Parser, Subparsers
from bot.forges.github_app import PERMISSIONS, SUBSCRIBED_EVENTS
from reviewers.errors import ConfigError

_MANIFEST_EXAMPLES = """\
examples:
  reviewbot github-app manifest --url https://bot.example.com
  reviewbot github-app manifest --url https://bot.example.com --name acme-reviewbot --format json

The webhook URL is URL/webhooks/github. Register the App from the manifest (Settings ->
Developer settings -> GitHub Apps), then generate its private key and set its webhook
secret: they become REVIEWBOT_GITHUB_PRIVATE_KEY(_PATH) and REVIEWBOT_GITHUB_WEBHOOK_SECRET."""

_CONNECT_EXAMPLES = """\
examples:
  reviewbot gitlab connect --project 42 --url https://bot.example.com
  reviewbot gitlab connect --project acme/tools/widgets --url https://bot.example.com --format json

Uses REVIEWBOT_GITLAB_URL, REVIEWBOT_GITLAB_TOKEN (Maintainer role on the project, to manage
its hooks) and REVIEWBOT_GITLAB_WEBHOOK_SECRET (sent back by GitLab as X-Gitlab-Token).
Running it again updates the existing hook instead of adding a second one.
Exit status: 0 registered, 2 an error (missing setting, project not found, no permission)."""


def add_parser(sub: Subparsers) -> None:
    """`github-app` and `gitlab` command groups."""
    _add_github_app(sub)
    _add_gitlab(sub)


def _add_github_app(sub: Subparsers) -> None:
    p = sub.add_parser("github-app", help="GitHub App registration",
                       description="Print the GitHub App manifest for this deployment.",
                       epilog=_MANIFEST_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    appsub = p.add_subparsers(dest="app_command", required=True, parser_class=Parser)
    manifest = appsub.add_parser(
        "manifest", help="print the App manifest with your URL filled in",
        description="Print the GitHub App manifest: permissions "
                    + ", ".join(f"{name}:{level}" for name, level in PERMISSIONS.items())
                    + "; events " + ", ".join(SUBSCRIBED_EVENTS)
                    + " (installation events are implicit).",
        epilog=_MANIFEST_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    manifest.add_argument("--url", required=True,
                          help="the bot's public base URL, e.g. https://bot.example.com")
    manifest.add_argument("--name", default="reviewbot", help="App name (default: reviewbot)")
    manifest.add_argument("--format", choices=["yaml", "json"], default="yaml",
                          dest="output_format", help="output format (default: yaml)")
    manifest.set_defaults(handler=_run_manifest)


def _run_manifest(args: argparse.Namespace) -> int:
    from bot.forges.github_app import app_manifest, render_manifest

    if args.output_format == "json":
        print(json.dumps(app_manifest(args.url, args.name), indent=2))
    else:
        print(render_manifest(args.url, args.name), end="")
    return EXIT_OK


def _add_gitlab(sub: Subparsers) -> None:
    p = sub.add_parser("gitlab", help="GitLab integration",
                       description="Connect GitLab projects to the bot.",
                       epilog=_CONNECT_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    glsub = p.add_subparsers(dest="gitlab_command", required=True, parser_class=Parser)
    connect = glsub.add_parser(
        "connect", help="register the bot's webhook on a project",
        description="Register (or update) the project webhook: merge request and note events, "
                    "token = REVIEWBOT_GITLAB_WEBHOOK_SECRET.",
        epilog=_CONNECT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    connect.add_argument("--project", required=True,
                         help="project id or full path (group/subgroup/name)")
    connect.add_argument("--url", required=True,
                         help="the bot's public base URL; the hook is URL/webhooks/gitlab")
    connect.add_argument("--insecure", action="store_true",
                         help="let GitLab skip TLS verification of the bot's certificate")
    connect.add_argument("--format", choices=["text", "json"], default="text",
                         dest="output_format", help="output format (default: text)")
    connect.set_defaults(handler=_run_connect)


def _run_connect(args: argparse.Namespace) -> int:
    from bot.forges.github_app import validate_base_url
    from bot.forges.gitlab_hooks import connect_project, gitlab_webhook_url
    from bot.settings import get_settings

    settings = get_settings()
    if settings.gitlab_token is None:
        raise ConfigError("REVIEWBOT_GITLAB_TOKEN is not set (a token with the Maintainer "
                          "role on the project)")
    if settings.gitlab_webhook_secret is None:
        raise ConfigError("REVIEWBOT_GITLAB_WEBHOOK_SECRET is not set (generate one: "
                          "python -c 'import secrets; print(secrets.token_hex(32))')")
    hook = connect_project(settings.gitlab_url, settings.gitlab_token.get_secret_value(),
                           args.project, gitlab_webhook_url(validate_base_url(args.url)),
                           settings.gitlab_webhook_secret.get_secret_value(),
                           verify_tls=not args.insecure)
    if args.output_format == "json":
        print(json.dumps({"project": hook.project, "hook_id": hook.hook_id, "url": hook.url,
                          "created": hook.created,
                          "events": ["merge_requests_events", "note_events"]}))
    else:
        verb = "registered" if hook.created else "updated"
        print(f"{verb} webhook {hook.hook_id} on {hook.project}: {hook.url} "
              "(merge request and note events)")
    return EXIT_OK
