"""The Workers KV-shaped interface the core reads Better Auth's secondary storage through.

Exactly the part of the KV binding's client API the Worker uses: `get(key)` → the text value or
None, `put(key, value, expirationTtl=…)`, `delete(key)`. Workers KV on Cloudflare (through
`runtime_adapter`), a SQLite file on the CPython host (`devstack.sqlite_kv`) and, under Pyodide, a
JS stand-in with the binding's own API all satisfy it, so the core cannot tell which it is on.
"""

from __future__ import annotations

from typing import Protocol


class KVError(Exception):
    """Any failure reported by the KV binding (or the store standing in for it)."""


class KVNamespace(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...
