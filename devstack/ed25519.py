"""Ed25519 for Better Auth JWTs on CPython (`cryptography`); on Workers, WebCrypto does this."""

from __future__ import annotations

from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["CryptographyEd25519Verifier"]


@lru_cache(maxsize=64)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


class CryptographyEd25519Verifier:
    async def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        try:
            _public_key(public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True
