// Earnings in <connect-payouts> (owners and admins): the "Automatic transfers" switch, the
// platform's fee rate, what is owed to the platform, and each payment earned and not yet
// transferred with its "Transfer to my account" button.
import { describeAutoTransfer, describeFeeRule, describePayment } from "../earnings-words.mjs";
import { asHeldByDispute } from "../return-words.mjs";
import { h } from "./dom.mjs";
import { renderDebt, renderPaymentSplit } from "./money-back.mjs";

/**
 * @param {import("../backend-types.mjs").PaymentsReply} earnings
 * @param {import("../backend-types.mjs").StatusReply} status
 * @param {object} options
 * @param {import("../backend-types.mjs").Money[]} options.owed What the organization owes the platform.
 * @param {(enabled: boolean) => void} options.onAutoTransfer The switch was turned.
 * @param {(payment: import("../backend-types.mjs").Payment) => void} options.onClaim "Transfer to my account".
 * @returns {(Node | null)[]}
 */
export function earningsPanel(earnings, status, { owed, onAutoTransfer, onClaim }) {
  const payments = earnings.payments;
  if (!status.stripe_connect_account_id && payments.length === 0) return [];
  const automatic = status.auto_transfer_payments;
  const toggle = h("input", {
    type: "checkbox",
    role: "switch",
    name: "auto-transfer",
    "aria-describedby": "cp-auto-help",
    onchange: (event) => onAutoTransfer(/** @type {HTMLInputElement} */ (event.target).checked),
  });
  /** @type {HTMLInputElement} */ (toggle).checked = automatic;
  const ready = status.stripe_connect_status === "active" && status.payouts_enabled;
  const currency = payments[0]?.currency ?? "usd";
  const parts = [
    h("h3", { id: "cp-earnings" }, "Earnings"),
    h("label", { class: "switch" }, toggle, "Automatic transfers", h("span", { class: "state", "aria-hidden": "true" }, automatic ? "On" : "Off")),
    h("p", { id: "cp-auto-help", class: "muted", "data-testid": "auto-transfer-help" }, describeAutoTransfer(automatic, payments.length)),
    h("p", {}, describeFeeRule(status.platform_fee_percent, status.platform_fee_fixed, currency)),
    renderDebt(owed),
  ];
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
                  onclick: () => onClaim(payment),
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
