"""`explainError` in `frontend/connect-payouts.mjs`, run by the real Node: the backend's limit and
verification refusals read as words a member can act on, with the server's `Retry-After`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

# The element module defines a custom element at import: Node gets the two globals it touches.
PRELUDE = """
globalThis.HTMLElement = class {};
globalThis.customElements = { get: () => true, define: () => {} };
const { explainError } = await import(%s);
const { BackendError } = await import(%s);
"""


def _explain(**fields: Any) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "Node 20 is required"
    script = PRELUDE % (
        json.dumps((FRONTEND / "connect-payouts.mjs").as_uri()),
        json.dumps((FRONTEND / "backend-client.mjs").as_uri()),
    )
    script += f"console.log(JSON.stringify(explainError(new BackendError({json.dumps(fields)}))));"
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def test_rate_limits_say_when_to_try_again() -> None:
    said = _explain(status=429, code="rate_limited", message="x", retryAfter=12)
    assert said == {
        "message": "Too many requests in a short time. Try again in 12 seconds.",
        "retry": True,
    }
    said = _explain(status=429, code="platform_busy", message="x", retryAfter=3)
    assert said["retry"] is True
    assert "Try again in 3 seconds." in said["message"]


def test_an_unverified_email_is_asked_to_verify_not_to_retry() -> None:
    said = _explain(status=403, code="email_not_verified", message="x")
    assert said == {
        "message": "Verify your email address before setting up payouts.",
        "retry": False,
    }
