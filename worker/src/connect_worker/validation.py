"""Stdlib-only validation of JSON request bodies: required/optional/unknown fields, types, bounds.

A validator is a function `(value, field_name) -> value` that raises `invalid(...)` naming the
field. `bool` is never accepted where a number is expected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from connect_worker.errors import ApiError
from connect_worker.http import MAX_BODY_BYTES

Validator = Callable[[Any, str], Any]

MAX_ID = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_WHITESPACE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# `"\ud800"` is valid JSON, but a lone surrogate is not text D1 (SQLite) can bind: refuse it here.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Either of the two above: one search for the common, clean string.
_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
MAX_TOKEN = 4096
# The largest integer D1 stores exactly: its binding takes JS numbers (doubles) and refuses a
# BigInt, which is what Pyodide makes of any larger Python int. Every integer field is bounded by
# it, so an oversized value is a 400 here on both hosts, never a D1 type error (503) on Workers.
MAX_SAFE_INTEGER = 2**53 - 1


def invalid(message: str) -> ApiError:
    return ApiError("invalid_request", message)


@dataclass(frozen=True, slots=True)
class Field:
    validator: Validator
    required: bool = True


def required(validator: Validator) -> Field:
    return Field(validator, required=True)


def optional(validator: Validator) -> Field:
    return Field(validator, required=False)


def string(
    *,
    min_len: int = 1,
    max_len: int = MAX_ID,
    choices: Collection[str] | None = None,
    pattern: str | None = None,
) -> Validator:
    compiled = re.compile(pattern) if pattern is not None else None

    def check(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise invalid(f"`{name}` must be a string.")
        if not min_len <= len(value) <= max_len:
            raise invalid(f"`{name}` must be {min_len}..{max_len} characters.")
        if choices is not None and value not in choices:
            raise invalid(f"`{name}` must be one of: {', '.join(sorted(choices))}.")
        if _CONTROL_OR_SURROGATE.search(value):
            if _CONTROL.search(value):
                raise invalid(f"`{name}` must not contain control characters.")
            raise invalid(f"`{name}` must be valid Unicode text.")
        if compiled is not None and not compiled.fullmatch(value):
            raise invalid(f"`{name}` has the wrong format.")
        return value

    return check


def free_text(*, max_len: int) -> Validator:
    """Human text (error reasons): newlines allowed, other control characters not."""

    def check(value: Any, name: str) -> str:
        if not isinstance(value, str):
            raise invalid(f"`{name}` must be a string.")
        if len(value) > max_len:
            raise invalid(f"`{name}` must be at most {max_len} characters.")
        if _CONTROL_EXCEPT_WHITESPACE.search(value):
            raise invalid(f"`{name}` must not contain control characters.")
        if _SURROGATE.search(value):
            raise invalid(f"`{name}` must be valid Unicode text.")
        return value

    return check


def integer(*, min_value: int | None = None, max_value: int | None = None) -> Validator:
    low = -MAX_SAFE_INTEGER if min_value is None else max(min_value, -MAX_SAFE_INTEGER)
    high = MAX_SAFE_INTEGER if max_value is None else min(max_value, MAX_SAFE_INTEGER)

    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(f"`{name}` must be an integer.")
        if value < low:
            raise invalid(f"`{name}` must be >= {low}.")
        if value > high:
            raise invalid(f"`{name}` must be <= {high}.")
        return value

    return check


def number(*, min_value: float, max_value: float) -> Validator:
    def check(value: Any, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"`{name}` must be a number.")
        if not math.isfinite(value) or not min_value <= value <= max_value:
            raise invalid(f"`{name}` must lie within {min_value}..{max_value}.")
        return float(value)

    return check


def boolean() -> Validator:
    def check(value: Any, name: str) -> bool:
        if not isinstance(value, bool):
            raise invalid(f"`{name}` must be a boolean.")
        return value

    return check


def string_list(*, max_items: int = 200, max_len: int = 256) -> Validator:
    item = string(min_len=1, max_len=max_len)

    def check(value: Any, name: str) -> list[str]:
        if not isinstance(value, list):
            raise invalid(f"`{name}` must be a list of strings.")
        if len(value) > max_items:
            raise invalid(f"`{name}` must have at most {max_items} items.")
        return [item(v, f"{name}[{i}]") for i, v in enumerate(value)]

    return check


def nullable(validator: Validator) -> Validator:
    def check(value: Any, name: str) -> Any:
        return None if value is None else validator(value, name)

    return check


def validate_object(
    value: Any, fields: Mapping[str, Field], *, name: str = "body"
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"`{name}` must be a JSON object.")
    if not value.keys() <= fields.keys():
        unknown = sorted(set(value) - set(fields))
        raise invalid(f"Unknown field `{unknown[0]}`.")
    out: dict[str, Any] = {}
    for field_name, spec in fields.items():
        if field_name not in value:
            if spec.required:
                raise invalid(f"Missing field `{field_name}`.")
            continue
        out[field_name] = spec.validator(value[field_name], field_name)
    return out


def parse_json_body(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise ApiError("payload_too_large", f"The body exceeds {MAX_BODY_BYTES} bytes.")
    if not body:
        raise ApiError("invalid_json", "The body must be a JSON object.")
    try:
        # What `json.loads(body, ...)` does, with one decoder built once rather than per call.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except _DuplicateKey:
        raise ApiError("invalid_json", "A JSON object in the body repeats a key.") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError("invalid_json", "The body is not valid JSON.") from None


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins: a body that means two things is refused.
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey
    return found


def _reject_constant(name: str) -> Any:
    # NaN/Infinity are not JSON; Python's parser would accept them.
    raise ValueError(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
