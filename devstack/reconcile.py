"""`make reconcile`: one reconciliation run (`python -m backend.reconciliation.reconcile`) against
the stack of `make dev`, configured as that stack's backend is (ports and
`.devstack/secrets.json`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from backend.reconciliation.reconcile import main as reconcile
from devstack.parts import backend_env
from devstack.stack_config import StackConfig


def main(environ: Mapping[str, str] | None = None) -> int:
    config = StackConfig.from_env(os.environ if environ is None else environ)
    return reconcile(sys.argv[1:], environ=backend_env(config))


if __name__ == "__main__":
    sys.exit(main())
