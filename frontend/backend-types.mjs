// The backend's replies and the client's inputs, as JSDoc types (no code): the JSON of
// /openapi.json, snake_case as the backend sends it. backend-client.mjs re-exports each name, so
// `import("./backend-client.mjs").StatusReply` keeps working for apps.

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

export {};
