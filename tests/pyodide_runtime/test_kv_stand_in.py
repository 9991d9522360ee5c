"""The KV binding stand-in (`worker/pyodide_host/kv.mjs`) keeps the binding's client-side contract,
and the CPython host's KV (`devstack/sqlite_kv.py`) keeps the same rules over the same file.

The rules come from Cloudflare's KV docs ("Write key-value pairs": keys 1..512 bytes, not `.`/`..`;
`expirationTtl` >= 60) and miniflare's KV validation (the messages), as workerd's binding reports
them (`KV PUT failed: 400 …`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from connect_worker.kv import KVError

from devstack.sqlite_kv import SqliteKV

HERE = Path(__file__).resolve().parent
AT = 1_800_000_000.0


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory, harness_installed: None) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("kv") / "kv.sqlite3"
    result = subprocess.run(
        ["node", str(HERE / "kv_stand_in.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_class_name_the_sdk_wraps_as_a_binding(seen: dict[str, Any]) -> None:
    assert seen["class_name"] == "KvNamespace"  # workers.rpc._EnvWrapper._BINDING_TYPES


def test_get_returns_text_json_or_null(seen: dict[str, Any]) -> None:
    assert seen["missing"] is None
    assert seen["plain"] == seen["plain_text_type"] == "text ünï 🌍"
    assert seen["json"] == {"a": [1, None]}


def test_put_refuses_what_kv_refuses(seen: dict[str, Any]) -> None:
    put = "Error: KV PUT failed: 400 Invalid expiration_ttl of"
    assert seen["ttl_refused"] == [
        f"{put} 59. Expiration TTL must be at least 60.",
        f"{put} 0. Please specify integer greater than 0.",
        f"{put} -5. Please specify integer greater than 0.",
        f"{put} x. Please specify integer greater than 0.",
    ]
    assert seen["expiration_refused"][1].endswith("must be at least 60 seconds in the future.")
    assert seen["value_refused"].startswith("TypeError: KV put() accepts only strings")
    assert seen["cache_ttl_refused"].endswith("Cache TTL must be at least 30.")


def test_keys_kv_refuses(seen: dict[str, Any]) -> None:
    assert seen["keys_refused"] == [
        "Error: KV GET failed: 400 Key names must not be empty",
        'Error: KV GET failed: 400 Illegal key name ".". Please use a different name.',
        'Error: KV GET failed: 400 Illegal key name "..". Please use a different name.',
        "Error: KV GET failed: 414 UTF-8 encoded length of 514 exceeds key length limit of 512.",
    ]


def test_a_key_is_gone_once_its_expiration_passes_and_delete_is_idempotent(
    seen: dict[str, Any],
) -> None:
    assert seen["before_expiry"] == '{"a":[1,null]}'
    assert seen["at_expiry"] is None
    assert seen["absolute_expiry"] is None
    assert seen["deleted"] is None
    assert seen["delete_missing"] is None


async def test_the_cpython_kv_keeps_the_same_rules(tmp_path: Path, seen: dict[str, Any]) -> None:
    now = [AT]
    kv = SqliteKV(tmp_path / "kv.sqlite3", now=lambda: now[0])
    try:
        assert await kv.get("nope") is None
        await kv.put("plain", "text ünï 🌍")
        assert await kv.get("plain") == seen["plain"]
        await kv.put("doc", '{"a":[1,null]}', expiration_ttl=60)
        for ttl, message in zip((59, 0, -5), seen["ttl_refused"], strict=False):
            with pytest.raises(KVError) as refused:
                await kv.put("k", "v", expiration_ttl=ttl)
            assert f"Error: {refused.value}" == message
        for key, message in zip(("", ".", "..", "é" * 257), seen["keys_refused"], strict=True):
            with pytest.raises(KVError) as refused:
                await kv.get(key)
            assert f"Error: {refused.value}" == message
        now[0] = AT + 59.999
        assert await kv.get("doc") == seen["before_expiry"]
        now[0] = AT + 60
        assert await kv.get("doc") is seen["at_expiry"] is None
        await kv.delete("plain")
        await kv.delete("never-there")
        assert await kv.get("plain") is None
    finally:
        kv.close()
