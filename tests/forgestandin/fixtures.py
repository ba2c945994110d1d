"""pytest fixtures: a running GitHub or GitLab stand-in per test, strict about violations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import FIXTURES
from tests.forgestandin.github import GitHubStandin
from tests.forgestandin.gitlab import GitLabStandin
from tests.forgestandin.openapi import OpenAPISpec, load_spec

OPENAPI = FIXTURES / "github-openapi" / "api.github.com.json.gz"


@dataclass(frozen=True)
class AppKey:
    """A throwaway GitHub App key pair (PEM strings)."""

    private_pem: str
    public_pem: str


@pytest.fixture(scope="session")
def github_openapi() -> OpenAPISpec:
    return load_spec(OPENAPI)


def make_app_key() -> AppKey:
    """A fresh RSA key pair, as a GitHub App's private key and the public half GitHub keeps."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return AppKey(private, public)


@pytest.fixture(scope="session")
def github_app_key() -> AppKey:
    return make_app_key()


@pytest.fixture
def github_standin(github_openapi: OpenAPISpec, github_app_key: AppKey) -> Iterator[GitHubStandin]:
    """A GitHub stand-in for App id 4242; fails the test if any request broke the OpenAPI
    description (tests that provoke violations on purpose clear `violations`)."""
    standin = GitHubStandin(github_openapi, "4242", github_app_key.public_pem)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
    assert standin.violations == [], standin.violations


@pytest.fixture
def gitlab_standin() -> Iterator[GitLabStandin]:
    standin = GitLabStandin()
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()
