"""Who is calling, and may they touch this organization? One Worker call answers both.

The token is read from the `Authorization` header only (never a query string, which ends up in
logs). `X-User-ID` is never trusted: when present it must equal the verified user, else 403. An
`X-Org-ID` beside an organization in the path or body must name the same one, else 400. A
foreign organization and a non-existent one get the same 403 (the Worker already answers so).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

from backend.core.errors import Forbidden, InvalidRequest, Unauthorized
from backend.core.roles import MANAGER_ROLES, holds_any
from backend.worker_side.worker_client import WorkerClient
from backend.worker_side.worker_models import Organization, UserContext

MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class OrgAccess:
    user_id: str
    organization: Organization
    role: str
    email_verified: bool = False


class UserContextCache:
    """Verified contexts for `ttl` seconds, keyed by sha256(organization id, token) — the token
    itself is not kept.

    What is cached is the whole answer of the one-call path: the user, the role *and the
    organization with its Connect state*. Off by default (ttl 0): with it on, a revoked session, a
    changed role and the organization's Connect status / fee are all up to `ttl` seconds old
    (never older: an entry is dropped once its TTL has passed) — for reads only: callers that
    move money pass `fresh=True` and always reach the Worker. Failures (401/403) are never
    cached. At most `max_entries` are kept; the oldest stored goes first.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, UserContext]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    @staticmethod
    def key(token: str, organization_id: str | None) -> str:
        # JSON, not a separator: no (organization, token) pair can spell another pair's key.
        return hashlib.sha256(json.dumps([organization_id, token]).encode()).hexdigest()

    def get(self, key: str) -> UserContext | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, context = entry
        if self._clock() >= expires:
            self._entries.pop(key, None)
            return None
        return context

    def put(self, key: str, context: UserContext) -> None:
        self._entries[key] = (self._clock() + self._ttl, context)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class CallerHeaders:
    """The three headers `organization_access` reads, found in one pass over the raw list (each
    `request.headers.get` scans and decodes that list anew)."""

    authorization: str | None = None
    org_id: str | None = None
    user_id: str | None = None


def caller_headers(raw: Iterable[tuple[bytes, bytes]]) -> CallerHeaders:
    """As `request.headers.get` reads them: the first of a repeated header wins, latin-1 decoded,
    names compared as the server lowercased them."""
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        if name in _CALLER_HEADERS and name not in found:
            found[name] = value
    if not found:
        return _NO_HEADERS
    authorization = found.get(b"authorization")
    org_id = found.get(b"x-org-id")
    user_id = found.get(b"x-user-id")
    return CallerHeaders(
        authorization=None if authorization is None else authorization.decode("latin-1"),
        org_id=None if org_id is None else org_id.decode("latin-1"),
        user_id=None if user_id is None else user_id.decode("latin-1"),
    )


_CALLER_HEADERS = frozenset({b"authorization", b"x-org-id", b"x-user-id"})
_NO_HEADERS = CallerHeaders()


def bearer_token(request: Request) -> str:
    return token_of(request.headers.get("authorization"))


def token_of(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value, or 401."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(code="missing_token", message="Send Authorization: Bearer <token>.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized()
    return token


def require_same_organization(request: Request, organization_id: str) -> None:
    """Two organizations named (path/body vs header): never guess which one was meant."""
    same_organization(request.headers.get("x-org-id"), organization_id)


def same_organization(header_org: str | None, organization_id: str) -> None:
    if header_org is not None and header_org != organization_id:
        raise InvalidRequest(
            code="organization_mismatch",
            message="The organization in the request and X-Org-ID differ.",
        )


class Authenticator:
    def __init__(self, worker: WorkerClient, cache: UserContextCache) -> None:
        self._worker = worker
        self._cache = cache

    async def _context(
        self, token: str, organization_id: str | None, *, fresh: bool = False
    ) -> UserContext:
        key = UserContextCache.key(token, organization_id) if self._cache.enabled else ""
        if key and not fresh:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        context = await self._worker.verify_user_context(token, organization_id=organization_id)
        if key:
            self._cache.put(key, context)
        return context

    async def organization_access(
        self,
        request: Request,
        organization_id: str,
        *,
        roles: tuple[str, ...] = (),
        fresh: bool = False,
    ) -> OrgAccess:
        """The caller's verified access to `organization_id`, or 401/403.

        `fresh` skips the cache: actions that move money or create accounts must see the current
        session, role, Connect status and fee, never a copy up to a TTL old.
        """
        headers = caller_headers(request.scope["headers"])
        token = token_of(headers.authorization)
        same_organization(headers.org_id, organization_id)
        if not organization_id or len(organization_id) > 128:
            # Still verify the token first so a bad token is 401 whatever the org id.
            await self._context(token, None)
            raise Forbidden()
        context = await self._context(token, organization_id, fresh=fresh)
        claimed_user = headers.user_id
        if claimed_user is not None and claimed_user != context.user.id:
            raise Forbidden(code="user_mismatch", message="X-User-ID does not match the session.")
        if (
            context.organization is None
            or context.role is None
            or context.organization.id != organization_id
        ):
            raise Forbidden()
        access = OrgAccess(
            user_id=context.user.id,
            organization=context.organization,
            role=context.role,
            email_verified=context.user.email_verified,
        )
        if roles and not holds_any(access.role, roles):
            raise Forbidden(
                code="insufficient_role",
                message="This action needs the owner or admin role in the organization.",
            )
        return access

    async def manager_access(self, request: Request, organization_id: str) -> OrgAccess:
        """An owner's or admin's access, for an action that moves money or creates accounts: always
        checked against the current session, role and Connect state, never the cache."""
        return await self.organization_access(
            request, organization_id, roles=MANAGER_ROLES, fresh=True
        )
