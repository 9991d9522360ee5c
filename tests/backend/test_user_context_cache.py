"""The user-context cache: what it keeps, for how long, how many, and what it never keeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.requests import Request

from backend.core.errors import Forbidden, Unauthorized
from backend.core.roles import MANAGER_ROLES
from backend.edge.auth import Authenticator, UserContextCache
from backend.worker_side.worker_client import WorkerClient
from backend.worker_side.worker_models import Organization, User, UserContext
from tests.fixtures.backend import BackendStack
from tests.fixtures.worker import WorkerStack


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def context(user_id: str, org_id: str = "org_1", status: str = "pending") -> UserContext:
    org = Organization(id=org_id, stripe_connect_status=status)  # type: ignore[arg-type]
    return UserContext(user=User(id=user_id), organization=org, role="owner")


def request_with(token: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
        }
    )


# --- the cache alone -------------------------------------------------------------------------


def test_entries_live_for_the_ttl_and_not_a_moment_longer() -> None:
    clock = Clock()
    cache = UserContextCache(ttl_seconds=30, max_entries=10, clock=clock)
    key = UserContextCache.key("tok", "org_1")
    cache.put(key, context("u1"))
    clock.now += 29.999
    found = cache.get(key)
    assert found is not None
    assert found.user.id == "u1"
    clock.now += 0.001
    assert cache.get(key) is None
    assert len(cache) == 0  # the expired entry is dropped, not kept around


def test_the_oldest_entry_is_evicted_beyond_max_entries() -> None:
    cache = UserContextCache(ttl_seconds=30, max_entries=2, clock=Clock())
    keys = [UserContextCache.key(f"tok{i}", "org_1") for i in range(3)]
    for i, key in enumerate(keys):
        cache.put(key, context(f"u{i}"))
    assert len(cache) == 2
    assert cache.get(keys[0]) is None
    assert [cache.get(k).user.id for k in keys[1:]] == ["u1", "u2"]  # type: ignore[union-attr]


def test_keys_never_share_an_entry_and_never_hold_the_token() -> None:
    token = "qxvuKyOTMq8UKoTsARKz7ei3u9KN5LAD.g4k10hd5Tt8z4FoXSQw/lPnE6SgBRbLHiiO35k1ARlw="
    keys = {
        UserContextCache.key(token, "org_1"),
        UserContextCache.key(token + "x", "org_1"),
        UserContextCache.key(token, "org_2"),
        UserContextCache.key(token, None),
        # No ambiguity from the separator: org "a\nb" + token "c" vs org "a" + token "b\nc".
        UserContextCache.key("c", "a\nb"),
        UserContextCache.key("b\nc", "a"),
    }
    assert len(keys) == 6
    assert all(token not in k and len(k) == 64 for k in keys)


def test_ttl_zero_is_off() -> None:
    assert not UserContextCache(ttl_seconds=0, max_entries=10).enabled
    assert UserContextCache(ttl_seconds=0.5, max_entries=10).enabled


# --- the Authenticator over the real Worker (round trips counted in its D1) -------------------


@pytest.fixture
async def worker_client(worker_stack: WorkerStack) -> AsyncIterator[WorkerClient]:
    client = WorkerClient(worker_stack.url, worker_stack.api_key, timeout_seconds=3)
    await client.open()
    yield client
    await client.close()


MakeAuth = Callable[..., tuple[Authenticator, Clock]]


@pytest.fixture
def make_auth(worker_client: WorkerClient) -> MakeAuth:
    def make(ttl: float = 30, max_entries: int = 100) -> tuple[Authenticator, Clock]:
        clock = Clock()
        cache = UserContextCache(ttl_seconds=ttl, max_entries=max_entries, clock=clock)
        return Authenticator(worker_client, cache), clock

    return make


async def test_a_second_request_within_the_ttl_asks_the_worker_nothing(
    worker_stack: WorkerStack, make_auth: MakeAuth
) -> None:
    auth, clock = make_auth(ttl=30)
    org = worker_stack.acme_org_id
    first = await auth.organization_access(request_with(worker_stack.owner.token), org)
    trips = worker_stack.db.round_trips
    again = await auth.organization_access(request_with(worker_stack.owner.token), org)
    assert worker_stack.db.round_trips == trips
    assert again == first
    # Another member's token is another entry: it is verified, and gets its own role.
    admin = await auth.organization_access(request_with(worker_stack.admin.token), org)
    assert worker_stack.db.round_trips > trips
    assert (admin.user_id, admin.role) == (worker_stack.admin.user_id, "admin")
    # After the TTL the Worker is asked again, and sees a change made meanwhile.
    worker_stack.execute(
        "UPDATE organization SET stripe_connect_status = 'active' WHERE id = ?", org
    )
    stale = await auth.organization_access(request_with(worker_stack.owner.token), org)
    assert stale.organization.stripe_connect_status is None
    clock.now += 30
    trips = worker_stack.db.round_trips
    fresh = await auth.organization_access(request_with(worker_stack.owner.token), org)
    assert worker_stack.db.round_trips > trips
    assert fresh.organization.stripe_connect_status == "active"


async def test_refusals_are_never_cached(worker_stack: WorkerStack, make_auth: MakeAuth) -> None:
    auth, _ = make_auth(ttl=30)
    org = worker_stack.acme_org_id
    for _ in range(2):
        trips = worker_stack.db.round_trips
        with pytest.raises(Unauthorized):
            await auth.organization_access(request_with("not-a-session-token"), org)
        # (An unknown raw token is looked up in D1: each attempt is a round trip.)
        assert worker_stack.db.round_trips > trips
    for _ in range(2):
        trips = worker_stack.db.round_trips
        with pytest.raises(Forbidden):
            await auth.organization_access(request_with(worker_stack.outsider.token), org)
        assert worker_stack.db.round_trips > trips
    # A session revoked after a refusal is refused too: nothing was remembered for it.
    worker_stack.execute("DELETE FROM session WHERE id = ?", worker_stack.member.session.session_id)
    with pytest.raises(Unauthorized):
        await auth.organization_access(request_with(worker_stack.member.token), org)


async def test_ttl_zero_asks_the_worker_every_time(
    worker_stack: WorkerStack, make_auth: MakeAuth
) -> None:
    auth, _ = make_auth(ttl=0)
    org = worker_stack.acme_org_id
    await auth.organization_access(request_with(worker_stack.owner.token), org)
    trips = worker_stack.db.round_trips
    await auth.organization_access(request_with(worker_stack.owner.token), org)
    assert worker_stack.db.round_trips > trips
    worker_stack.execute("DELETE FROM session WHERE id = ?", worker_stack.owner.session.session_id)
    with pytest.raises(Unauthorized):
        await auth.organization_access(request_with(worker_stack.owner.token), org)


async def test_an_evicted_entry_is_verified_again(
    worker_stack: WorkerStack, make_auth: MakeAuth
) -> None:
    auth, _ = make_auth(ttl=30, max_entries=1)
    org = worker_stack.acme_org_id
    await auth.organization_access(request_with(worker_stack.owner.token), org)
    await auth.organization_access(request_with(worker_stack.admin.token), org)  # evicts owner
    trips = worker_stack.db.round_trips
    await auth.organization_access(request_with(worker_stack.owner.token), org)
    assert worker_stack.db.round_trips > trips


# --- through the backend ---------------------------------------------------------------------


async def test_status_route_with_the_cache_on_serves_the_worker_once_per_ttl(
    make_backend: Callable[..., BackendStack],
) -> None:
    stack = make_backend(env={"USER_CONTEXT_CACHE_TTL_SECONDS": "60"})
    db = stack.worker.db
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        path = f"/api/connect/status/{stack.org_id}"
        first = await http.get(path, headers=stack.auth("member"))
        assert first.status_code == 200, first.text
        trips = db.round_trips
        for _ in range(3):
            again = await http.get(path, headers=stack.auth("member"))
            assert again.json() == first.json()
        assert db.round_trips == trips
        # Failures still reach the Worker every time.
        for _ in range(2):
            before = db.round_trips
            denied = await http.get(path, headers=stack.auth("outsider"))
            assert denied.status_code == 403
            assert db.round_trips > before


async def test_actions_that_move_money_never_use_the_cache(
    worker_stack: WorkerStack, make_auth: MakeAuth
) -> None:
    auth, _ = make_auth(ttl=30)
    org = worker_stack.acme_org_id
    await auth.organization_access(request_with(worker_stack.owner.token), org)
    worker_stack.execute(
        "UPDATE organization SET stripe_connect_status = 'disabled' WHERE id = ?", org
    )
    trips = worker_stack.db.round_trips
    fresh = await auth.organization_access(
        request_with(worker_stack.owner.token), org, roles=MANAGER_ROLES, fresh=True
    )
    assert worker_stack.db.round_trips > trips
    assert fresh.organization.stripe_connect_status == "disabled"
    # A revoked session is refused at once on the fresh path, whatever the cache holds.
    worker_stack.execute("DELETE FROM session WHERE id = ?", worker_stack.owner.session.session_id)
    with pytest.raises(Unauthorized):
        await auth.organization_access(
            request_with(worker_stack.owner.token), org, roles=MANAGER_ROLES, fresh=True
        )
