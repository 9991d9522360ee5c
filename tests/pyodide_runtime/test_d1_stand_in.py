"""The D1 stand-in (`worker/pyodide_host/d1.mjs`) keeps the binding's client-side contract.

The rules come from workerd's `src/cloudflare/internal/d1-api.ts` and D1's documented behaviour
(docs/pyodide-runtime.md); the Worker's own use of them is covered by the differential test.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory, harness_installed: None) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("d1") / "d1.sqlite3"
    result = subprocess.run(
        ["node", str(HERE / "d1_stand_in.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_class_names_the_sdk_dispatches_on(seen: dict[str, Any]) -> None:
    assert seen["classes"] == ["D1Database", "D1PreparedStatement", True]


def test_run_reports_changes_and_the_row_id(seen: dict[str, Any]) -> None:
    assert seen["run"] == {"success": True, "changes": 1, "last_row_id": 1, "results": []}


def test_bind_converts_booleans_and_buffers_and_reads_blobs_back_as_byte_arrays(
    seen: dict[str, Any],
) -> None:
    assert seen["row"] == {"k": "a", "n": 1, "nt": "integer", "r": 1.5, "b": [1, 2, 255]}
    assert seen["null"] == {"v": None, "is_null": 1}


def test_first_and_raw_options(seen: dict[str, Any]) -> None:
    assert seen["first_column"] == "a"
    assert seen["missing_column"] == "D1_COLUMN_NOTFOUND: Column not found (nope)"
    assert seen["raw"] == [["k", "n"], ["a", 1]]


def test_bind_refuses_what_d1_refuses(seen: dict[str, Any]) -> None:
    assert seen["refused"] == [
        "D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'",
        "D1_TYPE_ERROR: Type 'bigint' not supported for value '1'",
        "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'",
        "D1_TYPE_ERROR: Type 'function' not supported for value '() => 1'",
        "D1_TYPE_ERROR: Type 'object' not supported for value '1,256'",
    ]


def test_ordered_parameters_and_a_wrong_count(seen: dict[str, Any]) -> None:
    assert seen["mixed"] == {"two": 2, "three": 3, "one": 1}
    assert seen["wrong_count"] == "D1_ERROR: Wrong number of parameter bindings for SQL query."


def test_a_failing_batch_leaves_nothing_and_a_good_one_commits(seen: dict[str, Any]) -> None:
    assert seen["unique"] == "D1_ERROR: UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT"
    assert seen["after_failed_batch"] == [{"k": "a"}]
    assert seen["batch"] == [[True, 1, []], [True, 0, [{"c": 2}]]]
    assert seen["not_a_statement"].startswith("D1_ERROR: batch() got Object")


def test_sql_errors_carry_sqlites_message(seen: dict[str, Any]) -> None:
    assert seen["bad_sql"] == 'D1_ERROR: near "SELEC": syntax error: SQLITE_ERROR'
