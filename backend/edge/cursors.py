"""History cursors: the ledger position sealed so that it says nothing and works for one page only.

The Worker pages by the ledger's global row id, and a cursor holding that id in clear would tell
any member how many transfers or payouts the whole platform made between two of their own. So the
id is encrypted and authenticated, bound to the history kind and the organization:

    iv     = PRF(mac_key, version ‖ kind ‖ org ‖ id)[:16]
    cursor = base64url(version ‖ iv ‖ id ⊕ PRF(enc_key, iv)[:8])

with HMAC-SHA256 as the PRF — the SIV construction (deterministic authenticated encryption;
RFC 5297's shape with HMAC in place of CMAC/CTR), standard library only. The same page yields the
same cursor on every replica sharing the secret; a cursor from another organization, another
history or another secret fails the check and is a 400 `invalid_cursor`; a forged one needs the
secret. The iv is the only thing it repeats, and only for the same position of the same org.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from backend.core.errors import InvalidRequest

VERSION = b"\x01"
_IV, _ID = 16, 8
_LENGTH = len(VERSION) + _IV + _ID
MAX_ROW_ID = 2**53 - 1


def derive_cursor_secret(root: bytes) -> bytes:
    """A key of its own from a configured secret: one-way, so no cursor says anything of `root`."""
    return hmac.new(root, b"connect-backend history cursor v1", hashlib.sha256).digest()


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._enc = hmac.new(secret, b"encrypt", hashlib.sha256).digest()
        self._mac = hmac.new(secret, b"authenticate", hashlib.sha256).digest()

    def _iv(self, kind: str, organization_id: str, row: bytes) -> bytes:
        # Length-prefixed fields: no (kind, organization) pair spells another's input.
        parts = (kind.encode(), organization_id.encode(), row)
        message = b"".join(len(part).to_bytes(4, "big") + part for part in parts)
        return hmac.new(self._mac, VERSION + message, hashlib.sha256).digest()[:_IV]

    def _pad(self, iv: bytes) -> bytes:
        return hmac.new(self._enc, iv, hashlib.sha256).digest()[:_ID]

    def encode(self, kind: str, organization_id: str, row_id: int | None) -> str | None:
        if row_id is None:
            return None
        row = row_id.to_bytes(_ID, "big")
        iv = self._iv(kind, organization_id, row)
        sealed = bytes(a ^ b for a, b in zip(row, self._pad(iv), strict=True))
        return base64.urlsafe_b64encode(VERSION + iv + sealed).decode().rstrip("=")

    def decode(self, kind: str, organization_id: str, cursor: str | None) -> int | None:
        if cursor is None:
            return None
        bad = InvalidRequest(code="invalid_cursor", message="cursor is not one this API gave out.")
        if not 1 <= len(cursor) <= 64 or not cursor.isascii():
            raise bad
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise bad from None
        if len(raw) != _LENGTH or raw[:1] != VERSION:
            raise bad
        iv, sealed = raw[1 : 1 + _IV], raw[1 + _IV :]
        row = bytes(a ^ b for a, b in zip(sealed, self._pad(iv), strict=True))
        if not hmac.compare_digest(iv, self._iv(kind, organization_id, row)):
            raise bad
        row_id = int.from_bytes(row, "big")
        if not 1 <= row_id <= MAX_ROW_ID:
            raise bad
        return row_id
