// Balance in <connect-payouts>: available and pending per currency, the last payout sent from
// here, and — for owners and admins of an active account paid out by hand — the "Pay out now"
// form, which keeps what the person typed across re-renders.
import { formatMoney, minorDigits } from "../money-format.mjs";
import { h } from "./dom.mjs";

/** The sum of `list`'s amounts in `currency` (minor units). */
function sum(/** @type {import("../backend-types.mjs").Money[]} */ list, /** @type {string} */ currency) {
  return list.filter((m) => m.currency === currency).reduce((total, m) => total + m.amount, 0);
}

/**
 * @param {import("../backend-types.mjs").BalanceReply} balance
 * @param {import("../backend-types.mjs").StatusReply} status
 * @param {object} options
 * @param {boolean} options.canManage
 * @param {import("../backend-types.mjs").PayoutReply | null} options.lastPayout
 * @param {{amount: string, currency: string}} options.draft What was typed in the form.
 * @param {(draft: {amount: string, currency: string}) => void} options.onDraft The form changed.
 * @param {(amountText: string, currency: string) => void} options.onPayOut "Pay out now".
 * @returns {Node[]}
 */
export function balancePanel(balance, status, { canManage, lastPayout, draft, onDraft, onPayOut }) {
  const currencies = [...new Set([...balance.available, ...balance.pending].map((m) => m.currency))].sort();
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
  if (lastPayout) {
    const p = lastPayout;
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
  if (canManage && status.stripe_connect_status === "active" && payable.length > 0 && manual) {
    parts.push(payoutForm(balance, payable, { draft, onDraft, onPayOut }));
  }
  return parts;
}

/**
 * "Pay out now": the amount (the whole available balance of the currency by default) and the
 * currency.
 * @param {import("../backend-types.mjs").BalanceReply} balance
 * @param {string[]} payable Currencies with money available.
 * @param {Pick<Parameters<typeof balancePanel>[2], "draft" | "onDraft" | "onPayOut">} options
 */
function payoutForm(balance, payable, { draft, onDraft, onPayOut }) {
  const currencySelect = /** @type {HTMLSelectElement} */ (
    h("select", { name: "currency" }, ...payable.map((c) => h("option", { value: c }, c.toUpperCase())))
  );
  const amountOf = (/** @type {string} */ c) => {
    const digits = minorDigits(c);
    const minor = String(sum(balance.available, c)).padStart(digits + 1, "0");
    return digits === 0 ? minor : `${minor.slice(0, -digits)}.${minor.slice(-digits)}`;
  };
  const currency = payable.includes(draft.currency) ? draft.currency : payable[0];
  currencySelect.value = currency;
  const amountInput = /** @type {HTMLInputElement} */ (
    h("input", {
      name: "amount",
      inputmode: "decimal",
      autocomplete: "off",
      value: draft.amount && currency === draft.currency ? draft.amount : amountOf(currency),
    })
  );
  const keepDraft = () => onDraft({ amount: amountInput.value, currency: currencySelect.value });
  amountInput.addEventListener("input", keepDraft);
  currencySelect.addEventListener("change", () => {
    amountInput.value = amountOf(currencySelect.value);
    keepDraft();
  });
  return h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        onPayOut(amountInput.value, currencySelect.value);
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
}
