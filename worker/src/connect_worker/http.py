"""Runtime-neutral request and response: the adapters convert to and from these."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 64 * 1024

# One encoder for every reply (`json.dumps` with options builds a new one per call). Replies are
# trees built from rows, never cyclic, so the cycle check is skipped; the output is the same.
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    # The path as received, still percent-encoded: the router decodes each segment after splitting.
    path: str
    # Lower-case header names; adapters copy only the few headers the core reads.
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    payload: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> bytes:
        return _ENCODER.encode(self.payload).encode()
