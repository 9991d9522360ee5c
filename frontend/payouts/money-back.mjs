// The parts of <connect-payouts> about money that comes back: a payment's fee and net (or its
// dispute) in the Earnings list, what the organization owes the platform, and the history of
// refunds and disputes that took money back from its transfers. DOM only; the words are
// return-words.mjs's, the styles styles.mjs's.
import { h } from "./dom.mjs";
import { describeDebt, describePaymentSplit, describeReturnEntry } from "../return-words.mjs";

/**
 * One entry of a history list: the amount, its state as a badge, and a line of detail (a
 * failure stands out and is read as a note).
 * @param {{amount: string, state: string, failed: boolean, detail: string}} words
 * @param {string} testId
 */
export function historyEntry(words, testId) {
  return h(
    "li",
    { class: words.failed ? "failed" : "", "data-testid": words.failed ? `failed-${testId}` : testId },
    h(
      "div",
      {},
      h("span", { class: "payment-amount" }, words.amount),
      " ",
      h("span", { class: "badge", "data-state": words.failed ? "restricted" : "" }, words.state),
      h("br"),
      h("span", words.failed ? { role: "note" } : { class: "muted" }, words.detail),
    ),
  );
}

/**
 * For a payment of the Earnings list: a "Disputed" badge beside its amount (null when it is not
 * disputed) and, under it, the fee and net its transfer would have or why it cannot be
 * transferred — so the person knows before clicking.
 * @param {import("../backend-types.mjs").Payment} payment
 * @returns {{badge: Node | null, line: Node[], disputed: boolean}}
 */
export function renderPaymentSplit(payment) {
  const split = describePaymentSplit(payment);
  const badge = split.disputed
    ? h("span", { class: "badge", "data-state": "disputed", "data-testid": "payment-disputed" }, "Disputed")
    : null;
  const line = [h("br"), h("span", { class: "split", "data-testid": "payment-split" }, split.text)];
  return { badge, line, disputed: split.disputed };
}

/**
 * What the organization owes the platform, as a note above its history (null when nothing).
 * @param {import("../backend-types.mjs").Money[]} owed
 */
export function renderDebt(owed) {
  const text = describeDebt(owed);
  return text ? h("p", { class: "notice debt", role: "note", "data-testid": "debt" }, text) : null;
}

/**
 * The history of refunds and disputes (reversals, debts, reinstatements), newest first, with
 * "Show older refunds and disputes" while there is more.
 * @param {import("../backend-types.mjs").ReturnEntry[]} returns
 * @param {string | null} cursor
 * @param {() => void} onMore
 */
export function renderReturns(returns, cursor, onMore) {
  const parts = [h("h3", {}, "Refunds and disputes")];
  if (returns.length === 0) {
    parts.push(h("p", { class: "muted" }, "No refunds or disputes have taken money back."));
    return parts;
  }
  parts.push(
    h(
      "ul",
      { class: "payments", "aria-label": "Refunds and disputes" },
      ...returns.map((entry) => historyEntry(describeReturnEntry(entry), "return")),
    ),
  );
  if (cursor) {
    parts.push(
      h("button", { type: "button", class: "secondary", name: "more-returns", onclick: onMore }, "Show older refunds and disputes"),
    );
  }
  return parts;
}
