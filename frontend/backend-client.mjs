// backendClient: the browser's (or Node 20's) typed door to the Stripe Connect backend.
//
// Dependency-free ES modules, no build step: this one has a method per backend route; the
// transport (backend-transport.mjs) sends them, and failures are thrown as `BackendError`
// (backend-errors.mjs). The Better Auth token travels only in `Authorization: Bearer …` — never
// in a URL — and `X-User-ID` is never sent: the backend takes the user from the token alone.
// Replies are the backend's JSON as-is (snake_case field names, as in /openapi.json; their types
// in backend-types.mjs, re-exported below).
import { createTransport, newIdempotencyKey } from "./backend-transport.mjs";

export { BackendError } from "./backend-errors.mjs";
export { newIdempotencyKey };

/** @typedef {import("./backend-types.mjs").BackendClientOptions} BackendClientOptions */
/** @typedef {import("./backend-types.mjs").OnboardOptions} OnboardOptions */
/** @typedef {import("./backend-types.mjs").OnboardReply} OnboardReply */
/** @typedef {import("./backend-types.mjs").StatusReply} StatusReply */
/** @typedef {import("./backend-types.mjs").AccountSessionReply} AccountSessionReply */
/** @typedef {import("./backend-types.mjs").PayoutScheduleInput} PayoutScheduleInput */
/** @typedef {import("./backend-types.mjs").PageOptions} PageOptions */
/** @typedef {import("./backend-types.mjs").TransferEntry} TransferEntry */
/** @typedef {import("./backend-types.mjs").PayoutEntry} PayoutEntry */
/** @typedef {import("./backend-types.mjs").TransferInput} TransferInput */
/** @typedef {import("./backend-types.mjs").TransferReply} TransferReply */
/** @typedef {import("./backend-types.mjs").Payment} Payment */
/** @typedef {import("./backend-types.mjs").ReturnEntry} ReturnEntry */
/** @typedef {import("./backend-types.mjs").DebtsReply} DebtsReply */
/** @typedef {import("./backend-types.mjs").PaymentsReply} PaymentsReply */
/** @typedef {import("./backend-types.mjs").PayoutInput} PayoutInput */
/** @typedef {import("./backend-types.mjs").PayoutReply} PayoutReply */
/** @typedef {import("./backend-types.mjs").Money} Money */
/** @typedef {import("./backend-types.mjs").BalanceReply} BalanceReply */
/** @typedef {import("./backend-types.mjs").MoneyOptions} MoneyOptions */

/** Drops `undefined` members so optional fields are absent, not `null`, in the JSON body. */
function compact(/** @type {Record<string, unknown>} */ object) {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined));
}

/**
 * A client for one backend. Every method takes the organization id first and throws
 * `BackendError` on failure.
 * @param {BackendClientOptions} options
 */
export function createBackendClient(options) {
  const request = createTransport(options);

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
