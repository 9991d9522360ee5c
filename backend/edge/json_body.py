"""The rules every JSON body that moves money or changes settings must pass before a model reads it.

- `Content-Type: application/json` (a `charset=utf-8` parameter allowed): a form post or a
  `text/plain` "simple request" from another origin never reaches a handler.
- No key twice in one object: parsers disagree about which of two values wins (Python and
  pydantic take the last, others the first), so a body that means two things is refused.
- Nesting stays shallow: a deeply nested body is a 400, not a `RecursionError`.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from backend.core.errors import ApiError, InvalidRequest
from backend.core.json_depth import json_depth_within

MAX_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "unsupported_media_type", "Send the body as application/json."


class DuplicateKey(InvalidRequest):
    code, message = "duplicate_json_key", "A JSON object in the body repeats a key."


def require_json_content_type(request: Request) -> None:
    media_type, _, params = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType()
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(message="JSON bodies must be UTF-8.")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey()
        found[key] = value
    return found


def check_json_structure(raw: bytes, *, max_depth: int = MAX_DEPTH) -> None:
    """Raises 400 for a body too deeply nested or with a repeated key; malformed JSON is left to
    the model, which names it `invalid_json`."""
    if not json_depth_within(raw, max_depth):
        raise InvalidRequest(code="json_too_deep", message="The JSON body is nested too deeply.")
    try:
        json.loads(raw, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        return
