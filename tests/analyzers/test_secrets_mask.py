"""`mask_secrets`: credentials masked in free text, ordinary code and prose left alone."""

from __future__ import annotations

import pytest

from reviewers.secrets_mask import mask_secrets, mask_value


@pytest.mark.parametrize("secret", [
    "ghp_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2",
    "ghs_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz0Xc2",
    "glpat-Xk9mQ2vL8pR4tZ7wNq3e",
    "AKIAIOSFODNN7EXAMPLE",
    "xoxb-1234567890-abcdefghij",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
])
def test_known_token_shapes_are_masked_anywhere(secret: str) -> None:
    text = f"clone failed with token {secret}: 401 Unauthorized"

    masked = mask_secrets(text)

    assert secret not in masked
    assert masked == f"clone failed with token {mask_value(secret)}: 401 Unauthorized"


def test_keyword_secrets_and_url_credentials_are_masked() -> None:
    text = ('password: "Xk9#mQ2vL8pR4tZ7wN"\n'
            'url = "https://deploy:pa55word-Zq8@db.internal/app"')

    masked = mask_secrets(text)

    assert "Xk9#mQ2vL8pR4tZ7wN" not in masked
    assert "pa55word-Zq8" not in masked
    assert masked.splitlines()[1] == 'url = "https://deploy:' + mask_value("pa55word-Zq8") \
        + '@db.internal/app"'


def test_a_private_key_block_keeps_its_armour_and_lines() -> None:
    body = ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunV",
            "IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPg"]
    text = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + \
        "\n-----END RSA PRIVATE KEY-----"

    masked = mask_secrets(text).splitlines()

    assert masked == ["-----BEGIN RSA PRIVATE KEY-----", mask_value(body[0]),
                      mask_value(body[1]), "-----END RSA PRIVATE KEY-----"]


@pytest.mark.parametrize("text", [
    "x = compute_value(3) + other_thing  # a comment",
    'logger.info("run started", extra={"run": run_id})',
    "token = get_token()",
    "password = os.environ['DB_PASSWORD']",
    "src/reviewers/analyzers/secrets/detector/module_name.py:12",
    "head 3f786850e387550fdab836ed7e6dc881de23001b",
    'request_id = "123e4567-e89b-12d3-a456-426614174000"',
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_secrets(text) == text


def test_mask_value_shows_a_prefix_only_for_long_secrets() -> None:
    assert mask_value("AKIAIOSFODNN7EXAMPLE") == "AKIA…(20 chars)"
    assert mask_value("hunter2") == "…(7 chars)"
