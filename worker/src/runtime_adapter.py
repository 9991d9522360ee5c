"""The only module that knows Pyodide's FFI: JsProxy → Python, `None` → `jsnull`, WebCrypto.

It turns the Workers runtime into the plain interfaces the core is written against: a D1-shaped
database (rows as dicts, D1 failures as `D1Error`), an Ed25519 verifier and a core `Request`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from connect_worker.config import SETTING_NAMES, WorkerConfig, load_config
from connect_worker.d1 import D1Error, D1Result, Row, SqlValue
from connect_worker.handlers import Deps
from connect_worker.http import Request
from js import Object, crypto
from pyodide.ffi import to_js

try:  # Pyodide >= 0.27: JS null is its own value; None would bind as `undefined`, which D1 refuses.
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover - older runtimes convert None to null themselves
    jsnull = None

_HEADERS = ("x-api-key", "authorization")


def _is_null(value: Any) -> bool:
    return value is None or (jsnull is not None and value is jsnull)


def to_python(value: Any) -> Any:
    """JS value → plain Python: objects → dict, arrays → list, null → None."""
    if _is_null(value):
        return None
    if hasattr(value, "to_py"):
        value = value.to_py()
    if isinstance(value, dict):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_python(v) for v in value]
    return None if _is_null(value) else value


def _js_options(options: dict[str, Any]) -> Any:
    return to_js(options, dict_converter=Object.fromEntries)


def _result(js_result: Any) -> D1Result:
    result = to_python(js_result) or {}
    rows: list[Row] = [dict(r) for r in (result.get("results") or [])]
    meta = result.get("meta") or {}
    return D1Result(rows=rows, changes=int(meta.get("changes") or 0))


class WorkersD1Statement:
    def __init__(self, js_statement: Any) -> None:
        self.js = js_statement

    def bind(self, *values: SqlValue) -> WorkersD1Statement:
        bound = [jsnull if v is None else v for v in values]
        try:
            return WorkersD1Statement(self.js.bind(*bound))
        except Exception as exc:
            raise D1Error(str(exc)) from None

    async def first(self) -> Row | None:
        try:
            row = await self.js.first()
        except Exception as exc:
            raise D1Error(str(exc)) from None
        converted = to_python(row)
        return dict(converted) if converted else None

    async def all(self) -> list[Row]:
        try:
            return _result(await self.js.all()).rows
        except Exception as exc:
            raise D1Error(str(exc)) from None

    async def run(self) -> D1Result:
        try:
            return _result(await self.js.run())
        except Exception as exc:
            raise D1Error(str(exc)) from None


class WorkersD1:
    def __init__(self, binding: Any) -> None:
        self._binding = binding

    def prepare(self, sql: str) -> WorkersD1Statement:
        try:
            return WorkersD1Statement(self._binding.prepare(sql))
        except Exception as exc:
            raise D1Error(str(exc)) from None

    async def batch(self, statements: Sequence[Any]) -> list[D1Result]:
        try:
            results = await self._binding.batch(to_js([s.js for s in statements]))
        except Exception as exc:
            raise D1Error(str(exc)) from None
        return [_result(r) for r in results]


class WebCryptoEd25519Verifier:
    async def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        algorithm = _js_options({"name": "Ed25519"})
        try:
            key = await crypto.subtle.importKey(
                "raw", to_js(public_key), algorithm, False, to_js(["verify"])
            )
            return bool(
                await crypto.subtle.verify(algorithm, key, to_js(signature), to_js(message))
            )
        except Exception:
            return False


def settings(env: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in SETTING_NAMES:
        value = getattr(env, name, None)
        if not _is_null(value):
            values[name] = str(value)
    return values


_config_cache: tuple[tuple[tuple[str, str], ...], WorkerConfig] | None = None


def deps_from_env(env: Any) -> Deps:
    """Validated config (cached per set of settings; raises ConfigError) + D1 + WebCrypto."""
    global _config_cache
    current = tuple(sorted(settings(env).items()))
    if _config_cache is None or _config_cache[0] != current:
        _config_cache = (current, load_config(dict(current)))
    return Deps(config=_config_cache[1], db=WorkersD1(env.DB), verifier=WebCryptoEd25519Verifier())


async def to_core_request(request: Any) -> Request:
    js_request = getattr(request, "js_object", request)  # workers.Request wraps the JS object
    headers: dict[str, str] = {}
    for name in _HEADERS:
        value = js_request.headers.get(name)
        if not _is_null(value):
            headers[name] = str(value)
    body = b""
    if str(js_request.method).upper() not in ("GET", "HEAD"):
        body = (await js_request.arrayBuffer()).to_bytes()
    return Request(
        method=str(js_request.method).upper(),
        path=urlsplit(str(js_request.url)).path,  # still encoded: the router decodes segments
        headers=headers,
        body=body,
    )
