// The top of <connect-payouts>: a failure with its way on, then the account's state in words,
// what Stripe still needs and by when, and the setup and dashboard buttons for owners and admins.
import { describeDeadline, describeRequirements, describeState } from "../payout-words.mjs";
import { h } from "./dom.mjs";

/**
 * A failure in words, with "Try again" when it may work later and "Sign in again" once signed out.
 * @param {import("./controller.mjs").ShownError} error
 * @param {string} signInUrl
 */
export function errorPanel(error, signInUrl) {
  return h(
    "div",
    { class: "error", role: "alert" },
    h("p", {}, error.message),
    error.retry ? h("button", { type: "button", class: "secondary", onclick: error.retry }, "Try again") : null,
    error.signedOut ? h("a", { href: signInUrl }, "Sign in again") : null,
  );
}

/**
 * @param {import("../backend-types.mjs").StatusReply} status
 * @param {object} options
 * @param {boolean} options.canManage Owners and admins see the buttons.
 * @param {() => void} options.onSetUp "Set up payouts" / "Continue setup": Stripe-hosted onboarding.
 * @param {() => void} options.onDashboard "Open Stripe dashboard".
 * @returns {(Node | null)[]}
 */
export function statusPanel(status, { canManage, onSetUp, onDashboard }) {
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
  if (!canManage) {
    parts.push(h("p", { class: "muted" }, "Only owners and admins can change payout settings and see or transfer earnings."));
    return parts;
  }
  const button = (/** @type {string} */ label, /** @type {() => void} */ onclick, className = "") =>
    h("button", { type: "button", class: className, onclick }, label);
  const actions = [];
  if (state.key === "not_started") {
    actions.push(button("Set up payouts", onSetUp));
  } else if (state.key === "details_needed" || state.key === "restricted" || needs.length > 0) {
    actions.push(button("Continue setup", onSetUp));
  }
  if (status.details_submitted && state.key !== "rejected" && status.stripe_connect_account_profile !== "custom") {
    actions.push(button("Open Stripe dashboard", onDashboard, "secondary"));
  }
  if (actions.length > 0) parts.push(h("div", { class: "actions" }, ...actions));
  return parts;
}
