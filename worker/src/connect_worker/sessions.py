"""SQL over Better Auth's `session`, `user`, `member` and `jwks` tables for token verification.

Each lookup is ONE batch (one D1 round trip): the principal, every membership and — when asked —
the organization, joined through the membership so a non-member gets no organization row.
"""

from __future__ import annotations

from dataclasses import dataclass

from connect_worker import organizations
from connect_worker.d1 import D1Database, Row

_USER_COLUMNS = (
    'u."id" AS "user_id", u."name" AS "user_name", u."email" AS "user_email", '
    'u."emailVerified" AS "user_email_verified", u."image" AS "user_image"'
)
_ORG_COLUMNS = organizations.select_columns("o")

_SESSION = (
    f'SELECT s."id" AS "session_id", s."expiresAt" AS "session_expires_at", '
    f's."activeOrganizationId" AS "active_organization_id", {_USER_COLUMNS} '
    'FROM "session" s JOIN "user" u ON u."id" = s."userId" WHERE s."token" = ?'
)
_MEMBERSHIPS_OF_SESSION = (
    'SELECT m."organizationId" AS "organization_id", m."role" AS "role" '
    'FROM "session" s JOIN "member" m ON m."userId" = s."userId" '
    'WHERE s."token" = ? ORDER BY m."createdAt", m."id"'
)
_ORG_OF_SESSION = (
    f'SELECT {_ORG_COLUMNS} FROM "session" s '
    'JOIN "member" m ON m."userId" = s."userId" '
    'JOIN "organization" o ON o."id" = m."organizationId" '
    'WHERE s."token" = ? AND o."id" = ? LIMIT 1'
)

_JWKS = 'SELECT "publicKey" AS "public_key", "alg" AS "alg" FROM "jwks" WHERE "id" = ?'
_USER = f'SELECT {_USER_COLUMNS} FROM "user" u WHERE u."id" = ?'
_MEMBERSHIPS_BY_USER = (
    'SELECT m."organizationId" AS "organization_id", m."role" AS "role" '
    'FROM "member" m WHERE m."userId" = ? ORDER BY m."createdAt", m."id"'
)
_ORG_BY_USER = (
    f'SELECT {_ORG_COLUMNS} FROM "member" m '
    'JOIN "organization" o ON o."id" = m."organizationId" '
    'WHERE m."userId" = ? AND o."id" = ? LIMIT 1'
)


@dataclass(frozen=True, slots=True)
class Principal:
    """What one batch returned: the session/user row (None when unknown), memberships, org."""

    row: Row | None
    memberships: list[Row]
    organization: Row | None
    jwk: Row | None = None


async def load_by_session_token(
    db: D1Database, token: str, organization_id: str | None
) -> Principal:
    statements = [
        db.prepare(_SESSION).bind(token),
        db.prepare(_MEMBERSHIPS_OF_SESSION).bind(token),
    ]
    if organization_id is not None:
        statements.append(db.prepare(_ORG_OF_SESSION).bind(token, organization_id))
    results = await db.batch(statements)
    return Principal(
        row=results[0].first_row,
        memberships=results[1].rows,
        organization=results[2].first_row if len(results) > 2 else None,
    )


async def load_by_jwt(
    db: D1Database, kid: str, user_id: str, organization_id: str | None
) -> Principal:
    """Key and principal in one batch; the caller verifies the signature before trusting either."""
    statements = [
        db.prepare(_JWKS).bind(kid),
        db.prepare(_USER).bind(user_id),
        db.prepare(_MEMBERSHIPS_BY_USER).bind(user_id),
    ]
    if organization_id is not None:
        statements.append(db.prepare(_ORG_BY_USER).bind(user_id, organization_id))
    results = await db.batch(statements)
    return Principal(
        jwk=results[0].first_row,
        row=results[1].first_row,
        memberships=results[2].rows,
        organization=results[3].first_row if len(results) > 3 else None,
    )
