// Where the money went after the balance: the payout schedule in one sentence, and each payout
// and transfer of the history in words. Pure functions.
import { formatDay, formatMoney } from "./money-format.mjs";

const ORDINAL_SUFFIX = (/** @type {number} */ n) =>
  n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] ?? "th";

/**
 * The payout schedule in one sentence: who pays out, and when.
 * @param {Pick<import("./backend-types.mjs").StatusReply, "payout_schedule_interval" | "payout_schedule_delay_days" | "payout_schedule_weekly_anchor" | "payout_schedule_monthly_anchor">} status
 * @returns {string}
 */
export function describeSchedule(status) {
  const delay = status.payout_schedule_delay_days;
  const after = delay ? ` Each payment waits ${delay} day${delay === 1 ? "" : "s"} before it can be paid out.` : "";
  switch (status.payout_schedule_interval) {
    case "daily":
      return `Stripe pays your available balance out to your bank every day.${after}`;
    case "weekly": {
      const day = status.payout_schedule_weekly_anchor;
      const name = day ? day[0].toUpperCase() + day.slice(1) : "one day";
      return `Stripe pays your available balance out to your bank every ${name}.${after}`;
    }
    case "monthly": {
      const n = status.payout_schedule_monthly_anchor;
      const when = n
        ? `on the ${n}${ORDINAL_SUFFIX(n)} of each month${n > 28 ? " (or the month's last day)" : ""}`
        : "once a month";
      return `Stripe pays your available balance out to your bank ${when}.${after}`;
    }
    default:
      return "Manual: money stays in your Stripe balance until an owner or admin pays it out.";
  }
}

/**
 * A payout of the history in words: its amount and what happened to it.
 * @param {import("./backend-types.mjs").PayoutEntry} payout
 * @param {string} [timeZone]
 * @returns {{amount: string, state: string, failed: boolean, detail: string}}
 */
export function describePayoutEntry(payout, timeZone) {
  const states = {
    reserved: "Sending",
    refused: "Not sent",
    pending: "Pending",
    in_transit: "On its way",
    paid: "Paid",
    failed: "Failed",
    canceled: "Canceled",
  };
  const failed = payout.status === "failed";
  const by = payout.automatic ? "Automatic payout" : "Payout requested here";
  const arrival = payout.arrival_date ? ` · arrival ${formatDay(payout.arrival_date, timeZone)}` : "";
  let detail = `${by}${arrival}`;
  if (failed) {
    const why = payout.failure_message || "The bank did not accept the payout.";
    detail = `${why} ${payout.failure_advice ?? ""}`.trim();
  } else if (payout.status === "refused") {
    detail = "Stripe refused it; nothing left your balance.";
  }
  return {
    amount: formatMoney(payout.amount, payout.currency),
    state: /** @type {Record<string, string>} */ (states)[payout.status] ?? payout.status,
    failed,
    detail,
  };
}

/**
 * A transfer of the history in words: what reached the Stripe balance, and from what.
 * @param {import("./backend-types.mjs").TransferEntry} transfer
 * @param {string} [timeZone]
 * @returns {{amount: string, state: string, failed: boolean, detail: string}}
 */
export function describeTransferEntry(transfer, timeZone) {
  const c = transfer.currency;
  const states = { pending: "Pending", succeeded: "Done", failed: "Failed", reversed: "Reversed" };
  const day = formatDay(Math.floor(Date.parse(transfer.created_at) / 1000), timeZone);
  const from = transfer.source_transaction
    ? `${formatMoney(transfer.gross_amount, c)} payment less the ${formatMoney(transfer.fee_amount, c)} fee`
    : transfer.reason ?? "Adjustment by the platform";
  const reversed = transfer.amount_reversed > 0 ? ` · ${formatMoney(transfer.amount_reversed, c)} taken back` : "";
  const failed = transfer.status === "failed";
  return {
    amount: formatMoney(transfer.net_amount, c),
    state: states[transfer.status] ?? transfer.status,
    failed,
    detail: failed ? `${day} · ${transfer.failure_message ?? "Stripe refused the transfer."}` : `${day} · ${from}${reversed}`,
  };
}
