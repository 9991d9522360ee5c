"""Organization roles exactly as Better Auth reads `member.role` (1.7.x, `parseRoleList`).

The column holds one role or several joined by `,`. Better Auth splits on `,`, trims each part
with JavaScript's `String.prototype.trim`, drops empty parts and compares names case-sensitively.
Python's `str.strip()` trims a different set (it also drops `\\x1c`-`\\x1f` and NEL, and keeps the
BOM), so the JavaScript set is spelt out here: a role string must grant here exactly what it grants
in the platform's own Better Auth app. Verified against the library in
`tests/fixtures/better_auth_roles/`.
"""

from __future__ import annotations

# ECMAScript WhiteSpace and LineTerminator: what String.prototype.trim removes.
JS_TRIM_CHARACTERS = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)

# The roles that manage an organization's money and Connect settings (Better Auth's defaults).
MANAGER_ROLES = ("owner", "admin")


def role_names(role: str) -> list[str]:
    """The role names a `member.role` value holds, as Better Auth's `parseRoleList` gives them."""
    names = (part.strip(JS_TRIM_CHARACTERS) for part in role.split(","))
    return [name for name in names if name]


def holds_any(role: str, wanted: tuple[str, ...]) -> bool:
    held = role_names(role)
    return any(name in held for name in wanted)
