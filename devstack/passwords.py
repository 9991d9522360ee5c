"""Better Auth's password hashes, so the seeded demo user can sign in through the real library.

Better Auth (1.7, `@better-auth/utils/password`) stores `<salt hex>:<key hex>` in
`account.password`: the salt is 16 random bytes written as 32 hex characters, and the key is
scrypt(N=16384, r=16, p=1, 64 bytes) of the NFKC-normalised password with that *hex text* as the
salt. Tests hold this module to the library itself by signing in through it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

__all__ = ["hash_password", "verify_password"]

_N, _R, _P, _DKLEN = 16384, 16, 1, 64
_MAXMEM = 2 * 128 * _N * _R  # what the library allows; OpenSSL's default (32 MiB) is too small


def _key(password: str, salt_hex: str) -> bytes:
    return hashlib.scrypt(
        unicodedata.normalize("NFKC", password).encode(),
        salt=salt_hex.encode(),
        n=_N,
        r=_R,
        p=_P,
        dklen=_DKLEN,
        maxmem=_MAXMEM,
    )


def hash_password(password: str) -> str:
    salt_hex = secrets.token_hex(16)
    return f"{salt_hex}:{_key(password, salt_hex).hex()}"


def verify_password(stored: str, password: str) -> bool:
    salt_hex, _, key_hex = stored.partition(":")
    if not salt_hex or not key_hex:
        return False
    return hmac.compare_digest(_key(password, salt_hex).hex(), key_hex)
