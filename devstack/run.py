"""`make dev`: the whole system on this machine, one command, Ctrl-C stops all of it.

Order matters and is the same every run: the D1 file gets its migrations and the demo identity
first (so the Worker never serves a half-made database), then the Worker, the Stripe fake, the
backend (its readiness probe calls the Worker), and the auth app that serves the frontend. If any
part dies the rest are stopped and the command exits non-zero, so a broken stack never looks like
a running one.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType
from typing import IO

from devstack.parts import local_d1_file, part_specs, prepare_database
from devstack.processes import StackError, Supervisor
from devstack.stack_config import DemoState, StackConfig, write_demo_state

__all__ = ["main", "run_stack"]


def run_stack(config: StackConfig, *, out: IO[str] | None = None) -> int:
    """Start every part, print how to use them, and block until Ctrl-C/SIGTERM or a part dies."""
    supervisor = Supervisor(out=out)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with supervisor:
            try:
                identity = prepare_database(config, say=supervisor.say)
                for spec in part_specs(config, d1_path=local_d1_file(config)):
                    supervisor.say(f"starting {spec.name} …")
                    supervisor.start_ready(spec)
            except StackError as exc:
                if supervisor.stopping.is_set():
                    supervisor.say("interrupted; stopping")
                    return 0
                supervisor.say(f"error: {exc}")
                return 1
            state = DemoState(
                pid=os.getpid(),
                worker_url=config.worker_url,
                backend_url=config.backend_url,
                stripe_fake_url=config.stripe_fake_url if config.uses_stripe_fake else None,
                token=identity.token,
                organization_id=identity.organization_id,
                user_id=identity.user_id,
                user_email=identity.user_email,
                frontend_url=config.frontend_url,
                demo_password=config.demo_password,
                child_pids=tuple(child.pid for child in supervisor.children),
            )
            write_demo_state(config.demo_state_path, state)
            try:
                supervisor.say(banner(config, state))
                code = supervisor.watch()
                supervisor.say("stopping …")
                return code
            finally:
                config.demo_state_path.unlink(missing_ok=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def banner(config: StackConfig, state: DemoState) -> str:
    stripe = (
        f"  stripe fake  {config.stripe_fake_url}   (signed webhooks → backend)"
        if config.uses_stripe_fake
        else "  stripe       real Stripe (STRIPE_SECRET_KEY is set; no fake started)"
    )
    status_url = f"{config.backend_url}/api/connect/status/{state.organization_id}"
    d1 = (
        f"{config.wrangler_persist_dir}   (wrangler's local D1)"
        if config.worker_runtime == "wrangler"
        else str(config.d1_path)
    )
    return "\n".join(
        [
            "",
            f"Open {config.frontend_url} and sign in as {state.user_email}"
            f" with the password {config.demo_password}",
            "  (or sign up as a new user there).",
            "",
            "Local stack is up. Ctrl-C stops everything.",
            f"  app          {config.frontend_url}   (Better Auth + the frontend, same D1)",
            f"  backend      {config.backend_url}   ({config.connect_account_profile} accounts)",
            f"  worker       {config.worker_url}   ({config.worker_runtime} runtime, D1 below)",
            stripe,
            f"  D1           {d1}",
            *(
                [f"  otlp         {config.otlp_url}   (spans and metrics print here: OTEL=1)"]
                if config.otlp_url
                else []
            ),
            f"  state        {config.state_dir}   (local secrets, demo token)",
            "",
            f"Demo user {state.user_email} is the owner of organization {state.organization_id}.",
            f"  export TOKEN='{state.token}'",
            f"  export ORG_ID='{state.organization_id}'",
            f'  curl -H "Authorization: Bearer $TOKEN" {status_url}',
            "",
            "Walk onboarding → webhook → transfer → balance in another terminal: make demo",
            "",
        ]
    )


def main(environ: Mapping[str, str] | None = None) -> int:
    try:
        config = StackConfig.from_env(os.environ if environ is None else environ)
    except ValueError as exc:
        print(f"make dev: {exc}", file=sys.stderr)
        return 2
    return run_stack(config)


if __name__ == "__main__":
    sys.exit(main())
