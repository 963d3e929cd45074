"""Secrets recognised by their value, whatever the variable is called, and by their name.

Owns: what a plaintext value that *is* a secret looks like (PEM private keys, well-known key
formats, service-account JSON and base64 of it, URLs with a password, long high-entropy
strings) and when a secret-looking *name* is only a setting (``PASSWORD_MIN_LENGTH=12``).
Used by the App Runner and Vercel policies; the formats are the providers' documented ones:

- AWS access key ids, ``AKIA``/``ASIA`` + 16 upper-case letters or digits:
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
- Stripe secret and restricted keys, ``sk_live_``/``rk_live_`` (and ``_test_``):
  https://docs.stripe.com/keys
- GitHub tokens, ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_`` and ``github_pat_``:
  https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
- Slack tokens, ``xoxb-``/``xoxp-``/``xoxa-``/``xoxr-``/``xoxs-``/``xoxe-``:
  https://api.slack.com/concepts/token-types
- Google API keys, ``AIza`` + 35 characters, and service-account key files (JSON with
  ``"type": "service_account"`` and ``private_key``):
  https://cloud.google.com/iam/docs/keys-create-delete
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

_PEM = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    (
        "a Stripe secret key",
        re.compile(r"(?<![A-Za-z0-9])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}"),
    ),
    (
        "a GitHub token",
        re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})"),
    ),
    ("a Slack token", re.compile(r"(?<![A-Za-z0-9])xox[abeoprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
)
# scheme://[user]:password@host: a password in a URL, with or without a user name.
URL_WITH_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-.~]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")

# Defaults of the policies' config (see their schemas).
MIN_ENTROPY_LENGTH = 32
MIN_BITS_PER_CHAR = 4.0
SETTING_WORDS = [
    "MIN",
    "MAX",
    "LENGTH",
    "LEN",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "AGE",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "ENABLED",
    "DISABLED",
    "REQUIRED",
    "COUNT",
    "SIZE",
    "ATTEMPTS",
    "RETRIES",
    "ALGORITHM",
    "ALG",
    "ISSUER",
    "AUDIENCE",
    "HEADER",
    "ROTATION",
    "POLICY",
    "COMPLEXITY",
    "STRENGTH",
    "ROUNDS",
    "COST",
]
_SETTING_VALUE = re.compile(
    r"^(?:-?\d+(?:\.\d+)?[a-z]{0,3}|true|false|yes|no|on|off|[A-Za-z0-9_.:-]{1,24})$",
    re.IGNORECASE,
)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def high_entropy(
    value: str,
    min_length: float = MIN_ENTROPY_LENGTH,
    min_bits: float = MIN_BITS_PER_CHAR,
) -> bool:
    """A long random-looking token: no spaces, no URL or ARN, and as random as a key.

    Hex (e.g. a 256-bit key as 64 hex digits) can carry at most 4 bits a character, so it
    needs 3 bits and at least 40 digits; anything else needs `min_bits` and both letters
    and digits (an identifier such as a long CamelCase name has no digits)."""
    text = value.strip()
    if len(text) < min_length or not _TOKEN_CHARS.match(text) or text.startswith("arn:"):
        return False
    if _HEX.match(text):
        return len(text) >= 40 and entropy(text) >= 3.0
    has_digit = any(c.isdigit() for c in text)
    has_letter = any(c.isalpha() for c in text)
    return has_digit and has_letter and entropy(text) >= min_bits


def _service_account(text: str) -> bool:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return False
    try:
        data = json.loads(stripped)
    except ValueError:
        # Not valid JSON (cut, or single quotes): its keys still give it away.
        return bool(re.search(r"""["']private_key["']\s*:""", stripped)) or (
            "service_account" in stripped and "client_email" in stripped
        )
    return isinstance(data, Mapping) and (
        data.get("type") == "service_account" or "private_key" in data
    )


def _decoded(value: str) -> str | None:
    text = "".join(value.split())
    if len(text) < 24 or not _BASE64.match(text):
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def secret_kind(
    value: str,
    min_length: float = MIN_ENTROPY_LENGTH,
    min_bits: float = MIN_BITS_PER_CHAR,
    *,
    _depth: int = 0,
) -> str | None:
    """What kind of secret `value` is ("a PEM private key", ...), or None if it is none."""
    if _service_account(value):
        return "a service-account key (JSON)"
    if _PEM.search(value):
        return "a PEM private key"
    for kind, pattern in _FORMATS:
        if pattern.search(value):
            return kind
    if URL_WITH_PASSWORD.search(value):
        return "a URL with a password (user:password@host)"
    decoded = _decoded(value) if _depth == 0 else None
    if decoded is not None:
        inner = secret_kind(decoded, min_length, min_bits, _depth=1)
        if inner is not None and inner != "a high-entropy string":
            return f"{inner}, base64-encoded"
    if high_entropy(value, min_length, min_bits):
        return "a high-entropy string"
    return None


def is_setting(name: str, value: Any, words: Sequence[str] = SETTING_WORDS) -> bool:
    """A name that looks like a secret but is a setting about one: a word of the name (split
    on `_`, `-`, `.`) is a setting word (``PASSWORD_MIN_LENGTH``, ``JWT_ALGORITHM``,
    ``TOKEN_TTL_SECONDS``) and the known value is a number, a boolean or a short word. An
    unknown or long value is not judged a setting. An ARN (``JWT_SECRET_ARN``) names a secret
    without holding it."""
    if isinstance(value, str) and re.match(r"^arn:aws[a-z-]*:[a-z0-9-]+:", value.strip()):
        return True
    parts = {p.upper() for p in re.split(r"[_\-.]+", name) if p}
    if not parts & {w.upper() for w in words}:
        return False
    return isinstance(value, (int, float, bool)) or (
        isinstance(value, str) and bool(_SETTING_VALUE.match(value.strip()))
    )


# The config properties of the policies that judge values ({name: (default, description)}).
SECRET_VALUE_CONFIG: dict[str, tuple[Any, str]] = {
    "highEntropyMinLength": (
        MIN_ENTROPY_LENGTH,
        "Shortest token (no spaces) judged as a possible random secret.",
    ),
    "highEntropyBitsPerChar": (
        MIN_BITS_PER_CHAR,
        "Shannon entropy (bits per character) from which such a token is a secret.",
    ),
    "settingWords": (
        SETTING_WORDS,
        "Words that make a secret-looking name a setting (PASSWORD_MIN_LENGTH) when its value "
        "is a number, a boolean or a short word.",
    ),
}
