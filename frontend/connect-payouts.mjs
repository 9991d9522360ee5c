// <connect-payouts>: the payouts settings of one organization, as a custom element any app can
// drop in whatever its framework — plain ES modules, no build step. Built on backendClient.
//
//   <connect-payouts organization-id="…" role="owner" backend-url="https://connect.example.com">
//   </connect-payouts>
//   element.getToken = (options) => …  // the Better Auth token; `{fresh: true}` after a 401
//
// Attributes: `organization-id`, `backend-url`, `role` (Better Auth's `member.role`: owners and
// admins see the controls and the organization's earnings — the backend refuses the rest anyway), optional `return-url` (where Stripe sends the user
// back; default this page with `?connect=return`, and `?connect=refresh` for an expired link) and
// `sign-in-url` (default `/sign-in`), `heading` (default "Payouts"). Event:
// `connect-payouts:signed-out` when the backend no longer accepts the user's token even after
// re-reading it.
import { BackendError, createBackendClient, newIdempotencyKey } from "./backend-client.mjs";
import { EmbeddedRegion } from "./payouts/embedded-region.mjs";
import { h } from "./payouts/dom.mjs";
import { MONEY_BACK_STYLES, historyEntry, renderDebt, renderPaymentSplit, renderReturns } from "./payouts/money-back.mjs";
import { asHeldByDispute } from "./return-words.mjs";
import {
  canManagePayouts,
  describeAutoTransfer,
  describeDeadline,
  describeFeeRule,
  describePayment,
  describePayoutEntry,
  describeRequirements,
  describeTransferEntry,
  describeSchedule,
  describeState,
  describeTransferRefusal,
  formatMoney,
  minorDigits,
  parseAmount,
} from "./payout-words.mjs";

const STYLES = `
:host { display: block; font: inherit; color: inherit; max-width: 40rem; }
* { box-sizing: border-box; }
h2 { font-size: 1.25rem; margin: 0 0 .75rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
p { margin: .25rem 0 .5rem; line-height: 1.45; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-weight: 600;
  background: #eef0f3; color: #1f2933; }
.badge[data-state="active"] { background: #dff5e3; color: #14532d; }
.badge[data-state="restricted"], .badge[data-state="rejected"] { background: #fde2e1; color: #7f1d1d; }
.badge[data-state="in_review"], .badge[data-state="details_needed"] { background: #fff4d6; color: #713f12; }
ul { margin: .25rem 0 .5rem; padding-left: 1.25rem; }
li.past-due { color: #7f1d1d; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e6ea; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; }
label { display: flex; flex-direction: column; gap: .2rem; font-weight: 600; font-size: .9rem; }
input, select { font: inherit; padding: .45rem .5rem; border: 1px solid #9aa5b1; border-radius: 6px;
  min-width: 0; height: 2.5rem; background: #fff; }
input { width: 9rem; }
button { font: inherit; padding: .5rem .9rem; min-height: 2.5rem; border-radius: 6px; border: 1px solid #1d4ed8;
  background: #1d4ed8; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #1d4ed8; }
button:disabled { opacity: .6; cursor: progress; }
button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
.notice { padding: .6rem .75rem; border-radius: 6px; background: #eef2ff; margin: .5rem 0; }
.notice:empty { display: none; }
.error { padding: .6rem .75rem; border-radius: 6px; background: #fde2e1; color: #7f1d1d; margin: .5rem 0; }
.error[hidden], [hidden] { display: none !important; }
.muted { color: #52606d; font-size: .9rem; }
.switch { flex-direction: row; align-items: center; gap: .6rem; font-size: 1rem; margin: .5rem 0; cursor: pointer; }
.switch input { appearance: none; position: relative; flex: none; width: 2.75rem; height: 1.5rem; margin: 0;
  padding: 0; border: 0; border-radius: 999px; background: #7b8794; cursor: pointer; transition: background .15s; }
.switch input::before { content: ""; position: absolute; top: .2rem; left: .2rem; width: 1.1rem; height: 1.1rem;
  border-radius: 50%; background: #fff; transition: transform .15s; }
.switch input:checked { background: #1d4ed8; }
.switch input:checked::before { transform: translateX(1.25rem); }
.switch .state { font-weight: 400; color: #52606d; }
ul.payments { list-style: none; padding: 0; margin: .5rem 0; }
ul.payments li { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; justify-content: space-between;
  padding: .6rem 0; border-bottom: 1px solid #e3e6ea; }
ul.payments li:first-child { border-top: 1px solid #e3e6ea; }
ul.payments li.failed { background: #fde2e1; color: #7f1d1d; padding: .6rem .5rem; border-radius: 6px; }
ul.payments li.failed [role="note"] { font-size: .9rem; }
.schedule-form select, .schedule-form input { width: auto; }
.payment-amount { font-weight: 600; font-variant-numeric: tabular-nums; }
`;

const HISTORY_PAGE = 10;

/**
 * @typedef {object} History
 * @property {import("./backend-client.mjs").PayoutEntry[]} payouts
 * @property {string | null} payoutCursor
 * @property {import("./backend-client.mjs").TransferEntry[]} transfers
 * @property {string | null} transferCursor
 * @property {import("./backend-client.mjs").ReturnEntry[]} returns
 * @property {string | null} returnCursor
 * @property {import("./backend-client.mjs").Money[]} owed
 */

const SIGNED_OUT = new Set(["missing_token", "invalid_token"]);

/**
 * A failure in words, with what the person can do next.
 * @param {unknown} error
 * @returns {{message: string, retry: boolean, signedOut?: boolean}}
 */
export function explainError(error) {
  if (!(error instanceof BackendError)) {
    return { message: "Something went wrong in this page. Try again.", retry: true };
  }
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} seconds.` : " Try again in a moment.";
  switch (error.code) {
    case "network_error":
    case "worker_unavailable":
      return {
        message: "The payouts service cannot be reached right now. Check your connection and try again.",
        retry: true,
      };
    case "stripe_unavailable":
    case "stripe_error":
    case "stripe_rate_limited":
      return { message: `Stripe is slow to answer or unavailable.${wait}`, retry: true };
    case "rate_limited":
      return { message: `Too many requests in a short time.${wait}`, retry: true };
    case "platform_busy":
      return { message: `Payments are busy right now.${wait}`, retry: true };
    case "email_not_verified":
      return { message: "Verify your email address before setting up payouts.", retry: false };
    case "missing_token":
    case "invalid_token":
      return { message: "You are signed out. Sign in again to manage payouts.", retry: false, signedOut: true };
    case "forbidden":
      return {
        message: "You are not a member of this organization, so its payouts are not shown.",
        retry: false,
      };
    case "insufficient_role":
      return { message: "Only owners and admins of this organization can do this.", retry: false };
    case "insufficient_balance":
      return {
        message: "The available balance is not enough for this payout. Choose a smaller amount.",
        retry: false,
      };
    case "invalid_amount":
      return { message: `That amount cannot be paid out. ${error.message}`, retry: false };
    case "payout_failed":
      return { message: refusedPayout(error.message), retry: false };
    case "automatic_payouts":
      return {
        message: "Stripe pays this organization out on its schedule. Switch the payout schedule to Manual to pay out now.",
        retry: false,
      };
    case "payout_schedule_not_allowed":
    case "weekly_anchor_required":
    case "monthly_anchor_required":
    case "invalid_schedule":
      return { message: error.message, retry: false };
    case "account_not_ready":
      return { message: "Finish setting up payouts first.", retry: false };
    case "payout_outcome_unknown":
      return {
        message: "Stripe never confirmed this payout. The platform's operators will check it; do not send it again.",
        retry: false,
      };
    default:
      return error.status >= 500
        ? { message: `The payouts service had a problem.${wait}`, retry: true }
        : { message: error.message, retry: false };
  }
}

/** What identifies a control across re-renders: its field name, else its text. */
function controlKey(/** @type {Element} */ control) {
  return control.getAttribute("name") || control.textContent || "";
}

/** Stripe's refusal, in words for the person paying out rather than for a developer. */
function refusedPayout(/** @type {string} */ stripeMessage) {
  if (/insufficient|not enough|balance/i.test(stripeMessage)) {
    return "Stripe refused the payout: the available balance is not enough. Choose a smaller amount.";
  }
  if (/minimum|too small|at least/i.test(stripeMessage)) {
    return "Stripe refused the payout: the amount is below the minimum Stripe pays out. Choose a larger amount.";
  }
  if (/bank|external account|destination/i.test(stripeMessage)) {
    return "Stripe refused the payout: the bank account cannot receive it. Check it in the Stripe dashboard.";
  }
  return `Stripe refused the payout. ${stripeMessage}`;
}

export class ConnectPayouts extends HTMLElement {
  static observedAttributes = ["organization-id", "backend-url", "role", "heading", "publishable-key"];

  /** @type {((options?: {fresh?: boolean}) => Promise<string | null | undefined> | string | null | undefined) | null} */
  #getToken = null;
  /** @type {ReturnType<typeof createBackendClient> | null} */
  #client = null;
  /** @type {import("./backend-client.mjs").StatusReply | null} */
  #status = null;
  /** @type {import("./backend-client.mjs").BalanceReply | null} */
  #balance = null;
  /** @type {{message: string, retry: (() => void) | null, signedOut?: boolean} | null} */
  #error = null;
  #notice = "";
  #busy = false;
  #signedOut = false;
  /** A payout's key lives until it succeeds or is refused, so "Try again" never pays twice. */
  #payoutKey = "";
  /** @type {import("./backend-client.mjs").PayoutReply | null} */
  #lastPayout = null;
  /** Owners/admins: the payments earned and not yet transferred. @type {import("./backend-client.mjs").PaymentsReply | null} */
  #payments = null;
  /** Money history pages shown so far (and, for owners and admins, what is owed). @type {History | null} */
  #history = null;
  /** One Idempotency-Key per payment's transfer click, kept until the backend answers for good,
   * so "Try again" after a lost answer never transfers twice. @type {Map<string, string>} */
  #claimKeys = new Map();

  #landingHandled = false;
  /** Name of the control that last had focus, so a re-render puts keyboard focus back on it. */
  #focusKey = "";
  /** What the person typed in the payout form, kept across re-renders until a payout is sent. */
  #draft = { amount: "", currency: "" };
  #generation = 0;
  /** @type {ShadowRoot} */
  #root;
  /** @type {HTMLElement} */
  #live;
  /** @type {HTMLElement} */
  #body;
  #title = h("h2", { id: "cp-title" }, "Payouts");
  /** Stripe's embedded components, given a `publishable-key` (see payouts/embedded-region.mjs). */
  #embedded = new EmbeddedRegion((text) => this.#announce(text));

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES + MONEY_BACK_STYLES);
    this.#root.adoptedStyleSheets = [sheet];
    this.#live = h("p", { class: "notice", role: "status", "aria-live": "polite" });
    this.#body = h("div");
    this.#root.addEventListener("focusin", (event) => {
      this.#focusKey = controlKey(/** @type {Element} */ (event.target));
    });
    this.#root.append(
      h("section", { "aria-labelledby": "cp-title" }, this.#title, this.#live, this.#body, this.#embedded.region),
    );
  }

  /** The token source, called before every backend request (and with `{fresh: true}` after a 401). */
  set getToken(fn) {
    this.#getToken = fn;
    this.#client = null;
    this.#signedOut = false;
    if (this.isConnected) void this.reload();
  }

  get getToken() {
    return this.#getToken;
  }

  connectedCallback() {
    void this.reload();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue === newValue) return;
    if (name === "heading") {
      this.#title.textContent = newValue || "Payouts";
      return;
    }
    this.#client = null;
    this.#status = null;
    this.#balance = null;
    this.#lastPayout = null;
    this.#payoutKey = "";
    this.#payments = null;
    this.#history = null;
    this.#claimKeys.clear();
    this.#embedded.reset();
    if (this.isConnected) void this.reload();
  }

  get #orgId() {
    return this.getAttribute("organization-id") ?? "";
  }

  get #canManage() {
    return canManagePayouts(this.getAttribute("role"));
  }

  get #api() {
    if (this.#client === null) {
      const baseUrl = this.getAttribute("backend-url");
      const getToken = this.#getToken;
      if (!baseUrl || !getToken) return null;
      this.#client = createBackendClient({ baseUrl, getToken: (options) => getToken(options) });
    }
    return this.#client;
  }

  #landingUrl(/** @type {"return" | "refresh"} */ kind) {
    const configured = this.getAttribute(`${kind}-url`);
    if (configured) return configured;
    const url = new URL(location.href);
    url.hash = "";
    url.search = `?connect=${kind}`;
    return url.toString();
  }

  #announce(/** @type {string} */ text) {
    this.#notice = text;
    this.#live.textContent = text;
  }

  /** Reads status (and balance once there is an account) and renders; handles the Stripe landings. */
  async reload() {
    const api = this.#api;
    if (!api || !this.#orgId) return;
    const generation = ++this.#generation;
    const landing = this.#landingHandled ? null : new URL(location.href).searchParams.get("connect");
    if (landing === "refresh") {
      this.#landingHandled = true;
      // Out of the history first, so Back from Stripe's page does not bounce there again.
      this.#dropLandingParam();
      await this.#followNewLink(
        "That setup link has expired or was already used. Opening a new one…",
      );
      return;
    }
    this.#busy = true;
    this.#error = null;
    if (landing === "return") this.#announce("Checking your setup with Stripe…");
    this.#render();
    try {
      const status = await api.status(this.#orgId, { refresh: landing === "return" });
      if (generation !== this.#generation) return;
      this.#status = status;
      // Members never ask for the earnings: the backend lists them to owners and admins only.
      const [balance, payments] = await Promise.all([
        status.stripe_connect_account_id ? api.balance(this.#orgId) : null,
        this.#canManage ? api.payments(this.#orgId) : null,
      ]);
      if (generation !== this.#generation) return;
      this.#balance = balance;
      this.#payments = payments;
      this.#history = status.stripe_connect_account_id ? await this.#firstHistoryPages(api) : null;
      if (generation !== this.#generation) return;
      const publishableKey = this.getAttribute("publishable-key");
      const createSession = () => api.accountSession(this.#orgId);
      void this.#embedded.show({ publishableKey, status, createSession }).then(() => this.#render());
      if (landing === "return") {
        this.#landingHandled = true;
        this.#dropLandingParam();
        const state = describeState(status);
        this.#announce(
          state.key === "active"
            ? "Setup is complete. Payouts are active."
            : `Back from Stripe. Status: ${state.label}.`,
        );
        if (state.key === "in_review" || state.key === "details_needed") this.#watchForWebhook(generation);
      } else if (this.#notice.startsWith("Checking")) {
        this.#announce("");
      }
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#fail(error, () => void this.reload());
    } finally {
      if (generation === this.#generation) {
        this.#busy = false;
        this.#render();
      }
    }
  }

  /** After the return landing the webhook may land a little later: look again a few times. */
  #watchForWebhook(/** @type {number} */ generation) {
    let tries = 0;
    const tick = async () => {
      if (generation !== this.#generation || tries++ >= 10 || !this.#api) return;
      try {
        const status = await this.#api.status(this.#orgId);
        if (generation !== this.#generation) return;
        if (describeState(status).key !== describeState(this.#status ?? status).key) {
          this.#status = status;
          this.#announce(`Status changed: ${describeState(status).label}.`);
          this.#render();
        }
        if (describeState(status).key === "in_review" || describeState(status).key === "details_needed") {
          setTimeout(tick, 2000);
        }
      } catch {
        // A failed background look is not worth an error message; the next reload will show it.
      }
    };
    setTimeout(tick, 2000);
  }

  #dropLandingParam() {
    const url = new URL(location.href);
    if (!url.searchParams.has("connect")) return;
    url.searchParams.delete("connect");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }

  /** Creates a fresh Account Link and sends the browser to Stripe-hosted onboarding. */
  async #followNewLink(/** @type {string} */ message) {
    const api = this.#api;
    if (!api) return;
    this.#busy = true;
    this.#error = null;
    this.#announce(message);
    this.#render();
    try {
      const { url } = await api.onboard(this.#orgId, {
        returnUrl: this.#landingUrl("return"),
        refreshUrl: this.#landingUrl("refresh"),
      });
      this.#announce("Opening Stripe…");
      location.assign(url);
    } catch (error) {
      this.#busy = false;
      this.#fail(error, () => void this.#followNewLink(message));
      this.#render();
    }
  }

  async #payOut(/** @type {string} */ amountText, /** @type {string} */ currency) {
    const api = this.#api;
    if (!api) return;
    const amount = parseAmount(amountText, currency);
    if (amount === null || amount <= 0) {
      this.#error = {
        message: `Enter an amount in ${currency.toUpperCase()} with at most ${minorDigits(currency)} decimals, greater than zero.`,
        retry: null,
      };
      this.#render();
      this.#root.querySelector("input")?.focus();
      return;
    }
    if (!this.#payoutKey) this.#payoutKey = newIdempotencyKey();
    this.#busy = true;
    this.#error = null;
    this.#announce(`Sending a payout of ${formatMoney(amount, currency)}…`);
    this.#render();
    try {
      const payout = await api.payout(this.#orgId, { amount, currency }, { idempotencyKey: this.#payoutKey });
      this.#payoutKey = "";
      this.#draft = { amount: "", currency: "" };
      this.#lastPayout = payout;
      this.#announce(`Payout of ${formatMoney(payout.amount, payout.currency)} sent. It is ${payout.status.replace(/_/g, " ")}.`);
      [this.#balance, this.#history] = await Promise.all([api.balance(this.#orgId), this.#firstHistoryPages(api)]);
    } catch (error) {
      const retryable = error instanceof BackendError && (error.status === 0 || error.status >= 500);
      if (!retryable) this.#payoutKey = "";
      this.#announce("");
      this.#fail(error, () => void this.#payOut(amountText, currency));
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  /** Transfers what is left of one earned payment; the backend computes the fee and the net. */
  async #claim(/** @type {import("./backend-client.mjs").Payment} */ payment) {
    const api = this.#api;
    if (!api) return;
    const id = payment.payment_intent_id;
    let key = this.#claimKeys.get(id);
    if (!key) {
      key = newIdempotencyKey();
      this.#claimKeys.set(id, key);
    }
    this.#busy = true;
    this.#error = null;
    this.#announce(`Transferring ${formatMoney(payment.amount_remaining, payment.currency)} to your Stripe balance…`);
    this.#render();
    try {
      const transfer = await api.transfer(this.#orgId, { sourceTransaction: id }, { idempotencyKey: key });
      this.#claimKeys.delete(id);
      const c = transfer.currency;
      const split = `${formatMoney(transfer.gross_amount, c)} less the platform fee of ${formatMoney(transfer.fee_amount, c)}`;
      this.#announce(
        transfer.status === "succeeded"
          ? `Transferred ${formatMoney(transfer.net_amount, c)} to your Stripe balance (${split}).`
          : `Transfer of ${formatMoney(transfer.net_amount, c)} (${split}) is ${transfer.status}.`,
      );
      // The money moved: a failure to read the new balance is offered as a reload, never as a
      // second click on a transfer that already happened.
      await this.#reloadMoney(api).catch((error) => this.#fail(error, () => void this.reload()));
    } catch (error) {
      const definitive = !(error instanceof BackendError) || (error.status > 0 && error.status < 500);
      if (definitive) this.#claimKeys.delete(id);
      this.#announce("");
      const refusal =
        error instanceof BackendError ? describeTransferRefusal(error.code, error.message) : null;
      if (refusal) {
        this.#error = { message: refusal.message, retry: refusal.retry ? () => void this.#claim(payment) : null };
        if (refusal.refresh) await this.#reloadMoney(api).catch(() => undefined);
      } else {
        this.#fail(error, () => void this.#claim(payment));
      }
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  /** Balance and earnings again, after money moved (or the list turned out to be stale). */
  async #reloadMoney(/** @type {import("./backend-client.mjs").BackendClient} */ api) {
    const [balance, payments, history] = await Promise.all([
      api.balance(this.#orgId),
      api.payments(this.#orgId),
      this.#firstHistoryPages(api),
    ]);
    this.#balance = balance;
    this.#payments = payments;
    this.#history = history;
  }

  /** The newest payouts, transfers and returns (any member may read them); debts for owners
   * and admins (the backend shows them to no one else). @returns {Promise<History>} */
  async #firstHistoryPages(/** @type {import("./backend-client.mjs").BackendClient} */ api) {
    const [payouts, transfers, returns, debts] = await Promise.all([
      api.payoutHistory(this.#orgId, { limit: HISTORY_PAGE }),
      api.transferHistory(this.#orgId, { limit: HISTORY_PAGE }),
      api.returnHistory(this.#orgId, { limit: HISTORY_PAGE }),
      this.#canManage ? api.debts(this.#orgId) : null,
    ]);
    return {
      payouts: payouts.payouts,
      payoutCursor: payouts.next_cursor,
      transfers: transfers.transfers,
      transferCursor: transfers.next_cursor,
      returns: returns.returns,
      returnCursor: returns.next_cursor,
      owed: debts?.owed ?? [],
    };
  }

  async #moreHistory(/** @type {"payouts" | "transfers" | "returns"} */ kind) {
    const api = this.#api;
    const history = this.#history;
    if (!api || !history) return;
    this.#busy = true;
    this.#error = null;
    this.#render();
    try {
      if (kind === "payouts") {
        const page = await api.payoutHistory(this.#orgId, { limit: HISTORY_PAGE, cursor: history.payoutCursor });
        history.payouts = [...history.payouts, ...page.payouts];
        history.payoutCursor = page.next_cursor;
      } else if (kind === "returns") {
        const page = await api.returnHistory(this.#orgId, { limit: HISTORY_PAGE, cursor: history.returnCursor });
        history.returns = [...history.returns, ...page.returns];
        history.returnCursor = page.next_cursor;
      } else {
        const page = await api.transferHistory(this.#orgId, { limit: HISTORY_PAGE, cursor: history.transferCursor });
        history.transfers = [...history.transfers, ...page.transfers];
        history.transferCursor = page.next_cursor;
      }
    } catch (error) {
      this.#fail(error, () => void this.#moreHistory(kind));
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  async #setSchedule(/** @type {import("./backend-client.mjs").PayoutScheduleInput} */ input) {
    const api = this.#api;
    if (!api) return;
    this.#busy = true;
    this.#error = null;
    this.#announce("Saving the payout schedule…");
    this.#render();
    try {
      this.#status = await api.setPayoutSchedule(this.#orgId, input);
      this.#announce(`Payout schedule saved. ${describeSchedule(this.#status)}`);
    } catch (error) {
      this.#announce("");
      this.#fail(error, () => void this.#setSchedule(input));
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  async #setAutoTransfer(/** @type {boolean} */ enabled) {
    const api = this.#api;
    if (!api) return;
    this.#busy = true;
    this.#error = null;
    this.#announce(enabled ? "Turning automatic transfers on…" : "Turning automatic transfers off…");
    this.#render();
    try {
      const status = await api.setAutoTransfer(this.#orgId, enabled);
      this.#status = status;
      this.#payments = await api.payments(this.#orgId);
      this.#announce(
        status.auto_transfer_payments
          ? "Automatic transfers are on."
          : "Automatic transfers are off. Transfer each payment yourself.",
      );
    } catch (error) {
      this.#announce("");
      // The switch is drawn from the stored setting again, so it shows what really holds.
      this.#fail(error, () => void this.#setAutoTransfer(enabled));
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  async #openDashboard() {
    const api = this.#api;
    if (!api) return;
    this.#busy = true;
    this.#error = null;
    this.#announce("Opening the Stripe dashboard…");
    this.#render();
    try {
      const { url } = await api.loginLink(this.#orgId);
      location.assign(url);
    } catch (error) {
      this.#announce("");
      this.#fail(error, () => void this.#openDashboard());
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  #fail(/** @type {unknown} */ error, /** @type {() => void} */ retry) {
    const explained = explainError(error);
    this.#error = { message: explained.message, retry: explained.retry ? retry : null, signedOut: explained.signedOut };
    if (explained.signedOut && !this.#signedOut) {
      this.#signedOut = true;
      this.#status = null;
      this.#balance = null;
      this.dispatchEvent(new CustomEvent("connect-payouts:signed-out", { bubbles: true, composed: true }));
    }
  }

  #render() {
    const parts = [];
    if (this.#error) parts.push(this.#renderError(this.#error));
    const status = this.#status;
    if (status && !this.#signedOut) {
      parts.push(...this.#renderStatus(status));
      // In the order money moves: earned → transferred to the balance → paid out.
      if (this.#payments && this.#canManage) parts.push(...this.#renderEarnings(this.#payments, status));
      if (this.#balance) parts.push(...this.#renderBalance(this.#balance, status));
      if (status.stripe_connect_account_id) parts.push(...this.#renderSchedule(status));
      if (this.#history && !this.#embedded.showsPayouts) parts.push(...this.#renderHistory(this.#history));
    } else if (this.#busy && !this.#error) {
      parts.push(h("p", { class: "muted" }, "Loading payouts…"));
    }
    this.#body.replaceChildren(...parts);
    for (const control of this.#body.querySelectorAll("button, input, select")) {
      if (!control.hasAttribute("data-always")) /** @type {HTMLButtonElement} */ (control).disabled = this.#busy;
    }
    this.setAttribute("aria-busy", String(this.#busy));
    const lost = document.activeElement === document.body || document.activeElement === this;
    if (this.#focusKey && lost && !this.#busy) {
      const same = [...this.#body.querySelectorAll("button, input, select, a")].find(
        (control) => controlKey(control) === this.#focusKey,
      );
      /** @type {HTMLElement | undefined} */ (same)?.focus();
    }
  }

  #renderError(/** @type {{message: string, retry: (() => void) | null, signedOut?: boolean}} */ error) {
    return h(
      "div",
      { class: "error", role: "alert" },
      h("p", {}, error.message),
      error.retry ? h("button", { type: "button", class: "secondary", onclick: error.retry }, "Try again") : null,
      error.signedOut
        ? h("a", { href: this.getAttribute("sign-in-url") || "/sign-in" }, "Sign in again")
        : null,
    );
  }

  #renderStatus(/** @type {import("./backend-client.mjs").StatusReply} */ status) {
    const state = describeState(status);
    const parts = [
      h(
        "p",
        {},
        "Status: ",
        h("span", { class: "badge", "data-state": state.key, "data-testid": "payout-state" }, state.label),
      ),
      h("p", {}, state.detail),
    ];
    const needs = describeRequirements(status);
    if (needs.length > 0 && state.key !== "not_started") {
      const deadline = describeDeadline(status.requirements_current_deadline);
      parts.push(
        h("h3", {}, "What Stripe still needs"),
        deadline ? h("p", { "data-testid": "requirements-deadline" }, deadline) : null,
        h(
          "ul",
          {},
          ...needs.map((need) =>
            h("li", { class: need.pastDue ? "past-due" : "" }, need.text, need.pastDue ? " — overdue" : ""),
          ),
        ),
      );
    }
    if (!this.#canManage) {
      parts.push(h("p", { class: "muted" }, "Only owners and admins can change payout settings and see or transfer earnings."));
      return parts;
    }
    const actions = [];
    if (state.key === "not_started") {
      actions.push(this.#button("Set up payouts", () => void this.#followNewLink("Preparing Stripe onboarding…")));
    } else if (state.key === "details_needed" || state.key === "restricted" || needs.length > 0) {
      actions.push(this.#button("Continue setup", () => void this.#followNewLink("Preparing Stripe onboarding…")));
    }
    if (status.details_submitted && state.key !== "rejected" && status.stripe_connect_account_profile !== "custom") {
      actions.push(this.#button("Open Stripe dashboard", () => void this.#openDashboard(), "secondary"));
    }
    if (actions.length > 0) parts.push(h("div", { class: "actions" }, ...actions));
    return parts;
  }

  #button(/** @type {string} */ label, /** @type {() => void} */ onclick, className = "") {
    return h("button", { type: "button", class: className, onclick }, label);
  }

  #renderBalance(
    /** @type {import("./backend-client.mjs").BalanceReply} */ balance,
    /** @type {import("./backend-client.mjs").StatusReply} */ status,
  ) {
    const currencies = [...new Set([...balance.available, ...balance.pending].map((m) => m.currency))].sort();
    const sum = (/** @type {{amount: number, currency: string}[]} */ list, /** @type {string} */ c) =>
      list.filter((m) => m.currency === c).reduce((total, m) => total + m.amount, 0);
    const parts = [h("h3", {}, "Balance")];
    if (currencies.length === 0) {
      parts.push(h("p", { class: "muted" }, "No money yet."));
    } else {
      parts.push(
        h(
          "table",
          { "aria-label": "Balance by currency" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Currency"), h("th", { scope: "col", class: "num" }, "Available"), h("th", { scope: "col", class: "num" }, "Pending"))),
          h(
            "tbody",
            {},
            ...currencies.map((c) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, c.toUpperCase()),
                h("td", { class: "num" }, formatMoney(sum(balance.available, c), c)),
                h("td", { class: "num" }, formatMoney(sum(balance.pending, c), c)),
              ),
            ),
          ),
        ),
      );
    }
    if (this.#lastPayout) {
      const p = this.#lastPayout;
      parts.push(
        h(
          "p",
          { "data-testid": "last-payout" },
          `Last payout: ${formatMoney(p.amount, p.currency)} — ${p.status.replace(/_/g, " ")}`,
          p.arrival_date ? `, expected ${new Date(p.arrival_date * 1000).toLocaleDateString()}` : "",
          ` (${p.payout_id})`,
        ),
      );
    }
    const payable = currencies.filter((c) => sum(balance.available, c) > 0);
    const manual = status.payout_schedule_interval === "manual";
    if (this.#canManage && status.stripe_connect_status === "active" && payable.length > 0 && manual) {
      parts.push(this.#renderPayoutForm(balance, payable, sum));
    }
    return parts;
  }

  #renderEarnings(
    /** @type {import("./backend-client.mjs").PaymentsReply} */ earnings,
    /** @type {import("./backend-client.mjs").StatusReply} */ status,
  ) {
    const payments = earnings.payments;
    if (!status.stripe_connect_account_id && payments.length === 0) return [];
    const automatic = status.auto_transfer_payments;
    const toggle = h("input", {
      type: "checkbox",
      role: "switch",
      name: "auto-transfer",
      "aria-describedby": "cp-auto-help",
      onchange: (event) => void this.#setAutoTransfer(/** @type {HTMLInputElement} */ (event.target).checked),
    });
    /** @type {HTMLInputElement} */ (toggle).checked = automatic;
    const ready = status.stripe_connect_status === "active" && status.payouts_enabled;
    const currency = payments[0]?.currency ?? "usd";
    const parts = [
      h("h3", { id: "cp-earnings" }, "Earnings"),
      h("label", { class: "switch" }, toggle, "Automatic transfers", h("span", { class: "state", "aria-hidden": "true" }, automatic ? "On" : "Off")),
      h("p", { id: "cp-auto-help", class: "muted", "data-testid": "auto-transfer-help" }, describeAutoTransfer(automatic, payments.length)),
    ];
    parts.push(h("p", {}, describeFeeRule(status.platform_fee_percent, status.platform_fee_fixed, currency)));
    const debt = this.#history ? renderDebt(this.#history.owed) : null;
    if (debt) parts.push(debt);
    if (payments.length === 0) {
      parts.push(h("p", { class: "muted" }, "No payments are waiting to be transferred."));
      return parts;
    }
    if (!ready && !automatic) {
      parts.push(h("p", { class: "muted" }, "Finish setting up payouts to transfer these payments to your account."));
    }
    parts.push(
      h(
        "ul",
        { class: "payments", "aria-label": "Payments not yet transferred" },
        ...payments.map((payment) => {
          const split = renderPaymentSplit(payment);
          const words = describePayment(asHeldByDispute(payment));
          const describedBy = `cp-pay-${payment.payment_intent_id}`;
          return h(
            "li",
            {},
            h(
              "div",
              { id: describedBy },
              h("span", { class: "payment-amount" }, words.left),
              split.badge,
              h("br"),
              h("span", { class: "muted" }, words.detail),
              ...split.line,
            ),
            !automatic && ready && !split.disputed
              ? h(
                  "button",
                  {
                    type: "button",
                    name: `transfer-${payment.payment_intent_id}`,
                    "aria-describedby": describedBy,
                    onclick: () => void this.#claim(payment),
                  },
                  "Transfer to my account",
                )
              : null,
          );
        }),
      ),
    );
    return parts;
  }

  #renderSchedule(/** @type {import("./backend-client.mjs").StatusReply} */ status) {
    const parts = [
      h("h3", {}, "Payout schedule"),
      h("p", { "data-testid": "payout-schedule" }, describeSchedule(status)),
    ];
    if (!this.#canManage) return parts;
    const interval = h(
      "select",
      { name: "schedule-interval", "aria-label": "Pay out" },
      ...[
        ["manual", "Manual"],
        ["daily", "Daily"],
        ["weekly", "Weekly"],
        ["monthly", "Monthly"],
      ].map(([value, label]) => h("option", { value }, label)),
    );
    /** @type {HTMLSelectElement} */ (interval).value = status.payout_schedule_interval;
    const weekday = h(
      "select",
      { name: "schedule-weekday", "aria-label": "Day of the week" },
      ...["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"].map((d) =>
        h("option", { value: d }, d[0].toUpperCase() + d.slice(1)),
      ),
    );
    /** @type {HTMLSelectElement} */ (weekday).value = status.payout_schedule_weekly_anchor ?? "monday";
    const monthDay = h("input", {
      name: "schedule-day",
      "aria-label": "Day of the month",
      type: "number",
      min: "1",
      max: "31",
      value: String(status.payout_schedule_monthly_anchor ?? 1),
    });
    const weekdayLabel = h("label", {}, "Day of the week", weekday);
    const monthDayLabel = h("label", {}, "Day of the month", monthDay);
    const showAnchors = () => {
      const chosen = /** @type {HTMLSelectElement} */ (interval).value;
      weekdayLabel.hidden = chosen !== "weekly";
      monthDayLabel.hidden = chosen !== "monthly";
    };
    interval.addEventListener("change", showAnchors);
    showAnchors();
    parts.push(
      h(
        "form",
        {
          class: "schedule-form",
          onsubmit: (event) => {
            event.preventDefault();
            const chosen = /** @type {"manual" | "daily" | "weekly" | "monthly"} */ (/** @type {HTMLSelectElement} */ (interval).value);
            void this.#setSchedule({
              interval: chosen,
              weeklyAnchor: chosen === "weekly" ? /** @type {HTMLSelectElement} */ (weekday).value : undefined,
              monthlyAnchor: chosen === "monthly" ? Number(/** @type {HTMLInputElement} */ (monthDay).value) : undefined,
            });
          },
        },
        h(
          "div",
          { class: "row" },
          h("label", {}, "Pay out", interval),
          weekdayLabel,
          monthDayLabel,
          h("button", { type: "submit", class: "secondary" }, "Save schedule"),
        ),
      ),
    );
    return parts;
  }

  #renderHistory(/** @type {History} */ history) {
    const entry = historyEntry;
    const parts = [h("h3", {}, "Payouts to your bank")];
    if (history.payouts.length === 0) {
      parts.push(h("p", { class: "muted" }, "No payouts yet."));
    } else {
      parts.push(h("ul", { class: "payments", "aria-label": "Payouts" }, ...history.payouts.map((p) => entry(describePayoutEntry(p), "payout"))));
      if (history.payoutCursor) {
        parts.push(h("button", { type: "button", class: "secondary", name: "more-payouts", onclick: () => void this.#moreHistory("payouts") }, "Show older payouts"));
      }
    }
    parts.push(h("h3", {}, "Transfers to your Stripe balance"));
    if (history.transfers.length === 0) {
      parts.push(h("p", { class: "muted" }, "No transfers yet."));
    } else {
      parts.push(h("ul", { class: "payments", "aria-label": "Transfers" }, ...history.transfers.map((t) => entry(describeTransferEntry(t), "transfer"))));
      if (history.transferCursor) {
        parts.push(h("button", { type: "button", class: "secondary", name: "more-transfers", onclick: () => void this.#moreHistory("transfers") }, "Show older transfers"));
      }
    }
    parts.push(...renderReturns(history.returns, history.returnCursor, () => void this.#moreHistory("returns")));
    return parts;
  }

  #renderPayoutForm(balance, /** @type {string[]} */ payable, sum) {
    const currencySelect = h(
      "select",
      { name: "currency" },
      ...payable.map((c) => h("option", { value: c }, c.toUpperCase())),
    );
    const amountOf = (/** @type {string} */ c) => {
      const digits = minorDigits(c);
      const minor = String(sum(balance.available, c)).padStart(digits + 1, "0");
      return digits === 0 ? minor : `${minor.slice(0, -digits)}.${minor.slice(-digits)}`;
    };
    const currency = payable.includes(this.#draft.currency) ? this.#draft.currency : payable[0];
    /** @type {HTMLSelectElement} */ (currencySelect).value = currency;
    const amountInput = h("input", {
      name: "amount",
      inputmode: "decimal",
      autocomplete: "off",
      value: this.#draft.amount && currency === this.#draft.currency ? this.#draft.amount : amountOf(currency),
    });
    const keepDraft = () => {
      this.#draft = {
        amount: /** @type {HTMLInputElement} */ (amountInput).value,
        currency: /** @type {HTMLSelectElement} */ (currencySelect).value,
      };
    };
    amountInput.addEventListener("input", keepDraft);
    currencySelect.addEventListener("change", () => {
      /** @type {HTMLInputElement} */ (amountInput).value = amountOf(/** @type {HTMLSelectElement} */ (currencySelect).value);
      keepDraft();
    });
    const form = h(
      "form",
      {
        onsubmit: (event) => {
          event.preventDefault();
          void this.#payOut(/** @type {HTMLInputElement} */ (amountInput).value, /** @type {HTMLSelectElement} */ (currencySelect).value);
        },
      },
      h("h3", {}, "Pay out to your bank"),
      h(
        "div",
        { class: "row" },
        h("label", {}, "Amount", amountInput),
        h("label", {}, "Currency", currencySelect),
        h("button", { type: "submit" }, "Pay out now"),
      ),
    );
    return form;
  }
}

if (!customElements.get("connect-payouts")) customElements.define("connect-payouts", ConnectPayouts);
