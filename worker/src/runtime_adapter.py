"""The only module that knows Pyodide's FFI: JsProxy → Python, `None` → `jsnull`, WebCrypto.

It turns the Workers runtime into the plain interfaces the core is written against: a D1-shaped
database (rows as dicts, D1 failures as `D1Error`), a KV namespace (text or None, failures as
`KVError`), an Ed25519 verifier and a core `Request`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from connect_worker import kv_sessions
from connect_worker.auth_db import SchemaCheck
from connect_worker.config import SETTING_NAMES, ConfigError, WorkerConfig, load_config
from connect_worker.d1 import D1Error, D1Result, Row, SqlValue
from connect_worker.deps import Deps
from connect_worker.http import Request
from connect_worker.kv import KVError
from connect_worker.request_log import add_d1_time
from js import Object, crypto
from pyodide.ffi import JsProxy, to_js

try:  # Pyodide >= 0.27: JS null is its own value; None would bind as `undefined`, which D1 refuses.
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover - older runtimes convert None to null themselves
    jsnull = None

# The headers the core reads: the API key, and the W3C trace context (request_log).
_HEADERS = ("x-api-key", "authorization", "traceparent", "baggage")
# Pyodide's to_js turns an int of magnitude >= 2**53 - 1 into a BigInt, which D1's bind() refuses;
# 2**53 - 1 itself is a safe JS number, so it travels as the (exact) float.
_BIGINT_FROM = 2**53 - 1


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


def _js_number(value: SqlValue) -> SqlValue:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) == _BIGINT_FROM:
        return float(value)
    return value


def _d1_error(exc: Exception) -> D1Error:
    """D1's own message (`D1_ERROR: UNIQUE constraint failed: …`), without the JS error name."""
    message = str(exc)
    for prefix in ("Error: ", "TypeError: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return D1Error(message)


async def _d1_call(call: Callable[[], Any]) -> Any:
    """Await one D1 call, its time reported to the request's log line; its failure becomes a
    `D1Error`."""
    started = time.perf_counter()
    try:
        return await call()
    except Exception as exc:
        raise _d1_error(exc) from None
    finally:
        add_d1_time(time.perf_counter() - started)


class WorkersD1Statement:
    """One prepared statement, over the SDK-wrapped binding or the raw JS one.

    Since the SDK wraps `env` (workers-runtime-sdk >= 1.6), `env.DB` is a `_BindingWrapper` that
    converts arguments and results itself: Python values go in (None → JS null), plain Python
    comes out, and a batch takes a Python list of wrapped statements (it unwraps each one). A JS
    array built here with `to_js` would hold proxies of the wrappers instead of D1 statements,
    which D1 refuses — every batched write failed that way. The raw JS binding (`raw=True`) needs
    the conversions done here.
    """

    def __init__(self, js_statement: Any, *, raw: bool) -> None:
        self.js = js_statement
        self.raw = raw

    def bind(self, *values: SqlValue) -> WorkersD1Statement:
        plain = [_js_number(v) for v in values]
        bound = [jsnull if v is None else v for v in plain] if self.raw else plain
        try:
            return WorkersD1Statement(self.js.bind(*bound), raw=self.raw)
        except Exception as exc:
            raise _d1_error(exc) from None

    async def first(self) -> Row | None:
        converted = to_python(await _d1_call(lambda: self.js.first()))
        return dict(converted) if converted else None

    async def all(self) -> list[Row]:
        return _result(await _d1_call(lambda: self.js.all())).rows

    async def run(self) -> D1Result:
        return _result(await _d1_call(lambda: self.js.run()))


class WorkersD1:
    def __init__(self, binding: Any) -> None:
        self._binding = binding
        self._raw = isinstance(binding, JsProxy)

    def prepare(self, sql: str) -> WorkersD1Statement:
        try:
            return WorkersD1Statement(self._binding.prepare(sql), raw=self._raw)
        except Exception as exc:
            raise _d1_error(exc) from None

    async def batch(self, statements: Sequence[Any]) -> list[D1Result]:
        js = [s.js for s in statements]
        results = await _d1_call(lambda: self._binding.batch(to_js(js) if self._raw else js))
        return [_result(r) for r in results]


class WorkersKV:
    """A KV namespace binding (`env.SESSIONS_KV`), SDK-wrapped or raw: `get` resolves to a string
    or JS null, `put` takes `{expirationTtl}`; any failure becomes a `KVError`."""

    def __init__(self, binding: Any) -> None:
        self._binding = binding
        self._raw = isinstance(binding, JsProxy)

    async def _call(self, call: Callable[[], Any]) -> Any:
        try:
            return await call()
        except Exception as exc:
            raise KVError(str(exc).removeprefix("Error: ")) from None

    async def get(self, key: str) -> str | None:
        value = to_python(await self._call(lambda: self._binding.get(key)))
        return None if value is None else str(value)

    async def put(self, key: str, value: str, *, expiration_ttl: int | None = None) -> None:
        options = {} if expiration_ttl is None else {"expirationTtl": expiration_ttl}
        js_options = _js_options(options) if self._raw else options
        await self._call(lambda: self._binding.put(key, value, js_options))

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._binding.delete(key))


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


_config_cache: tuple[tuple[tuple[str, str], ...], WorkerConfig, SchemaCheck] | None = None


def _sessions_kv(env: Any, config: WorkerConfig) -> WorkersKV | None:
    """The KV binding when sessions live in secondary storage (a ConfigError if it is missing)."""
    if config.session_storage != kv_sessions.SECONDARY:
        return None
    binding = getattr(env, kv_sessions.BINDING, None)
    if _is_null(binding):
        raise ConfigError(
            f"{kv_sessions.SETTING}={kv_sessions.SECONDARY} needs the {kv_sessions.BINDING} KV "
            "binding ([[kv_namespaces]] in wrangler.toml)"
        )
    return WorkersKV(binding)


def deps_from_env(env: Any) -> Deps:
    """Validated config (cached per set of settings; raises ConfigError) + D1 + KV + WebCrypto.
    The Better Auth schema check is kept with the config: once per isolate and description."""
    global _config_cache
    current = tuple(sorted(settings(env).items()))
    if _config_cache is None or _config_cache[0] != current:
        _config_cache = (current, load_config(dict(current)), SchemaCheck())
    config = _config_cache[1]
    return Deps(
        config=config,
        db=WorkersD1(env.DB),
        verifier=WebCryptoEd25519Verifier(),
        kv=_sessions_kv(env, config),
        schema_check=_config_cache[2],
    )


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
