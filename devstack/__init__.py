"""The local stack: the one place that wires the parts together on CPython.

The Worker's core lives in `worker/src` (deployed by wrangler, not installed as a package), so it is
put on `sys.path` here, once, for every `devstack` module and `python -m devstack.*` entry point.
"""

from __future__ import annotations

import sys
from pathlib import Path

_WORKER_SRC = str(Path(__file__).resolve().parent.parent / "worker" / "src")
if _WORKER_SRC not in sys.path:
    sys.path.insert(0, _WORKER_SRC)
