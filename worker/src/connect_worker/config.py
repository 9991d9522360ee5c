"""Worker settings from the environment (`wrangler.toml` vars and secrets), validated once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from connect_worker import kv_sessions
from connect_worker.auth_schema import (
    DEFAULT,
    AuthSchema,
    SchemaDescriptionError,
    parse,
    sessions_in_kv,
)

MIN_API_KEY_LENGTH = 32
MIN_AUTH_SECRET_LENGTH = 32
MIN_RETENTION_DAYS = 4  # Stripe retries an event for 3 days; dedupe must outlive that.
# A finished transfer/payout row is what answers a client's retry with the first result, long after
# Stripe's 24-hour idempotency window; keep it well past any retry and a reconciliation cycle.
MIN_LEDGER_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 36500


# Every setting `load_config` reads (vars in wrangler.toml, or secrets); adapters copy these names.
SETTING_NAMES = (
    "INTERNAL_API_KEYS",
    "INTERNAL_API_KEY",
    "BETTER_AUTH_SECRET",
    "BETTER_AUTH_REQUIRE_SIGNED_TOKENS",
    "BETTER_AUTH_JWT_ISSUER",
    "BETTER_AUTH_JWT_AUDIENCE",
    kv_sessions.SETTING,
    "WEBHOOK_EVENT_RETENTION_DAYS",
    "LEDGER_RETENTION_DAYS",
    "PLATFORM_FEE_MIN_PERCENT",
    "PLATFORM_FEE_MAX_PERCENT",
    "BETTER_AUTH_SCHEMA",
)


class ConfigError(ValueError):
    """Raised at startup; the message never contains a secret."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    version: str
    key: str

    def __repr__(self) -> str:  # keys must never reach a log line through repr()
        return f"ApiKey(version={self.version!r}, key=<redacted>)"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    api_keys: tuple[ApiKey, ...]
    better_auth_secret: str
    require_signed_tokens: bool = False
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    webhook_event_retention_days: int = 30
    ledger_retention_days: int = 400
    platform_fee_min_percent: float = 0.0
    platform_fee_max_percent: float = 50.0
    # Where the platform's Better Auth keeps sessions: "database" (D1) or "secondary" (KV).
    session_storage: str = kv_sessions.DATABASE
    # The platform's Better Auth names (`make better-auth-schema`); unset: Better Auth's defaults.
    auth_schema: AuthSchema = DEFAULT

    def __repr__(self) -> str:
        return (
            f"WorkerConfig(api_key_versions={[k.version for k in self.api_keys]!r}, "
            f"require_signed_tokens={self.require_signed_tokens!r}, "
            f"jwt_issuer={self.jwt_issuer!r}, jwt_audience={self.jwt_audience!r}, "
            f"session_storage={self.session_storage!r})"
        )


def parse_api_keys(value: str, name: str = "INTERNAL_API_KEYS") -> tuple[ApiKey, ...]:
    """`v2:<key>,v1:<key>`; a key without a version is labelled by its position."""
    keys: list[ApiKey] = []
    for index, entry in enumerate(part.strip() for part in value.split(",")):
        if not entry:
            continue
        version, sep, key = entry.partition(":")
        if not sep:
            version, key = f"k{index + 1}", entry
        version, key = version.strip(), key.strip()
        if not version:
            raise ConfigError(f"{name} entry {index + 1} has an empty version label")
        if len(key) < MIN_API_KEY_LENGTH:
            raise ConfigError(
                f"{name} key {version!r} is shorter than {MIN_API_KEY_LENGTH} characters"
            )
        if any(k.version == version for k in keys):
            raise ConfigError(f"{name} has the version {version!r} twice")
        keys.append(ApiKey(version=version, key=key))
    if not keys:
        raise ConfigError(f"{name} is empty: set at least one key (`make api-key`)")
    return tuple(keys)


def api_keys_from(env: Mapping[str, str]) -> tuple[ApiKey, ...]:
    """`INTERNAL_API_KEYS` (several, for rotation) or `INTERNAL_API_KEY` (one, as the seed's
    `wrangler secret put INTERNAL_API_KEY` stores it) — never both: with two sources, removing a
    key from one would leave it accepted through the other."""
    several = (env.get("INTERNAL_API_KEYS") or "").strip()
    one = (env.get("INTERNAL_API_KEY") or "").strip()
    if several and one:
        raise ConfigError(
            "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set: keep one (INTERNAL_API_KEYS "
            "for rotation) and delete the other (`wrangler secret delete INTERNAL_API_KEY`)"
        )
    if not several and not one:
        raise ConfigError("INTERNAL_API_KEYS (or INTERNAL_API_KEY) is not set (`make api-key`)")
    if not one:
        return parse_api_keys(several)
    keys = parse_api_keys(one, "INTERNAL_API_KEY")
    if len(keys) > 1:
        raise ConfigError("INTERNAL_API_KEY holds one key: put several in INTERNAL_API_KEYS")
    return keys


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number") from None


def _days(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    days = _number(env, name, default)
    if not math.isfinite(days) or days != int(days) or not minimum <= days <= MAX_RETENTION_DAYS:
        raise ConfigError(f"{name} must be a whole number of days, {minimum}..{MAX_RETENTION_DAYS}")
    return int(days)


def _optional(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    return raw.strip() or None if raw is not None else None


def load_config(env: Mapping[str, str]) -> WorkerConfig:
    secret = env.get("BETTER_AUTH_SECRET", "")
    if len(secret) < MIN_AUTH_SECRET_LENGTH:
        raise ConfigError(
            f"BETTER_AUTH_SECRET must be set and at least {MIN_AUTH_SECRET_LENGTH} characters"
        )
    retention = _days(env, "WEBHOOK_EVENT_RETENTION_DAYS", 30, minimum=MIN_RETENTION_DAYS)
    ledger_retention = _days(env, "LEDGER_RETENTION_DAYS", 400, minimum=MIN_LEDGER_RETENTION_DAYS)
    fee_min = _number(env, "PLATFORM_FEE_MIN_PERCENT", 0.0)
    fee_max = _number(env, "PLATFORM_FEE_MAX_PERCENT", 50.0)
    if not 0 <= fee_min <= fee_max <= 100:
        raise ConfigError("need 0 <= PLATFORM_FEE_MIN_PERCENT <= PLATFORM_FEE_MAX_PERCENT <= 100")
    schema = _auth_schema(env)
    # Where sessions live: the description says it (`make better-auth-schema`); the explicit
    # setting may repeat it, never contradict it (one source of truth).
    storage = (env.get(kv_sessions.SETTING) or "").strip().lower() or schema.session_storage
    if storage not in kv_sessions.STORAGES:
        raise ConfigError(f"{kv_sessions.SETTING} must be one of {', '.join(kv_sessions.STORAGES)}")
    if storage != schema.session_storage and "BETTER_AUTH_SCHEMA" not in env:
        schema = sessions_in_kv(schema)  # Better Auth's default names, sessions in KV
    if storage != schema.session_storage:
        raise ConfigError(
            f"{kv_sessions.SETTING}={storage} but BETTER_AUTH_SCHEMA says sessions live in "
            f"{schema.session_storage!r}: set one (make better-auth-schema writes the description)"
        )
    return WorkerConfig(
        api_keys=api_keys_from(env),
        better_auth_secret=secret,
        require_signed_tokens=_bool(env, "BETTER_AUTH_REQUIRE_SIGNED_TOKENS", False),
        jwt_issuer=_optional(env, "BETTER_AUTH_JWT_ISSUER"),
        jwt_audience=_optional(env, "BETTER_AUTH_JWT_AUDIENCE"),
        webhook_event_retention_days=retention,
        ledger_retention_days=ledger_retention,
        platform_fee_min_percent=fee_min,
        platform_fee_max_percent=fee_max,
        session_storage=storage,
        auth_schema=schema,
    )


def _auth_schema(env: Mapping[str, str]) -> AuthSchema:
    raw = _optional(env, "BETTER_AUTH_SCHEMA")
    if raw is None:
        return DEFAULT
    try:
        return parse(raw)
    except SchemaDescriptionError as exc:
        raise ConfigError(f"BETTER_AUTH_SCHEMA: {exc}") from None
