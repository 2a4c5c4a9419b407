"""Ownership marks: the key `omp_hash` on every key/value annotation the plugin writes.

value = "omphash_v1:" + HMAC-SHA256(site secret, canonical JSON of
{"plugin", "version": "1", "data": the other pairs}), as the original computed it. Only an
annotation whose mark verifies against its own pairs counts as the plugin's, so a copied or
hand-typed `omp_hash` never makes a foreign annotation deletable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence

HASH_KEY = "omp_hash"
PREFIX = "omphash_v1:"
PLUGIN_ID = "omeroweb_omp_plugin"


def _canonical(pairs: Sequence[tuple[str, str]]) -> bytes:
    data = [[str(k), str(v)] for k, v in pairs if k != HASH_KEY]
    body = {"plugin": PLUGIN_ID, "version": "1", "data": data}
    return json.dumps(body, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def mark(pairs: Sequence[tuple[str, str]], secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), _canonical(pairs), hashlib.sha256).hexdigest()
    return PREFIX + digest


def with_mark(pairs: Sequence[tuple[str, str]], secret: str) -> list[tuple[str, str]]:
    plain = [(k, v) for k, v in pairs if k != HASH_KEY]
    return [*plain, (HASH_KEY, mark(plain, secret))]


def is_plugin_owned(pairs: Sequence[tuple[str, str]], secret: str) -> bool:
    marks = [v for k, v in pairs if k == HASH_KEY]
    if len(marks) != 1 or not str(marks[0]).startswith(PREFIX):
        return False
    return hmac.compare_digest(str(marks[0]), mark(pairs, secret))
