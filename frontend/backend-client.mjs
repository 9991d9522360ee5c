// backendClient: the browser's (or Node 20's) typed door to the Stripe Connect backend.
//
// One dependency-free ES module, no build step. The Better Auth token travels only in
// `Authorization: Bearer …` — never in a URL — and `X-User-ID` is never sent: the backend takes
// the user from the token alone. Replies are the backend's JSON as-is (snake_case field names, as
// in /openapi.json); failures are thrown as `BackendError`.

/**
 * @typedef {object} BackendClientOptions
 * @property {string} baseUrl The backend's origin, e.g. `https://connect.example.com`
 *   (a trailing slash is ignored).
 * @property {(options?: {fresh?: boolean}) => (string | null | undefined | Promise<string | null | undefined>)} getToken
 *   Returns the Better Auth token for the current user: the signed session token (what the
 *   `bearer()` plugin puts in the `set-auth-token` header) or a Better Auth JWT (`jwt()` plugin,
 *   `/api/auth/token`). Called before every request, so a refreshed token is picked up. Returning
 *   nothing sends no `Authorization` header and the backend answers 401 `missing_token`.
 *   After a 401 it is called once more with `{ fresh: true }`: re-read the token from Better Auth
 *   (not from a cache); when that gives a token the request is retried once with it, otherwise
 *   the 401 is thrown — the user is signed out.
 * @property {typeof fetch} [fetch] The fetch to use (default: the global one).
 * @property {number} [timeoutMs] Abort a request after this long (default 30000; 0 = never).
 */

/**
 * @typedef {object} OnboardOptions
 * @property {string} [returnPath] Path on the backend's first `FRONTEND_ORIGINS` origin that Stripe
 *   sends the user back to when onboarding is done (e.g. `/settings/payments?connect=return`).
 * @property {string} [refreshPath] Path Stripe sends the user to when the link has expired; that
 *   page should call `onboard` again and redirect to the new URL.
 * @property {string} [returnUrl] An absolute URL instead of `returnPath`; must be on one of the
 *   configured `FRONTEND_ORIGINS` (else 400 `invalid_redirect`).
 * @property {string} [refreshUrl] An absolute URL instead of `refreshPath`, same rule.
 */

/**
 * @typedef {object} OnboardReply
 * @property {string} url The Stripe-hosted Account Link: redirect the browser to it.
 * @property {number} expires_at Unix seconds; the link is single-use and short-lived.
 * @property {string} account_id The organization's Express account (`acct_…`).
 */

/**
 * @typedef {object} StatusReply
 * @property {string} organization_id
 * @property {string | null} stripe_connect_account_id
 * @property {"pending" | "active" | "disabled" | null} stripe_connect_status
 * @property {"account_creation" | "details_submission" | "verification" | "complete" | "rejected" | null} onboarding_step
 * @property {string | null} onboarding_rejection_reason
 * @property {boolean} charges_enabled
 * @property {boolean} payouts_enabled
 * @property {boolean} details_submitted
 * @property {string[]} requirements_currently_due
 * @property {string[]} requirements_past_due
 * @property {string | null} requirements_disabled_reason
 * @property {number | null} requirements_current_deadline Unix seconds by which what is
 *   currently due must be provided (Stripe's `current_deadline`), or null.
 * @property {number} platform_fee_percent
 * @property {number} platform_fee_fixed Minor units.
 * @property {number | null} stripe_synced_at Unix seconds of the last read from Stripe.
 * @property {boolean} auto_transfer_payments Each payment for the org is transferred as it
 *   succeeds (otherwise owners/admins claim them: see `payments` and `transfer`).
 * @property {"manual" | "daily" | "weekly" | "monthly"} payout_schedule_interval `manual`: payouts
 *   only when an owner/admin asks (`payout`); otherwise Stripe pays out on its own schedule.
 * @property {number | null} payout_schedule_delay_days
 * @property {string | null} payout_schedule_weekly_anchor `monday` … `sunday` (weekly only).
 * @property {number | null} payout_schedule_monthly_anchor 1–31 (monthly only).
 * @property {"express" | "custom" | null} stripe_connect_account_profile The profile the account
 *   was created with: `custom` accounts have no Stripe dashboard (no `loginLink`).
 */

/**
 * @typedef {object} AccountSessionReply A fresh, single-use Account Session for Stripe's embedded
 *   components: never store or log `client_secret`.
 * @property {string} organization_id
 * @property {string} account_id
 * @property {string} client_secret
 * @property {number} expires_at Unix seconds.
 * @property {string[]} components The components the caller's role may use (`payouts_list`, …).
 */

/**
 * @typedef {object} PayoutScheduleInput
 * @property {"manual" | "daily" | "weekly" | "monthly"} interval
 * @property {string} [weeklyAnchor] Required for `weekly`: `monday` … `sunday`.
 * @property {number} [monthlyAnchor] Required for `monthly`: 1–31 (29–31: the month's last day
 *   when shorter).
 * @property {number} [delayDays] 2–365, automatic schedules only; default Stripe's minimum.
 */

/**
 * @typedef {object} PageOptions
 * @property {number} [limit] 1–100 entries (default 20).
 * @property {string | null} [cursor] `next_cursor` of the previous page; absent for the first.
 */

/**
 * @typedef {object} TransferEntry
 * @property {number} gross_amount
 * @property {number} fee_amount
 * @property {number} net_amount
 * @property {string} currency
 * @property {string | null} stripe_transfer_id
 * @property {"pending" | "succeeded" | "failed" | "reversed"} status
 * @property {number} amount_reversed
 * @property {string | null} failure_message
 * @property {string | null} source_transaction
 * @property {string | null} reason
 * @property {string | null} initiated_by
 * @property {string} created_at ISO time.
 */

/**
 * @typedef {object} PayoutEntry
 * @property {string | null} stripe_payout_id `po_…` (null for a request Stripe refused)
 * @property {number} amount
 * @property {string} currency
 * @property {string} status `reserved`, `refused`, or Stripe's: `pending`, `in_transit`, `paid`,
 *   `failed`, `canceled`.
 * @property {boolean} automatic Made by Stripe on its own (schedule, Express Dashboard).
 * @property {string | null} failure_code Stripe's code, e.g. `account_closed`.
 * @property {string | null} failure_message Stripe's words for what went wrong.
 * @property {string | null} failure_advice For a failed payout: what to do next.
 * @property {number | null} arrival_date Unix seconds.
 * @property {string} updated_at ISO time.
 */

/**
 * @typedef {object} TransferInput
 * @property {string} sourceTransaction The payment to pay out: its charge (`ch_…`) or
 *   PaymentIntent (`pi_…`), made by the platform for this organization (see `payments`).
 * @property {number} [amount] Gross amount in minor units to take from it (an integer: 1000 is
 *   $10.00); omitted means all that is left of the payment.
 * @property {string} [currency] Three-letter ISO code; when given it must be the payment's.
 * @property {string} [description]
 * @property {string} [transferGroup]
 * @property {Record<string, string>} [metadata] Up to 20 string pairs, copied onto the transfer.
 */

/**
 * @typedef {object} TransferReply
 * @property {string} organization_id
 * @property {string} idempotency_key The key this transfer is stored under (yours or generated).
 * @property {number} gross_amount
 * @property {number} fee_amount The platform's fee, kept by the platform.
 * @property {number} net_amount What the connected account received.
 * @property {string} currency
 * @property {string | null} stripe_transfer_id
 * @property {"pending" | "succeeded" | "failed" | "reversed"} status
 * @property {string | null} source_transaction The charge this transfer paid out.
 * @property {boolean} replayed Added by this client: true when the backend answered from its
 *   ledger (`Idempotent-Replayed: true`), i.e. this key had already been used for this request.
 */

/**
 * @typedef {object} Payment A payment collected for the organization, not yet fully transferred.
 * @property {string} payment_intent_id `pi_…`
 * @property {string | null} charge_id `ch_…` (pass either as `sourceTransaction`)
 * @property {number} amount Minor units.
 * @property {number} amount_refunded
 * @property {number} amount_transferred
 * @property {number} amount_remaining What a transfer can still take (amount − refunds −
 *   disputed − transfers; 0 while disputed).
 * @property {number} amount_disputed Funds a dispute withdrew and that were not reinstated.
 * @property {string | null} dispute_status Stripe's dispute status (`needs_response`, `won`,
 *   `lost`, …) or null when the payment was never disputed.
 * @property {number} fee_amount The platform's fee if all that is left were transferred now.
 * @property {number} net_amount What the organization would receive (0 when nothing can go).
 * @property {string} currency
 * @property {number} created Unix seconds.
 */

/**
 * @typedef {object} ReturnEntry Money a refund or dispute moved back (`returnHistory`).
 * @property {number} id
 * @property {string} source_transaction The payment's charge `ch_…`.
 * @property {string} stripe_transfer_id The transfer reversed (or, reinstated, the one paid back).
 * @property {"reversal" | "reinstatement"} kind A reversal takes money back to the platform; a
 *   reinstatement sends it back to the organization (a dispute won, a refund that failed).
 * @property {"refund" | "dispute"} cause
 * @property {number} amount
 * @property {string} currency
 * @property {"pending" | "done" | "owed" | "failed"} status `owed`: Stripe could not take it from
 *   the balance, so it is a debt, taken first from the next transfers.
 * @property {string | null} stripe_object_id `trr_…` or `tr_…`.
 * @property {number} amount_reversed
 * @property {number} amount_recovered Paid back later out of another transfer.
 * @property {number} amount_forgiven Not needed after all (the money came back).
 * @property {number} amount_owed Still owed (an `owed` row).
 * @property {string | null} failure_message
 * @property {string} created_at ISO time.
 * @property {string} updated_at ISO time.
 */

/**
 * @typedef {object} DebtsReply
 * @property {string} organization_id
 * @property {Money[]} owed What the organization owes the platform, per currency.
 * @property {ReturnEntry[]} debts The `owed` returns, oldest first.
 * @property {{id: number, return_id: number, kind: "reversed" | "recovered" | "forgiven", amount: number, reference: string, created_at: string}[]} lines
 *   The latest parts that paid debts.
 */

/**
 * @typedef {object} PaymentsReply
 * @property {string} organization_id
 * @property {boolean} auto_transfer_payments
 * @property {Payment[]} payments Newest first, at most 100.
 */

/**
 * @typedef {object} PayoutInput
 * @property {string} currency Three-letter ISO code.
 * @property {number} [amount] Minor units; omitted means the whole available balance in `currency`.
 */

/**
 * @typedef {object} PayoutReply
 * @property {string} organization_id
 * @property {string} payout_id `po_…`
 * @property {number} amount
 * @property {string} currency
 * @property {string} status Stripe's payout status (`pending`, `in_transit`, `paid`, `failed`, …).
 * @property {number | null} arrival_date Unix seconds.
 * @property {string} idempotency_key Added by this client: the key used (yours or generated).
 * @property {boolean} replayed Added by this client, as for transfers.
 */

/**
 * @typedef {object} Money
 * @property {number} amount Minor units.
 * @property {string} currency
 */

/**
 * @typedef {object} BalanceReply
 * @property {string} organization_id
 * @property {Money[]} available
 * @property {Money[]} pending
 */

/**
 * @typedef {object} MoneyOptions
 * @property {string} [idempotencyKey] 1–255 printable ASCII characters. Derive it from what the
 *   money is for (an order id, an invoice id) or keep the one from a previous attempt. When absent
 *   a random one is generated; it is on the reply as `idempotency_key` and on a thrown
 *   `BackendError` as `idempotencyKey`, so a failed attempt can be retried with it.
 */

/**
 * A failed call. `status` is the HTTP status (0 when no response arrived), `code` the backend's
 * machine-readable code (`missing_token`, `forbidden`, `insufficient_role`, `account_not_ready`,
 * `idempotency_key_reused`, `stripe_rate_limited`, …, or `network_error`), `message` its
 * human-readable text, `requestId` the backend's id for the request (show it to the user: support
 * finds the request's log lines by it; docs/operations.md).
 */
export class BackendError extends Error {
  /**
   * @param {object} fields
   * @param {number} fields.status
   * @param {string} fields.code
   * @param {string} fields.message
   * @param {number} [fields.retryAfter]
   * @param {string} [fields.idempotencyKey]
   * @param {string} [fields.requestId]
   * @param {unknown} [fields.cause]
   */
  constructor({ status, code, message, retryAfter, idempotencyKey, requestId, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "BackendError";
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.code = code;
    /** Seconds to wait before retrying, from the `Retry-After` header (e.g. on 503). @type {number | undefined} */
    this.retryAfter = retryAfter;
    /** For `transfer` / `payout`: the key to retry with. @type {string | undefined} */
    this.idempotencyKey = idempotencyKey;
    /** The backend's request id (its error body's `request_id`), when it answered. @type {string | undefined} */
    this.requestId = requestId;
  }
}

/**
 * A fresh random idempotency key (a v4 UUID). `crypto.randomUUID` exists only in secure contexts
 * (https, localhost); elsewhere the same UUID is built from `crypto.getRandomValues`.
 * @returns {string}
 */
export function newIdempotencyKey() {
  if (typeof globalThis.crypto?.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** @param {string | null} value @returns {number | undefined} */
function parseRetryAfter(value) {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** @param {Response} response @param {string | undefined} idempotencyKey */
async function errorFrom(response, idempotencyKey) {
  let code = "http_error";
  let message = `The backend answered ${response.status}.`;
  let requestId;
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error !== null) {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string") message = body.error.message;
      if (typeof body.error.request_id === "string") requestId = body.error.request_id;
    }
  } catch {
    // Not our JSON (a proxy's HTML page, say): keep the generic code and message.
  }
  return new BackendError({
    status: response.status,
    code,
    message,
    retryAfter: parseRetryAfter(response.headers.get("retry-after")),
    idempotencyKey,
    requestId,
  });
}

/** Drops `undefined` members so optional fields are absent, not `null`, in the JSON body. */
function compact(/** @type {Record<string, unknown>} */ object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

/**
 * A client for one backend. Every method takes the organization id first and throws
 * `BackendError` on failure.
 * @param {BackendClientOptions} options
 */
export function createBackendClient({ baseUrl, getToken, fetch: fetchImpl, timeoutMs = 30_000 }) {
  if (typeof baseUrl !== "string" || baseUrl === "") throw new TypeError("baseUrl is required");
  if (typeof getToken !== "function") throw new TypeError("getToken must be a function");
  const base = baseUrl.replace(/\/+$/, "");
  const doFetch = fetchImpl ?? globalThis.fetch.bind(globalThis);

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {{body?: object, idempotencyKey?: string}} [options]
   * @returns {Promise<{data: any, response: Response}>}
   */
  async function request(method, path, { body, idempotencyKey } = {}) {
    const token = await getToken();
    const first = await send(method, path, { body, idempotencyKey, token });
    if (first.status !== 401) return read(first, idempotencyKey);
    // The token may have been refreshed or replaced since it was read: ask Better Auth once more.
    const fresh = await getToken({ fresh: true });
    if (!fresh) return read(first, idempotencyKey);
    await first.body?.cancel();
    return read(await send(method, path, { body, idempotencyKey, token: fresh }), idempotencyKey);
  }

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {{body?: object, idempotencyKey?: string, token?: string | null}} options
   * @returns {Promise<Response>}
   */
  async function send(method, path, { body, idempotencyKey, token }) {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    let response;
    try {
      response = await doFetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", // the token is the credential; no cookies cross origins
        signal,
      });
    } catch (cause) {
      const timedOut = /** @type {any} */ (cause)?.name === "TimeoutError";
      throw new BackendError({
        status: 0,
        code: "network_error",
        message: timedOut
          ? `No answer from the backend within ${timeoutMs} ms.`
          : "The backend could not be reached.",
        idempotencyKey,
        cause,
      });
    }
    return response;
  }

  /**
   * @param {Response} response
   * @param {string | undefined} idempotencyKey
   * @returns {Promise<{data: any, response: Response}>}
   */
  async function read(response, idempotencyKey) {
    if (!response.ok) throw await errorFrom(response, idempotencyKey);
    try {
      return { data: await response.json(), response };
    } catch (cause) {
      throw new BackendError({
        status: response.status,
        code: "invalid_response",
        message: "The backend's reply was not JSON.",
        idempotencyKey,
        cause,
      });
    }
  }

  /** @param {string} orgId */
  const orgPath = (orgId) => encodeURIComponent(orgId);

  /** @param {string | undefined} key */
  const keyOrNew = (key) => (key === undefined ? newIdempotencyKey() : key);

  /**
   * @param {number | undefined} limit
   * @param {string | null | undefined} cursor
   */
  const page = (limit, cursor) => {
    const query = new URLSearchParams();
    if (limit !== undefined) query.set("limit", String(limit));
    if (cursor) query.set("cursor", cursor);
    const text = query.toString();
    return text ? `?${text}` : "";
  };

  /** @param {Response} response */
  const replayed = (response) => response.headers.get("idempotent-replayed") === "true";

  return {
    /**
     * Creates the organization's Express account if it has none (two clicks never make two) and
     * returns a fresh Account Link; send the browser to `url`. Needs the owner or admin role.
     * @param {string} orgId
     * @param {OnboardOptions} [options]
     * @returns {Promise<OnboardReply>}
     */
    async onboard(orgId, { returnPath, refreshPath, returnUrl, refreshUrl } = {}) {
      const body = compact({
        organization_id: orgId,
        return_path: returnPath,
        refresh_path: refreshPath,
        return_url: returnUrl,
        refresh_url: refreshUrl,
      });
      return (await request("POST", "/api/connect/onboard", { body })).data;
    },

    /**
     * The organization's Connect status as stored (fast); `refresh: true` re-reads Stripe first
     * (use it when the user comes back from onboarding). Any member may read it.
     * @param {string} orgId
     * @param {{refresh?: boolean}} [options]
     * @returns {Promise<StatusReply>}
     */
    async status(orgId, { refresh = false } = {}) {
      const query = refresh ? "?refresh=true" : "";
      return (await request("GET", `/api/connect/status/${orgPath(orgId)}${query}`)).data;
    },

    /**
     * A platform-fee transfer of a payment the platform collected for the organization: from
     * the gross (all that is left of the payment, or `amount` of it) the organization's fee is
     * kept and the rest goes to its connected account. Needs owner/admin and an active account.
     * Refusals: 404 `source_not_found` (no payment of this org), 409 `source_not_succeeded`,
     * `source_exhausted` (already transferred or refunded), `source_currency_mismatch`, 400
     * `below_minimum_transfer`.
     *
     * Safe to retry: the backend stores each (organization, idempotency key) once, so the same
     * key with the same input returns the first result (`replayed: true`) — even days later —
     * and never moves money twice. Retry a network error or a 5xx with the same key (after
     * `retryAfter` seconds when given). The same key with different input is 409
     * `idempotency_key_reused`.
     * @param {string} orgId
     * @param {TransferInput} input
     * @param {MoneyOptions} [options]
     * @returns {Promise<TransferReply>}
     */
    async transfer(orgId, input, { idempotencyKey } = {}) {
      const key = keyOrNew(idempotencyKey);
      const body = compact({
        organization_id: orgId,
        source_transaction: input.sourceTransaction,
        amount: input.amount,
        currency: input.currency,
        description: input.description,
        transfer_group: input.transferGroup,
        metadata: input.metadata,
      });
      const { data, response } = await request("POST", "/api/connect/transfer", {
        body,
        idempotencyKey: key,
      });
      return { ...data, replayed: replayed(response) };
    },

    /**
     * Payments collected for the organization that are not (fully) transferred yet: what its
     * owners/admins can claim with `transfer`. Owner/admin.
     * @param {string} orgId
     * @returns {Promise<PaymentsReply>}
     */
    async payments(orgId) {
      return (await request("GET", `/api/connect/payments/${orgPath(orgId)}`)).data;
    },

    /**
     * Transfer each payment for the organization as it succeeds (`true`), or leave them to be
     * claimed (`false`, the default). Owner/admin.
     * @param {string} orgId
     * @param {boolean} enabled
     * @returns {Promise<StatusReply>}
     */
    async setAutoTransfer(orgId, enabled) {
      const body = { organization_id: orgId, enabled };
      return (await request("POST", "/api/connect/auto-transfer", { body })).data;
    },

    /**
     * The connected account's Stripe balance (available and pending, per currency). Any member.
     * @param {string} orgId
     * @returns {Promise<BalanceReply>}
     */
    async balance(orgId) {
      return (await request("GET", `/api/connect/balance/${orgPath(orgId)}`)).data;
    },

    /**
     * A payout from the connected account's balance to its bank. Needs owner/admin and an active
     * account. Safe to retry with the same idempotency key, exactly as `transfer`; without
     * `amount`, the amount is the available balance at the first attempt, not at a retry.
     * @param {string} orgId
     * @param {PayoutInput} input
     * @param {MoneyOptions} [options]
     * @returns {Promise<PayoutReply>}
     */
    async payout(orgId, input, { idempotencyKey } = {}) {
      const key = keyOrNew(idempotencyKey);
      const body = compact({ organization_id: orgId, amount: input.amount, currency: input.currency });
      const { data, response } = await request("POST", "/api/connect/payout", {
        body,
        idempotencyKey: key,
      });
      return { ...data, idempotency_key: key, replayed: replayed(response) };
    },

    /**
     * Set the organization's payout schedule on its Stripe account; answers the status with the
     * schedule as Stripe now holds it. Owner/admin. Refusals: 400 `weekly_anchor_required`,
     * `monthly_anchor_required`, `invalid_schedule`; 403 `payout_schedule_not_allowed` (the
     * platform does not offer that interval).
     * @param {string} orgId
     * @param {PayoutScheduleInput} input
     * @returns {Promise<StatusReply>}
     */
    async setPayoutSchedule(orgId, input) {
      const body = compact({
        organization_id: orgId,
        interval: input.interval,
        weekly_anchor: input.weeklyAnchor,
        monthly_anchor: input.monthlyAnchor,
        delay_days: input.delayDays,
      });
      return (await request("POST", "/api/connect/payout-schedule", { body })).data;
    },

    /**
     * The organization's transfers, newest first, one page at a time. Any member.
     * @param {string} orgId
     * @param {PageOptions} [options]
     * @returns {Promise<{organization_id: string, transfers: TransferEntry[], next_cursor: string | null}>}
     */
    async transferHistory(orgId, { limit, cursor } = {}) {
      return (await request("GET", `/api/connect/transfers/${orgPath(orgId)}${page(limit, cursor)}`))
        .data;
    },

    /**
     * The organization's payouts — requested here or made by Stripe's schedule — newest first.
     * Any member.
     * @param {string} orgId
     * @param {PageOptions} [options]
     * @returns {Promise<{organization_id: string, payouts: PayoutEntry[], next_cursor: string | null}>}
     */
    async payoutHistory(orgId, { limit, cursor } = {}) {
      return (await request("GET", `/api/connect/payouts/${orgPath(orgId)}${page(limit, cursor)}`))
        .data;
    },

    /**
     * Refunds and disputes that took money back from the organization's transfers (or sent it
     * back), debts included, newest first. Any member.
     * @param {string} orgId
     * @param {PageOptions} [options]
     * @returns {Promise<{organization_id: string, returns: ReturnEntry[], next_cursor: string | null}>}
     */
    async returnHistory(orgId, { limit, cursor } = {}) {
      return (await request("GET", `/api/connect/returns/${orgPath(orgId)}${page(limit, cursor)}`))
        .data;
    },

    /**
     * What the organization owes the platform (taken first from its next transfers). Owners and
     * admins.
     * @param {string} orgId
     * @returns {Promise<DebtsReply>}
     */
    async debts(orgId) {
      return (await request("GET", `/api/connect/debts/${orgPath(orgId)}`)).data;
    },

    /**
     * A single-use link to the Express dashboard (open it right away). Needs owner/admin and
     * finished onboarding (else 409 `account_not_ready`).
     * @param {string} orgId
     * @returns {Promise<{url: string}>}
     */
    async loginLink(orgId) {
      return (await request("POST", "/api/connect/login-link", { body: { organization_id: orgId } }))
        .data;
    },

    /**
     * @param {string} orgId
     * @returns {Promise<AccountSessionReply>}
     */
    async accountSession(orgId) {
      const body = { organization_id: orgId };
      return (await request("POST", "/api/connect/account-session", { body })).data;
    },
  };
}

/** @typedef {ReturnType<typeof createBackendClient>} BackendClient */
