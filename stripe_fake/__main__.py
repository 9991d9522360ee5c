"""`python -m stripe_fake`: serve the fake on STRIPE_FAKE_HOST:STRIPE_FAKE_PORT."""

from __future__ import annotations

import uvicorn

from stripe_fake import FakeConfig, build_app


def main() -> None:
    config = FakeConfig.from_env()
    uvicorn.run(build_app(config), host=config.host, port=config.port, log_level="info")


if __name__ == "__main__":
    main()
