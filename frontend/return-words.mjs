// Money that comes back, in words: a payment's fee and net, a dispute on it, what refunds and
// disputes took back from the organization's transfers, and what it owes the platform.
// Pure functions, as payout-words.mjs (money and days formatted by money-format.mjs).
import { formatDay, formatMoney } from "./money-format.mjs";

/** Dispute statuses that no longer hold the payment back (Stripe's `won`, a closed inquiry). */
const SETTLED_DISPUTES = new Set(["won", "warning_closed"]);

/**
 * Whether a payment is under a dispute that is not won: its money cannot be transferred.
 * @param {Pick<import("./backend-types.mjs").Payment, "dispute_status">} payment
 */
export function isDisputed(payment) {
  const status = payment.dispute_status;
  return typeof status === "string" && !SETTLED_DISPUTES.has(status);
}

/** A minus sign a reader sees as one ("−", U+2212) before an amount taken away. */
function minus(/** @type {number} */ amount, /** @type {string} */ currency) {
  return `\u2212${formatMoney(Math.abs(amount), currency)}`;
}

/**
 * A disputed payment as the list shows it: what the dispute holds back (what is left of it but for
 * the dispute), so its headline is that amount rather than the 0 left to transfer.
 * @param {import("./backend-types.mjs").Payment} payment
 * @returns {import("./backend-types.mjs").Payment}
 */
export function asHeldByDispute(payment) {
  if (!isDisputed(payment)) return payment;
  const held = payment.amount - payment.amount_refunded - payment.amount_transferred;
  return { ...payment, amount_remaining: Math.max(held, 0) };
}

/**
 * What transferring what is left of a payment would give: the platform's fee and the net, as
 * the backend previews them (`fee_amount`, `net_amount`); or why it cannot be transferred.
 * @param {import("./backend-types.mjs").Payment} payment
 * @returns {{disputed: boolean, text: string}}
 */
export function describePaymentSplit(payment) {
  const c = payment.currency;
  if (isDisputed(payment)) {
    const lost = payment.dispute_status === "lost";
    return {
      disputed: true,
      text: lost
        ? "Disputed: the customer's bank decided for the customer, so this money went back to them."
        : "Disputed: the customer's bank is reviewing this payment. It cannot be transferred unless the dispute is won.",
    };
  }
  if (payment.amount_remaining > 0 && payment.net_amount <= 0) {
    return { disputed: false, text: "Too small to transfer on its own once the platform fee is taken." };
  }
  return {
    disputed: false,
    text: `Platform fee ${formatMoney(payment.fee_amount, c)} · you receive ${formatMoney(payment.net_amount, c)}`,
  };
}

/**
 * What the organization owes the platform, in one sentence (null when nothing is owed).
 * @param {import("./backend-types.mjs").Money[]} owed Per currency.
 */
export function describeDebt(owed) {
  const due = owed.filter((m) => m.amount > 0);
  if (due.length === 0) return null;
  const amounts = due.map((m) => formatMoney(m.amount, m.currency));
  const listed = amounts.length > 1 ? `${amounts.slice(0, -1).join(", ")} and ${amounts.at(-1)}` : amounts[0];
  return `Owed to the platform: ${listed}, taken from your next transfer${due.length > 1 ? "s" : ""}.`;
}

/**
 * A return of the organization's history in words, as the other history entries are:
 * a reversal (money a refund or dispute took back from a transfer, or still owes), or a
 * reinstatement (a dispute won or a refund that failed: the money sent back to the account).
 * @param {import("./backend-types.mjs").ReturnEntry} entry
 * @param {string} [timeZone]
 * @returns {{amount: string, state: string, failed: boolean, detail: string}}
 */
export function describeReturnEntry(entry, timeZone) {
  const c = entry.currency;
  const day = formatDay(Math.floor(Date.parse(entry.created_at) / 1000), timeZone);
  const because = entry.cause === "dispute" ? "Disputed" : "Refunded";
  if (entry.kind === "reinstatement") {
    const why =
      entry.cause === "dispute"
        ? "The dispute was won"
        : "The customer's refund did not go through";
    const states = { pending: "Sending back", done: "Sent back", failed: "Failed", owed: "Failed" };
    const failed = entry.status === "failed" || entry.status === "owed";
    return {
      amount: `+${formatMoney(entry.amount, c)}`,
      state: states[entry.status] ?? entry.status,
      failed,
      detail: failed
        ? `${day} · ${why}, but Stripe refused to send the money back: ${entry.failure_message ?? "the platform's operators will check it"}.`
        : `${day} · ${why}: ${formatMoney(entry.amount, c)} ${entry.status === "done" ? "sent back to" : "being sent back to"} your Stripe balance.`,
    };
  }
  if (entry.status === "owed") {
    const paid = entry.amount - entry.amount_owed;
    const already = paid > 0 ? ` (${formatMoney(paid, c)} of ${formatMoney(entry.amount, c)} already paid back)` : "";
    return {
      amount: minus(entry.amount, c),
      state: "Owed",
      failed: true,
      detail: `${day} · ${because}, but your balance could not give it back. Owed to the platform: ${formatMoney(entry.amount_owed, c)}, taken from your next transfer${already}.`,
    };
  }
  if (entry.status === "pending") {
    return {
      amount: minus(entry.amount, c),
      state: "Returning",
      failed: false,
      detail: `${day} · ${because} ${minus(entry.amount, c)}, being returned to the platform.`,
    };
  }
  if (entry.amount_forgiven >= entry.amount) {
    return {
      amount: formatMoney(0, c),
      state: "Not needed",
      failed: false,
      detail: `${day} · ${because}: ${formatMoney(entry.amount, c)} was owed, then the money came back, so nothing was taken.`,
    };
  }
  const later = entry.amount_recovered > 0 ? ` ${formatMoney(entry.amount_recovered, c)} of it came from a later transfer.` : "";
  const forgiven =
    entry.amount_forgiven > 0 ? ` ${formatMoney(entry.amount_forgiven, c)} of it was not needed after all (the money came back).` : "";
  return {
    amount: minus(entry.amount, c),
    state: because,
    failed: false,
    detail: `${day} · ${because} ${minus(entry.amount, c)}, returned to the platform.${later}${forgiven}`,
  };
}
