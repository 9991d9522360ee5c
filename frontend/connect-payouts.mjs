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
//
// This module is the element alone — attributes, shadow root, drawing, keyboard focus. Its parts
// are in payouts/: the state and the actions (controller.mjs, money-controller.mjs), one module
// per panel (*-panel.mjs), the adopted stylesheet (styles.mjs); the words in ../*-words.mjs.
import { EmbeddedRegion } from "./payouts/embedded-region.mjs";
import { PayoutsController } from "./payouts/controller.mjs";
import { balancePanel } from "./payouts/balance-panel.mjs";
import { earningsPanel } from "./payouts/earnings-panel.mjs";
import { h } from "./payouts/dom.mjs";
import { historyPanel } from "./payouts/history-panel.mjs";
import { payoutsStyleSheet } from "./payouts/styles.mjs";
import { schedulePanel } from "./payouts/schedule-panel.mjs";
import { errorPanel, statusPanel } from "./payouts/status-panel.mjs";

export { explainError } from "./error-words.mjs";

/** What identifies a control across re-renders: its field name, else its text. */
function controlKey(/** @type {Element} */ control) {
  return control.getAttribute("name") || control.textContent || "";
}

export class ConnectPayouts extends HTMLElement {
  static observedAttributes = ["organization-id", "backend-url", "role", "heading", "publishable-key"];

  /** @type {((options?: {fresh?: boolean}) => Promise<string | null | undefined> | string | null | undefined) | null} */
  #getToken = null;
  /** Name of the control that last had focus, so a re-render puts keyboard focus back on it. */
  #focusKey = "";
  /** @type {ShadowRoot} */
  #root;
  /** @type {HTMLElement} */
  #live;
  /** @type {HTMLElement} */
  #body;
  #title = h("h2", { id: "cp-title" }, "Payouts");
  /** Stripe's embedded components, given a `publishable-key` (see payouts/embedded-region.mjs). */
  #embedded = new EmbeddedRegion((text) => this.#state.announce(text));
  /** @type {PayoutsController} */
  #state;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    this.#root.adoptedStyleSheets = [payoutsStyleSheet()];
    this.#live = h("p", { class: "notice", role: "status", "aria-live": "polite" });
    this.#body = h("div");
    this.#state = new PayoutsController(this, {
      render: () => this.#render(),
      announce: (text) => {
        this.#live.textContent = text;
      },
      focusField: (name) => /** @type {HTMLElement | null} */ (this.#root.querySelector(`[name="${name}"]`))?.focus(),
      getToken: () => this.#getToken,
      embedded: this.#embedded,
    });
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
    this.#state.tokenChanged();
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
    this.#state.reset();
    if (this.isConnected) void this.reload();
  }

  /** Reads status (and balance once there is an account) and renders; handles the Stripe landings. */
  async reload() {
    await this.#state.reload();
  }

  /** Draws the panels from the state, in the order money moves: earned → transferred to the
   * balance → paid out; then disables the controls while busy and gives focus back. */
  #render() {
    const state = this.#state;
    const manage = state.canManage;
    /** @type {(Node | null)[]} */
    const parts = [];
    if (state.error) parts.push(errorPanel(state.error, this.getAttribute("sign-in-url") || "/sign-in"));
    const status = state.status;
    if (status && !state.signedOut) {
      parts.push(
        ...statusPanel(status, {
          canManage: manage,
          onSetUp: () => void state.onboarding.follow("Preparing Stripe onboarding…"),
          onDashboard: () => void state.openDashboard(),
        }),
      );
      if (state.payments && manage) {
        parts.push(
          ...earningsPanel(state.payments, status, {
            owed: state.history?.owed ?? [],
            onAutoTransfer: (enabled) => void state.setAutoTransfer(enabled),
            onClaim: (payment) => void state.money.claim(payment),
          }),
        );
      }
      if (state.balance) {
        parts.push(
          ...balancePanel(state.balance, status, {
            canManage: manage,
            lastPayout: state.money.lastPayout,
            draft: state.money.draft,
            onDraft: (draft) => {
              state.money.draft = draft;
            },
            onPayOut: (amountText, currency) => void state.money.payOut(amountText, currency),
          }),
        );
      }
      if (status.stripe_connect_account_id) {
        parts.push(...schedulePanel(status, { canManage: manage, onSave: (input) => void state.setSchedule(input) }));
      }
      if (state.history && !this.#embedded.showsPayouts) {
        parts.push(...historyPanel(state.history, { onMore: (kind) => void state.moreHistory(kind) }));
      }
    } else if (state.busy && !state.error) {
      parts.push(h("p", { class: "muted" }, "Loading payouts…"));
    }
    this.#body.replaceChildren(.../** @type {Node[]} */ (parts.filter((part) => part !== null)));
    for (const control of this.#body.querySelectorAll("button, input, select")) {
      if (!control.hasAttribute("data-always")) /** @type {HTMLButtonElement} */ (control).disabled = state.busy;
    }
    this.setAttribute("aria-busy", String(state.busy));
    const lost = document.activeElement === document.body || document.activeElement === this;
    if (this.#focusKey && lost && !state.busy) {
      const same = [...this.#body.querySelectorAll("button, input, select, a")].find(
        (control) => controlKey(control) === this.#focusKey,
      );
      /** @type {HTMLElement | undefined} */ (same)?.focus();
    }
  }
}

if (!customElements.get("connect-payouts")) customElements.define("connect-payouts", ConnectPayouts);
