// The money history of <connect-payouts> (any member): payouts to the bank, transfers to the
// Stripe balance, and refunds and disputes (money-back.mjs), newest first, each with "Show older …"
// while there is more.
import { describePayoutEntry, describeTransferEntry } from "../history-words.mjs";
import { h } from "./dom.mjs";
import { historyEntry, renderReturns } from "./money-back.mjs";

/**
 * @param {import("./controller.mjs").History} history
 * @param {object} options
 * @param {(kind: "payouts" | "transfers" | "returns") => void} options.onMore "Show older …".
 * @returns {Node[]}
 */
export function historyPanel(history, { onMore }) {
  const more = (/** @type {"payouts" | "transfers"} */ kind, /** @type {string} */ label) =>
    h("button", { type: "button", class: "secondary", name: `more-${kind}`, onclick: () => onMore(kind) }, label);
  const parts = [h("h3", {}, "Payouts to your bank")];
  if (history.payouts.length === 0) {
    parts.push(h("p", { class: "muted" }, "No payouts yet."));
  } else {
    parts.push(h("ul", { class: "payments", "aria-label": "Payouts" }, ...history.payouts.map((p) => historyEntry(describePayoutEntry(p), "payout"))));
    if (history.payoutCursor) parts.push(more("payouts", "Show older payouts"));
  }
  parts.push(h("h3", {}, "Transfers to your Stripe balance"));
  if (history.transfers.length === 0) {
    parts.push(h("p", { class: "muted" }, "No transfers yet."));
  } else {
    parts.push(h("ul", { class: "payments", "aria-label": "Transfers" }, ...history.transfers.map((t) => historyEntry(describeTransferEntry(t), "transfer"))));
    if (history.transferCursor) parts.push(more("transfers", "Show older transfers"));
  }
  parts.push(...renderReturns(history.returns, history.returnCursor, () => onMore("returns")));
  return parts;
}
