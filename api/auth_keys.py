"""Business API keys: issued once, stored as a hash, looked up by a public key id. Pure.

A key reads `dfk.<key id>.<secret>`: the key id (64 random bits, hex) is public and
names the row to compare against, so authenticating is one indexed lookup, not a scan
of every business; the secret is 256 random bits. Only the SHA-256 of the whole key is
stored (in the BusinessRegistered event and its projection). With that much entropy a
plain hash cannot be reversed or brute-forced, so no slow password hash is needed, and
the comparison is constant-time so the response time reveals nothing about the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass

PREFIX = "dfk"
_FORMAT = re.compile(r"^dfk\.([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A fresh key: `key` goes to the business once; `key_id` and `sha256` are kept."""

    key_id: str
    key: str
    sha256: str


def fingerprint(key: str) -> str:
    """The SHA-256 (hex) of a key, as stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue() -> IssuedKey:
    """A new random key with its public id and its hash."""
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}.{key_id}.{secrets.token_urlsafe(32)}"
    return IssuedKey(key_id=key_id, key=key, sha256=fingerprint(key))


def key_id_of(key: str) -> str | None:
    """The public key id of a well-formed key, or None for anything else."""
    match = _FORMAT.match(key)
    return match.group(1) if match else None


def matches(key: str, stored_sha256: str) -> bool:
    """Whether `key` hashes to `stored_sha256` (compared in constant time)."""
    return hmac.compare_digest(fingerprint(key).encode(), stored_sha256.encode())


def operator_key_matches(presented: str, configured: str) -> bool:
    """Whether the presented operator key is the configured one (constant time)."""
    return hmac.compare_digest(presented.encode(), configured.encode())


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A key id's owner and hash, as read from `business_keys_view`."""

    business_id: str
    sha256: str


class KeyCache:
    """Recently read key ids, so a known business's requests skip the database.

    Bounded (least recently used out) and expiring (`ttl_s`), so memory stays flat and
    a revocation takes effect within the TTL. Only rows read from the view are cached,
    never a presented key: a wrong secret for a known id still fails the compare.
    A key id the view does not know is remembered as unknown for `unknown_ttl_s`
    (in its own bounded map, so a flood of made-up ids cannot push known rows out):
    the same unknown key then costs one query per period, not one a request. Short,
    because a key registered meanwhile must start working soon on every replica.
    """

    def __init__(self, size: int = 10_000, ttl_s: float = 300.0, unknown_ttl_s: float = 30.0):
        self.size = size
        self.ttl_s = ttl_s
        self.unknown_ttl_s = unknown_ttl_s
        self._rows: OrderedDict[str, tuple[KnownKey, float]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._expected: OrderedDict[str, None] = OrderedDict()

    def get(self, key_id: str, now: float) -> KnownKey | None:
        """The cached row of `key_id`, unless absent or older than the TTL."""
        cached = self._rows.get(key_id)
        if cached is None or now - cached[1] > self.ttl_s:
            self._rows.pop(key_id, None)
            return None
        self._rows.move_to_end(key_id)
        return cached[0]

    def put(self, key_id: str, row: KnownKey, now: float) -> None:
        """Remember a row read at `now`."""
        self._unknown.pop(key_id, None)
        self._expected.pop(key_id, None)
        self._rows[key_id] = (row, now)
        self._rows.move_to_end(key_id)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop what is cached of `key_id` (a revoked key: asked again, and refused)."""
        self._rows.pop(key_id, None)

    def known_unknown(self, key_id: str, now: float) -> bool:
        """Whether `key_id` was looked up and not found less than `unknown_ttl_s` ago."""
        since = self._unknown.get(key_id)
        if since is None or now - since > self.unknown_ttl_s:
            self._unknown.pop(key_id, None)
            return False
        return True

    def expect(self, key_id: str) -> None:
        """Never remember `key_id` as unknown: this process issued it, still `pending`.

        It works here as soon as the sink has it (on other replicas within
        `unknown_ttl_s` of a failed try).
        """
        self._expected[key_id] = None
        while len(self._expected) > self.size:
            self._expected.popitem(last=False)

    def put_unknown(self, key_id: str, now: float) -> None:
        """Remember that the view did not know `key_id` at `now`."""
        if self.unknown_ttl_s <= 0 or key_id in self._expected:
            return
        self._unknown[key_id] = now
        self._unknown.move_to_end(key_id)
        while len(self._unknown) > self.size:
            self._unknown.popitem(last=False)
