"""Configuration: one object read from the environment at startup, refused early when wrong.

A replica that starts with a half-valid configuration fails later, on a customer's request, with an
error nobody can tie back to the deploy. So everything is validated here, and the error names each
bad variable on its own line without ever echoing its value (they are secrets).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.core.models import CollectionFields
from backend.core.records import AccountProfile

MIN_INTERNAL_API_KEY_LENGTH = 32

CommaList = Annotated[tuple[str, ...], NoDecode]
MinimumAmounts = Annotated[dict[str, int], NoDecode]

# The smallest transfer per currency (gross, minor units) unless MIN_TRANSFER_AMOUNTS says
# otherwise: Stripe's minimum charge amounts, so a payment is never split into crumbs whose fee
# rounds to nothing. Currencies not listed: 1.
DEFAULT_MIN_TRANSFER_AMOUNTS = "usd:50,eur:50,gbp:30,cad:50,aud:50,chf:50,jpy:50"


class SettingsError(Exception):
    """Invalid startup configuration; `str()` is one line per bad variable, values never shown."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid backend configuration:\n" + "\n".join(f"  {p}" for p in problems))


def _comma_list(value: object, *, at_least_one: str = "") -> object:
    """A comma-separated variable as the tuple of its non-blank entries (pydantic checks anything
    else); `at_least_one`: what an empty one lacks, when it must not be empty."""
    if isinstance(value, str):
        value = tuple(part.strip() for part in value.split(",") if part.strip())
    if at_least_one and value == ():
        raise ValueError(f"needs at least one {at_least_one} (comma-separated)")
    return value


def _http_url(value: str, *, example: str, plain_http: str) -> str:
    """The URL without a trailing slash, if http(s) with a host; plain http only to loopback."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as {example}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(plain_http)
    return value.strip().rstrip("/")


def _secret_text(value: object) -> str:
    """A setting's text, stripped ("" when unset), whether given as text or as a SecretStr."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value.strip() if isinstance(value, str) else ""


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` in lower case, or ValueError: CORS and redirects compare these."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("each origin must look like https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("an origin has no path, query, fragment or user info")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("an origin has an invalid port") from None
    netloc = parts.hostname.lower() if port is None else f"{parts.hostname.lower()}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        netloc = f"[{parts.hostname.lower()}]" + (f":{port}" if port is not None else "")
    return f"{parts.scheme}://{netloc}"


def parse_minimums(value: str) -> dict[str, int]:
    """`usd:50,eur:50` → {"usd": 50, "eur": 50}."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        currency, sep, amount = part.partition(":")
        currency = currency.strip().lower()
        if not sep or len(currency) != 3 or not currency.isalpha() or not amount.isdigit():
            raise ValueError("must look like usd:50,eur:50 (currency:minor units)")
        if not 1 <= int(amount) <= 99_999_999:
            raise ValueError("each minimum must lie between 1 and 99999999")
        out[currency] = int(amount)
    return out


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    stripe_secret_key: SecretStr
    stripe_webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode]
    stripe_api_base: str | None = None
    worker_url: str
    internal_api_key: SecretStr
    # The Worker's own form (`v2:<new>,v1:<old>`, newest first), for a deploy that shares one
    # variable between both: the backend presents its first key. Never together with the above.
    internal_api_keys: SecretStr | None = Field(default=None, repr=False)
    frontend_origins: CommaList
    operator_api_key: SecretStr | None = None
    # The platform's own services (checkout, jobs): create payments for an organization and
    # transfer any organization's payment, server to server, with `X-Platform-Key`.
    platform_api_key: SecretStr | None = None
    min_transfer_amounts: MinimumAmounts = Field(
        default_factory=lambda: parse_minimums(DEFAULT_MIN_TRANSFER_AMOUNTS)
    )
    backend_host: str = "127.0.0.1"
    backend_port: int = Field(default=8000, ge=1, le=65535)
    worker_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Concurrent HTTP connections to the Worker (the pool). Each Worker call holds one for a round
    # trip, so one process serves at most this ÷ RTT Worker calls per second: at 20 ms (Railway →
    # Cloudflare), 100 connections cap it at ~5,000 calls/s. Size it as the calls/s you need × the
    # RTT × ~1.5 (docs/performance.md, "The hop at distance").
    worker_max_connections: int = Field(default=100, ge=1, le=10_000)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    stripe_max_network_retries: int = Field(default=2, ge=0, le=5)
    # Caches the verified user *and the organization it was asked for* (the one-call path), so
    # with a TTL > 0 a revoked session, a changed role and the org's Connect status/fee may be up
    # to this many seconds old (`?refresh=true` still reads Stripe). 0 = off: every request asks
    # the Worker.
    user_context_cache_ttl_seconds: float = Field(default=0.0, ge=0, le=300)
    user_context_cache_max_entries: int = Field(default=10_000, ge=1, le=1_000_000)
    stripe_webhook_tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    # How long a replica holds an event it is processing before another may take it over (if the
    # first died). Longer than the slowest handler (Worker + Stripe timeouts), within the Worker's
    # 1..900 bound.
    webhook_claim_lease_seconds: int = Field(default=120, ge=5, le=900)
    # Reconciliation (backend/reconciliation/reconcile.py). A ledger row Stripe has no object for is
    # refused only once this old: past Stripe's 24 h idempotency window (and the backend's own 23 h
    # resend limit, `money_operation.RESEND_WINDOW`) no request can still make it.
    reconcile_absent_after_seconds: int = Field(default=25 * 3600, ge=24 * 3600, le=30 * 86400)
    # Missed events: a first run looks back this far (Stripe keeps events 30 days); later runs
    # resume from their checkpoint, re-reading this much before it (a replayed event is a no-op).
    reconcile_event_lookback_seconds: int = Field(default=30 * 86400, ge=3600, le=30 * 86400)
    reconcile_event_overlap_seconds: int = Field(default=3600, ge=0, le=86400)
    # A 429 from Stripe: wait (Retry-After, doubling) and try again at most this many times.
    reconcile_rate_limit_retries: int = Field(default=5, ge=0, le=20)
    # Slow or half-open clients (backend/edge/http_guard.py): a request's headers must arrive within
    # the first, its body within the second; a client that stops reading its answers must take
    # some within the third; at most this many connections may wait on their client at once
    # (reading a head or a body, or not reading; past it, the one waiting longest is dropped); a
    # request line plus headers over this many bytes is answered 431.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0, le=900)
    http_write_timeout_seconds: float = Field(default=30.0, gt=0, le=900)
    http_max_pending_connections: int = Field(default=1000, ge=1, le=100_000)
    http_max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=64 * 1024 * 1024)
    # The payout schedules organizations may choose (PAYOUT_SCHEDULE_INTERVALS, comma-separated,
    # of daily, weekly, monthly). `manual` is always allowed: it is how accounts start, and an
    # organization must always be able to stop automatic payouts.
    payout_schedule_intervals: CommaList = ("manual", "daily", "weekly", "monthly")
    # Seals history cursors (backend/edge/cursors.py). Every replica needs the same one; unset, a
    # key is derived one-way from INTERNAL_API_KEY (rotating that key then ends open cursors: a
    # client starts its listing again).
    history_cursor_secret: SecretStr | None = None
    # Onboarding creates a Stripe account: only for a user whose Better Auth email is verified
    # (`user.emailVerified`). Turn off only where sign-up proves the address some other way.
    onboarding_requires_verified_email: bool = True
    # Rate limits (backend/edge/rate_limits.py), per replica: a token bucket refills `per_minute`
    # and holds `burst`. 0 per minute turns one off. See docs/rate-limits.md for sizing with
    # replicas.
    rate_limit_user_per_minute: float = Field(default=30, ge=0, le=60_000)
    rate_limit_user_burst: int = Field(default=10, ge=1, le=10_000)
    rate_limit_organization_per_minute: float = Field(default=60, ge=0, le=60_000)
    rate_limit_organization_burst: int = Field(default=20, ge=1, le=10_000)
    # The share of the platform's Stripe request budget (Stripe allows ~100/s in live mode) that
    # user-initiated calls may take on this replica; webhooks, reconciliation and the platform's
    # own calls (X-Platform-Key, X-Operator-Key) are never counted against it nor held by it.
    stripe_user_budget_per_second: float = Field(default=10, ge=0, le=1000)
    stripe_user_budget_burst: int = Field(default=20, ge=1, le=10_000)
    # Unauthenticated routes, per client address (an IPv6 /64 counts as one): readiness, and
    # webhook deliveries whose signature fails (a valid delivery is never limited).
    rate_limit_address_per_minute: float = Field(default=120, ge=0, le=600_000)
    rate_limit_address_burst: int = Field(default=30, ge=1, le=100_000)
    rate_limit_max_keys: int = Field(default=100_000, ge=100, le=10_000_000)
    # The profile of accounts created from now on (backend/stripe_side/account_profiles.py):
    # `express` (the Express Dashboard) or `custom` (no Stripe dashboard; the platform's UI with
    # Stripe's embedded components). An existing account keeps the profile recorded when it was
    # created.
    connect_account_profile: AccountProfile = "express"
    # What Stripe-hosted onboarding (Account Links) asks for: only what is due now, or also what
    # will be (fewer interruptions later). Stripe's own default is `currently_due`.
    connect_collection_fields: CollectionFields = "eventually_due"
    log_level: str = "info"
    # LOG_FORMAT: `text` for people, `json` (one object per line) for a log pipeline
    # (backend/core/log_format.py). ACCESS_LOG: uvicorn's line per request, in the same format
    # (off by default: ~13% CPU per request, docs/performance.md).
    log_format: Literal["text", "json"] = "text"
    access_log: bool = False

    @field_validator("stripe_secret_key")
    @classmethod
    def _stripe_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if not key.startswith(("sk_", "rk_")) or len(key) < 8:
            raise ValueError("must be a Stripe secret or restricted key (sk_… or rk_…)")
        return SecretStr(key)

    @field_validator("stripe_webhook_secrets", mode="before")
    @classmethod
    def _webhook_secrets(cls, value: object) -> object:
        parts = _comma_list(value, at_least_one="whsec_… secret")
        for part in parts if isinstance(parts, tuple) else ():
            if not (isinstance(part, str) and part.startswith("whsec_") and len(part) > 6):
                raise ValueError("every entry must be a webhook signing secret (whsec_…)")
        return parts

    @field_validator("stripe_api_base", mode="before")
    @classmethod
    def _api_base(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # unset means real Stripe
        if not isinstance(value, str):
            raise ValueError("must be a URL")
        return _http_url(
            value,
            example="http://127.0.0.1:12111",
            plain_http="must be https:// unless it is a loopback address",
        )

    @field_validator("worker_url")
    @classmethod
    def _worker_url(cls, value: str) -> str:
        url = _http_url(
            value,
            example="https://connect-worker.example.com",
            plain_http="must be https:// (the internal API key travels in every request); "
            "plain http:// is allowed only on loopback",
        )
        parts = urlsplit(url)
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must not carry a query, fragment or user info")
        return url

    @model_validator(mode="before")
    @classmethod
    def _one_internal_key_source(cls, data: object) -> object:
        """INTERNAL_API_KEY, or the first key of INTERNAL_API_KEYS; both set is refused (one
        source of truth, as on the Worker)."""
        if not isinstance(data, dict):
            return data
        several, one = (
            _secret_text(data.get(n)) for n in ("internal_api_keys", "internal_api_key")
        )
        if several and one:
            raise ValueError(
                "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set: keep one and unset the other"
            )
        if not several:
            return data
        entries = [part.strip() for part in several.split(",") if part.strip()]
        version, sep, key = (entries[0] if entries else "").partition(":")
        key = (key if sep else version).strip()
        if len(key) < MIN_INTERNAL_API_KEY_LENGTH:
            raise ValueError(
                f"INTERNAL_API_KEYS: its first key must be at least {MIN_INTERNAL_API_KEY_LENGTH} "
                "characters"
            )
        return {**data, "internal_api_key": key, "internal_api_keys": None}

    @field_validator("internal_api_key")
    @classmethod
    def _internal_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if len(key) < MIN_INTERNAL_API_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_INTERNAL_API_KEY_LENGTH} characters")
        return SecretStr(key)

    @field_validator("operator_api_key", "platform_api_key", "history_cursor_secret", mode="before")
    @classmethod
    def _optional_key(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and len(value.strip()) < MIN_INTERNAL_API_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_INTERNAL_API_KEY_LENGTH} characters")
        return value.strip() if isinstance(value, str) else value

    @field_validator("min_transfer_amounts", mode="before")
    @classmethod
    def _minimums(cls, value: object) -> object:
        return parse_minimums(value) if isinstance(value, str) else value

    @field_validator("frontend_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        parts = _comma_list(value, at_least_one="origin")
        if isinstance(parts, tuple):
            return tuple(dict.fromkeys(normalise_origin(str(p)) for p in parts))
        return parts

    @field_validator("payout_schedule_intervals", mode="before")
    @classmethod
    def _payout_intervals(cls, value: object) -> object:
        parts = _comma_list(value)
        if isinstance(parts, tuple):
            lowered = tuple(str(p).lower() for p in parts)
            unknown = [p for p in lowered if p not in ("manual", "daily", "weekly", "monthly")]
            if unknown:
                raise ValueError("each entry must be one of manual, daily, weekly, monthly")
            return tuple(dict.fromkeys(("manual", *lowered)))
        return parts

    @field_validator("connect_account_profile", "connect_collection_fields", mode="before")
    @classmethod
    def _lower_case_choice(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in ("critical", "error", "warning", "info", "debug"):
            raise ValueError("must be one of critical, error, warning, info, debug")
        return level

    def min_transfer(self, currency: str) -> int:
        return self.min_transfer_amounts.get(currency, 1)

    @property
    def history_cursor_root(self) -> bytes:
        root = self.history_cursor_secret or self.internal_api_key
        return root.get_secret_value().encode()

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        return tuple(s.get_secret_value() for s in self.stripe_webhook_secrets)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the environment (or `environ`), raising `SettingsError` on any problem."""
    try:
        if environ is None:
            return Settings()  # type: ignore[call-arg]  # values come from the environment
        lowered = {k.lower(): v for k, v in environ.items()}
        return Settings.model_validate(
            {name: lowered[name] for name in Settings.model_fields if name in lowered}
        )
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
            if error["type"] == "missing":
                problems.append(f"{name}: missing (required)")
            else:
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{name}: {message}")
        raise SettingsError(problems) from None
