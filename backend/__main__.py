"""`python -m backend`: validate the environment, then serve with uvicorn (uvloop, httptools)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from backend.app import create_app
from backend.core.log_format import configure_logging
from backend.core.settings import SettingsError, load_settings
from backend.edge.http_guard import protocol_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend")
    parser.add_argument("--host", help="overrides BACKEND_HOST")
    parser.add_argument("--port", type=int, help="overrides BACKEND_PORT (Railway passes $PORT)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.backend_host,
        port=args.port or settings.backend_port,
        loop="uvloop",
        # uvicorn's httptools protocol plus header/body deadlines (backend/edge/http_guard.py).
        http=protocol_for(settings),
        lifespan="on",
        log_level=settings.log_level,
        log_config=None,  # our handler and format (log_format.configure_logging) for its loggers
        # Access lines cost ~13% CPU per request (docs/performance.md); Railway logs requests.
        access_log=settings.access_log,
        proxy_headers=True,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
