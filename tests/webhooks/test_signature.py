"""Signature and token checks, including GitHub's published test vector."""

from __future__ import annotations

from bot.webhooks.signature import Verdict, github_signature, verify_github, verify_gitlab

DOC_SECRET = "It's a Secret to Everybody"
DOC_BODY = b"Hello, World!"
DOC_DIGEST = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_signature_matches_the_documented_vector() -> None:
    assert github_signature(DOC_SECRET, DOC_BODY) == "sha256=" + DOC_DIGEST
    assert verify_github(DOC_SECRET, DOC_BODY, "sha256=" + DOC_DIGEST) is Verdict.VALID


def test_github_refusals_name_their_reason() -> None:
    header = "sha256=" + DOC_DIGEST
    assert verify_github(None, DOC_BODY, header) is Verdict.NOT_CONFIGURED
    assert verify_github("", DOC_BODY, header) is Verdict.NOT_CONFIGURED
    assert verify_github(DOC_SECRET, DOC_BODY, None) is Verdict.MISSING
    assert verify_github(DOC_SECRET, DOC_BODY, "") is Verdict.MISSING
    assert verify_github(DOC_SECRET, DOC_BODY + b" ", header) is Verdict.INVALID
    assert verify_github(DOC_SECRET, DOC_BODY, DOC_DIGEST) is Verdict.INVALID  # no prefix
    assert verify_github(DOC_SECRET, DOC_BODY, "sha1=" + DOC_DIGEST[:40]) is Verdict.INVALID
    assert verify_github(DOC_SECRET, DOC_BODY, "sha256=" + DOC_DIGEST.upper()) is Verdict.INVALID
    assert verify_github(DOC_SECRET, DOC_BODY, "sha256=é") is Verdict.INVALID


def test_gitlab_token() -> None:
    assert verify_gitlab("s3cret", "s3cret") is Verdict.VALID
    assert verify_gitlab(None, "s3cret") is Verdict.NOT_CONFIGURED
    assert verify_gitlab("s3cret", None) is Verdict.MISSING
    assert verify_gitlab("s3cret", "s3cre") is Verdict.INVALID
    assert verify_gitlab("s3cret", "s3cretX") is Verdict.INVALID
