// The state of one <connect-payouts> and what changes it, apart from how it is drawn (as a Lit
// reactive controller: it holds one feature's state and behaviour and asks its host to draw
// again). It reads the organization from the host's attributes, talks to the backend through
// backendClient, and turns every failure into words with a way on. Stripe-hosted onboarding and
// its landings are onboarding-controller.mjs's; the money actions (pay out, transfer a payment)
// money-controller.mjs's.
import { createBackendClient } from "../backend-client.mjs";
import { explainError } from "../error-words.mjs";
import { canManagePayouts, describeSchedule } from "../payout-words.mjs";
import { MoneyController } from "./money-controller.mjs";
import { OnboardingController } from "./onboarding-controller.mjs";

const HISTORY_PAGE = 10;

/**
 * @typedef {object} History
 * @property {import("../backend-types.mjs").PayoutEntry[]} payouts
 * @property {string | null} payoutCursor
 * @property {import("../backend-types.mjs").TransferEntry[]} transfers
 * @property {string | null} transferCursor
 * @property {import("../backend-types.mjs").ReturnEntry[]} returns
 * @property {string | null} returnCursor
 * @property {import("../backend-types.mjs").Money[]} owed
 */

/** @typedef {{message: string, retry: (() => void) | null, signedOut?: boolean}} ShownError */

/**
 * What the controller needs of the element that hosts it.
 * @typedef {object} PayoutsView
 * @property {() => void} render Draws the state again.
 * @property {(text: string) => void} announce Says `text` in the live region.
 * @property {(name: string) => void} focusField Puts keyboard focus on the named field.
 * @property {() => ((options?: {fresh?: boolean}) => any) | null} getToken The token source.
 * @property {import("./embedded-region.mjs").EmbeddedRegion} embedded
 */

export class PayoutsController {
  /** @type {import("../backend-types.mjs").StatusReply | null} */
  status = null;
  /** @type {import("../backend-types.mjs").BalanceReply | null} */
  balance = null;
  /** Owners/admins: the payments earned and not yet transferred. @type {import("../backend-types.mjs").PaymentsReply | null} */
  payments = null;
  /** Money history pages shown so far (and, for owners and admins, what is owed). @type {History | null} */
  history = null;
  /** @type {ShownError | null} */
  error = null;
  busy = false;
  signedOut = false;
  notice = "";
  money = new MoneyController(this);
  onboarding = new OnboardingController(this);

  /** @type {ReturnType<typeof createBackendClient> | null} */
  #client = null;
  #generation = 0;
  #host;
  #view;

  /** @param {HTMLElement} host @param {PayoutsView} view */
  constructor(host, view) {
    this.#host = host;
    this.#view = view;
  }

  /** One of the host element's attributes (`organization-id`, `return-url`, …). */
  attribute(/** @type {string} */ name) {
    return this.#host.getAttribute(name);
  }

  get orgId() {
    return this.attribute("organization-id") ?? "";
  }

  /** Whether a load started as `generation` is still the latest (an older one's answer is dropped). */
  isCurrent(/** @type {number} */ generation) {
    return generation === this.#generation;
  }

  get canManage() {
    return canManagePayouts(this.attribute("role"));
  }

  get api() {
    if (this.#client === null) {
      const baseUrl = this.attribute("backend-url");
      const getToken = this.#view.getToken();
      if (!baseUrl || !getToken) return null;
      this.#client = createBackendClient({ baseUrl, getToken: (options) => getToken(options) });
    }
    return this.#client;
  }

  render() {
    this.#view.render();
  }

  announce(/** @type {string} */ text) {
    this.notice = text;
    this.#view.announce(text);
  }

  focusField(/** @type {string} */ name) {
    this.#view.focusField(name);
  }

  /** A new token source: a new client, and whoever it signs in is not signed out. */
  tokenChanged() {
    this.#client = null;
    this.signedOut = false;
  }

  /** Another organization, backend, role or key: nothing read for the old one is kept. */
  reset() {
    this.#client = null;
    this.status = null;
    this.balance = null;
    this.payments = null;
    this.history = null;
    this.money.reset();
    this.#view.embedded.reset();
  }

  /** Reads status (and balance once there is an account) and renders; handles the Stripe landings. */
  async reload() {
    const api = this.api;
    if (!api || !this.orgId) return;
    const generation = ++this.#generation;
    const landing = this.onboarding.pending();
    if (landing === "refresh") {
      await this.onboarding.refresh();
      return;
    }
    this.busy = true;
    this.error = null;
    if (landing === "return") this.announce("Checking your setup with Stripe…");
    this.render();
    try {
      const status = await api.status(this.orgId, { refresh: landing === "return" });
      if (!this.isCurrent(generation)) return;
      this.status = status;
      // Members never ask for the earnings: the backend lists them to owners and admins only.
      const [balance, payments] = await Promise.all([
        status.stripe_connect_account_id ? api.balance(this.orgId) : null,
        this.canManage ? api.payments(this.orgId) : null,
      ]);
      if (!this.isCurrent(generation)) return;
      this.balance = balance;
      this.payments = payments;
      this.history = status.stripe_connect_account_id ? await this.firstHistoryPages(api) : null;
      if (!this.isCurrent(generation)) return;
      const publishableKey = this.attribute("publishable-key");
      const createSession = () => api.accountSession(this.orgId);
      void this.#view.embedded.show({ publishableKey, status, createSession }).then(() => this.render());
      if (landing === "return") {
        this.onboarding.returned(status, generation);
      } else if (this.notice.startsWith("Checking")) {
        this.announce("");
      }
    } catch (error) {
      if (!this.isCurrent(generation)) return;
      this.fail(error, () => void this.reload());
    } finally {
      if (this.isCurrent(generation)) {
        this.busy = false;
        this.render();
      }
    }
  }

  /**
   * One action of the person's: the controls disabled and `message` announced while it runs; a
   * failure clears the message and goes to `failed` (which explains it, with "Try again").
   * @param {string} message "" to announce nothing.
   * @param {(api: import("../backend-client.mjs").BackendClient) => Promise<void>} work
   * @param {(error: unknown) => void | Promise<void>} failed
   */
  async run(message, work, failed) {
    const api = this.api;
    if (!api) return;
    this.busy = true;
    this.error = null;
    if (message) this.announce(message);
    this.render();
    try {
      await work(api);
    } catch (error) {
      if (message) this.announce("");
      await failed(error);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  /** Balance and earnings again, after money moved (or the list turned out to be stale). */
  async reloadMoney(/** @type {import("../backend-client.mjs").BackendClient} */ api) {
    const [balance, payments, history] = await Promise.all([
      api.balance(this.orgId),
      api.payments(this.orgId),
      this.firstHistoryPages(api),
    ]);
    this.balance = balance;
    this.payments = payments;
    this.history = history;
  }

  /** The newest payouts, transfers and returns (any member may read them); debts for owners
   * and admins (the backend shows them to no one else). @returns {Promise<History>} */
  async firstHistoryPages(/** @type {import("../backend-client.mjs").BackendClient} */ api) {
    const [payouts, transfers, returns, debts] = await Promise.all([
      api.payoutHistory(this.orgId, { limit: HISTORY_PAGE }),
      api.transferHistory(this.orgId, { limit: HISTORY_PAGE }),
      api.returnHistory(this.orgId, { limit: HISTORY_PAGE }),
      this.canManage ? api.debts(this.orgId) : null,
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

  /** The next page of one history list. */
  async moreHistory(/** @type {"payouts" | "transfers" | "returns"} */ kind) {
    const history = this.history;
    if (!history) return;
    const more = async (/** @type {import("../backend-client.mjs").BackendClient} */ api) => {
      if (kind === "payouts") {
        const page = await api.payoutHistory(this.orgId, { limit: HISTORY_PAGE, cursor: history.payoutCursor });
        history.payouts = [...history.payouts, ...page.payouts];
        history.payoutCursor = page.next_cursor;
      } else if (kind === "returns") {
        const page = await api.returnHistory(this.orgId, { limit: HISTORY_PAGE, cursor: history.returnCursor });
        history.returns = [...history.returns, ...page.returns];
        history.returnCursor = page.next_cursor;
      } else {
        const page = await api.transferHistory(this.orgId, { limit: HISTORY_PAGE, cursor: history.transferCursor });
        history.transfers = [...history.transfers, ...page.transfers];
        history.transferCursor = page.next_cursor;
      }
    };
    await this.run("", more, (error) => this.fail(error, () => void this.moreHistory(kind)));
  }

  async setSchedule(/** @type {import("../backend-types.mjs").PayoutScheduleInput} */ input) {
    await this.run(
      "Saving the payout schedule…",
      async (api) => {
        this.status = await api.setPayoutSchedule(this.orgId, input);
        this.announce(`Payout schedule saved. ${describeSchedule(this.status)}`);
      },
      (error) => this.fail(error, () => void this.setSchedule(input)),
    );
  }

  async setAutoTransfer(/** @type {boolean} */ enabled) {
    await this.run(
      enabled ? "Turning automatic transfers on…" : "Turning automatic transfers off…",
      async (api) => {
        const status = await api.setAutoTransfer(this.orgId, enabled);
        this.status = status;
        this.payments = await api.payments(this.orgId);
        this.announce(
          status.auto_transfer_payments
            ? "Automatic transfers are on."
            : "Automatic transfers are off. Transfer each payment yourself.",
        );
      },
      // The switch is drawn from the stored setting again, so it shows what really holds.
      (error) => this.fail(error, () => void this.setAutoTransfer(enabled)),
    );
  }

  async openDashboard() {
    await this.run(
      "Opening the Stripe dashboard…",
      async (api) => {
        const { url } = await api.loginLink(this.orgId);
        location.assign(url);
      },
      (error) => this.fail(error, () => void this.openDashboard()),
    );
  }

  /** Shows a failure in words; a refused token signs the person out, once. */
  fail(/** @type {unknown} */ error, /** @type {() => void} */ retry) {
    const explained = explainError(error);
    this.error = { message: explained.message, retry: explained.retry ? retry : null, signedOut: explained.signedOut };
    if (explained.signedOut && !this.signedOut) {
      this.signedOut = true;
      this.status = null;
      this.balance = null;
      this.#host.dispatchEvent(new CustomEvent("connect-payouts:signed-out", { bubbles: true, composed: true }));
    }
  }
}
