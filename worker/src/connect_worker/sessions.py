"""Better Auth's `session`, `user`, `member` and `jwks` tables: who a token belongs to (`jwks`
only when the platform has the `jwt()` plugin: without it every JWT is an invalid token).

Each lookup is ONE batch (one D1 round trip): the principal with every membership in one
statement and — when asked — the organization by id, answered only when a membership names it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from connect_worker import kv_sessions, organizations
from connect_worker.clock import parse_timestamp
from connect_worker.d1 import D1Database, D1Result, D1Statement, Row
from connect_worker.deps import Deps
from connect_worker.errors import ApiError
from connect_worker.jwt import claims_acceptable, looks_like_jwt, parse_jwt, verify_signature
from connect_worker.organizations import Organization
from connect_worker.route import ID, Body, Params, Route
from connect_worker.session_tokens import parse_session_token
from connect_worker.validation import MAX_TOKEN, nullable, optional, required, string

# Written with Better Auth's default names, every column qualified: `Deps.db` puts the platform's
# names in (`auth_schema`), so the same text serves every description. Ids are read as text:
# serial ids too (the contract's ids are strings; D1 never hands Pyodide a number for one).
_USER_COLUMNS = (
    'CAST("user"."id" AS TEXT) AS "user_id", "user"."name" AS "user_name", '
    '"user"."email" AS "user_email", '
    '"user"."emailVerified" AS "user_email_verified", "user"."image" AS "user_image"'
)
# The principal and every membership in one statement: a row per membership (the member columns
# NULL when there is none; `member.organizationId` is NOT NULL, so NULL only means "no row").
_MEMBERSHIP_COLUMNS = (
    'CAST("member"."organizationId" AS TEXT) AS "organization_id", "member"."role" AS "role"'
)
_MEMBERSHIP_ORDER = 'ORDER BY "member"."createdAt", "member"."id"'
_SESSION = (
    'SELECT CAST("session"."id" AS TEXT) AS "session_id", '
    '"session"."expiresAt" AS "session_expires_at", '
    f'CAST("session"."activeOrganizationId" AS TEXT) AS "active_organization_id", '
    f"{_USER_COLUMNS}, "
    f'{_MEMBERSHIP_COLUMNS} FROM "session" JOIN "user" ON "user"."id" = "session"."userId" '
    'LEFT JOIN "member" ON "member"."userId" = "session"."userId" '
    f'WHERE "session"."token" = ? {_MEMBERSHIP_ORDER}'
)
_JWKS = (
    'SELECT "jwks"."publicKey" AS "public_key", "jwks"."alg" AS "alg" FROM "jwks" '
    'WHERE "jwks"."id" = ?'
)
_USER = (
    f'SELECT {_USER_COLUMNS}, {_MEMBERSHIP_COLUMNS} FROM "user" '
    'LEFT JOIN "member" ON "member"."userId" = "user"."id" '
    f'WHERE "user"."id" = ? {_MEMBERSHIP_ORDER}'
)
# The organization by its primary key; whether the principal may see it is decided against the
# memberships read in the same batch.
_ORG = organizations.SELECT_BY_ID


# --- route: verify-user-context -------------------------------------------------------------


class User(NamedTuple):
    id: str
    name: str
    email: str
    email_verified: bool
    image: str | None


class Session(NamedTuple):
    id: str
    expires_at: str
    active_organization_id: str | None


class Membership(NamedTuple):
    organization_id: str
    role: str


class UserContext(NamedTuple):
    """Who the token belongs to and, when asked about an organization, their role in it."""

    user: User
    session: Session | None
    token_type: str
    active_organization_id: str | None
    memberships: list[Membership]
    organization: Organization | None
    role: str | None


def invalid_token() -> ApiError:
    # One message for every token problem: the caller learns nothing about which check failed.
    return ApiError("invalid_token", "The token is invalid or expired.")


VERIFY_FIELDS = {
    "token": required(string(max_len=MAX_TOKEN)),
    "organization_id": optional(nullable(ID)),
}


async def verify_user_context(deps: Deps, params: Params, body: Body) -> UserContext:
    token: str = body["token"]
    organization_id: str | None = body.get("organization_id")
    if looks_like_jwt(token):
        return await _verify_jwt(deps, token, organization_id)
    parsed = parse_session_token(
        token,
        secret=deps.config.better_auth_secret,
        require_signed=deps.config.require_signed_tokens,
    )
    if parsed is None:
        raise invalid_token()
    source = SESSION_SOURCES.get(deps.config.session_storage)
    if source is None:
        raise ApiError("misconfigured", "This Worker cannot read sessions from where they live.")
    found = await source(deps, parsed.token, organization_id)
    if found is None:
        raise invalid_token()
    session, principal_rows, organization = found
    expires_at = parse_timestamp(session.expires_at)
    if expires_at is None or expires_at <= deps.now():
        raise invalid_token()
    return _context(principal_rows, organization, organization_id, "session", session)


# Where a session token is looked up: the session, the principal once per membership and, when
# asked, the organization's result. One source per `session_storage` of the description.
SessionFound = tuple["Session", list[Row], list[D1Result]]
SessionSource = Callable[[Deps, str, "str | None"], Awaitable["SessionFound | None"]]


async def _from_database(
    deps: Deps, token: str, organization_id: str | None
) -> SessionFound | None:
    """Session, user and memberships from D1 in one statement (one batch with the org)."""
    db = deps.db
    statements = [db.prepare(_SESSION).bind(token)]
    if organization_id is not None:
        statements.append(db.prepare(_ORG).bind(organization_id))
    principal, *organization = await db.batch(statements)
    row = principal.first_row
    if row is None:
        return None
    session = Session(row["session_id"], row["session_expires_at"], row["active_organization_id"])
    return session, principal.rows, organization


def principal_statements(
    db: D1Database, user_id: str, organization_id: str | None
) -> list[D1Statement]:
    """The user with every membership and, when asked, the organization: what a JWT (and a
    session held outside D1) needs from D1 once it names its user. One batch's worth."""
    statements = [db.prepare(_USER).bind(user_id)]
    if organization_id is not None:
        statements.append(db.prepare(_ORG).bind(organization_id))
    return statements


async def _from_secondary(
    deps: Deps, token: str, organization_id: str | None
) -> SessionFound | None:
    """The session from Better Auth's secondary storage (KV); the user, memberships and
    organization from D1, read while the revoked-before mark is read from KV."""
    if deps.kv is None:
        raise ApiError("misconfigured", "The Worker is misconfigured.")
    stored = await kv_sessions.find(deps.kv, token, now=deps.now())
    if stored is None:
        return None
    statements = principal_statements(deps.db, str(stored.user_id), organization_id)
    revoked, (user, *organization) = await asyncio.gather(
        kv_sessions.revoked(deps.kv, stored), deps.db.batch(statements)
    )
    if revoked or not user.rows:
        return None
    # Ids as text, as the D1 path reads them (serial ids are numbers in Better Auth's JSON).
    active = stored.active_organization_id
    session = Session(str(stored.id), stored.expires_at, None if active is None else str(active))
    return session, user.rows, organization


async def _verify_jwt(deps: Deps, token: str, organization_id: str | None) -> UserContext:
    if not deps.config.auth_schema.has_jwt_keys:
        # No `jwt()` plugin on the platform: no key could have signed it (and no `jwks` to ask).
        raise invalid_token()
    parsed = parse_jwt(token)
    if parsed is None or parsed.subject is None:
        raise invalid_token()
    if not claims_acceptable(
        parsed.claims,
        now=deps.now(),
        issuer=deps.config.jwt_issuer,
        audience=deps.config.jwt_audience,
    ):
        raise invalid_token()
    # Key and principal in one batch: the signature is verified before either is trusted.
    db = deps.db
    statements = [db.prepare(_JWKS).bind(parsed.kid)]
    statements += principal_statements(db, parsed.subject, organization_id)
    key, user, *organization = await db.batch(statements)
    jwk = key.first_row
    if jwk is None or jwk.get("alg") not in (None, "EdDSA"):
        raise invalid_token()
    if not await verify_signature(parsed, str(jwk["public_key"]), deps.verifier):
        raise invalid_token()
    if not user.rows:
        raise invalid_token()
    return _context(user.rows, organization, organization_id, "jwt", None)


def _context(
    rows: list[Row],  # the principal, once per membership
    org_result: list[D1Result],  # the organization's, when one was asked for
    organization_id: str | None,
    token_type: str,
    session: Session | None,
) -> UserContext:
    memberships = [
        Membership(r["organization_id"], r["role"])
        for r in rows
        if r["organization_id"] is not None
    ]
    organization: Organization | None = None
    role: str | None = None
    if organization_id is not None:
        # Same answer for an organization that does not exist and one the user is not in.
        role = next((m.role for m in memberships if m.organization_id == organization_id), None)
        org_row = org_result[0].first_row
        if role is None or org_row is None:
            raise ApiError("forbidden", "Not a member of this organization.")
        organization = organizations.to_model(org_row)
    row = rows[0]
    user = User(
        row["user_id"],
        row["user_name"],
        row["user_email"],
        bool(row["user_email_verified"]),
        row["user_image"],
    )
    active = session.active_organization_id if session else None
    return UserContext(user, session, token_type, active, memberships, organization, role)


ROUTES = {("POST", "/verify-user-context"): Route(verify_user_context, VERIFY_FIELDS)}


SESSION_SOURCES: dict[str, SessionSource] = {
    kv_sessions.DATABASE: _from_database,
    kv_sessions.SECONDARY: _from_secondary,
}
