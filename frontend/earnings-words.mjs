// Earnings in words: the platform's fee rate, a payment earned and not yet transferred, the
// automatic-transfers setting, and each refusal of a transfer with its way on. Pure functions.
import { formatDay, formatMoney } from "./money-format.mjs";

/**
 * The organization's platform fee as a person reads it: "10%", "2.9% + $0.30", "$0.30", or ""
 * when there is none. The backend alone computes the fee of a transfer; this only names the rate.
 * @param {number} percent
 * @param {number} fixed Minor units.
 * @param {string} currency
 */
export function describeFeeRate(percent, fixed, currency) {
  const parts = [];
  if (percent > 0) {
    parts.push(`${new Intl.NumberFormat(undefined, { maximumFractionDigits: 4 }).format(percent)}%`);
  }
  if (fixed > 0) parts.push(formatMoney(fixed, currency));
  return parts.join(" + ");
}

/**
 * One sentence on what is kept from an earned payment when it is transferred.
 * @param {number} percent
 * @param {number} fixed Minor units.
 * @param {string} currency The currency the fixed part is shown in.
 */
export function describeFeeRule(percent, fixed, currency) {
  const rate = describeFeeRate(percent, fixed, currency);
  return rate
    ? `The platform keeps its fee of ${rate} from each payment when it is transferred; the rest goes to your Stripe balance.`
    : "The platform keeps no fee: each payment goes to your Stripe balance in full.";
}

/**
 * An earned payment in words: what is left to transfer (the headline) and one line of detail —
 * when it was paid and, when part of it is gone, how much it was and where the rest went.
 * @param {import("./backend-types.mjs").Payment} payment
 * @param {string} [timeZone]
 * @returns {{left: string, detail: string}}
 */
export function describePayment(payment, timeZone) {
  const c = payment.currency;
  const detail = [`Paid ${formatDay(payment.created, timeZone)}`];
  if (payment.amount_remaining !== payment.amount) {
    const gone = [`of ${formatMoney(payment.amount, c)}`];
    if (payment.amount_refunded > 0) gone.push(`${formatMoney(payment.amount_refunded, c)} refunded`);
    if (payment.amount_transferred > 0) {
      gone.push(`${formatMoney(payment.amount_transferred, c)} already transferred`);
    }
    detail.push(gone.join(", "));
  }
  return { left: formatMoney(payment.amount_remaining, c), detail: detail.join(" · ") };
}

/**
 * What the automatic-transfers setting means, for the sentence above the earnings list.
 * @param {boolean} enabled
 * @param {number} waiting How many payments are still listed.
 */
export function describeAutoTransfer(enabled, waiting) {
  if (!enabled) {
    return waiting > 0
      ? "Automatic transfers are off: transfer each payment to your Stripe balance when you choose."
      : "Automatic transfers are off: payments will wait here until you transfer them.";
  }
  return waiting > 0
    ? "Automatic transfers are on: each new payment is transferred as soon as it succeeds. The payments below arrived earlier or could not be sent automatically; turn automatic transfers off to transfer them yourself."
    : "Automatic transfers are on: each payment is transferred to your Stripe balance as soon as it succeeds.";
}

/**
 * The backend's refusal of a transfer, in words, with the way on: `retry` (the same click may
 * work later), `refresh` (the list is out of date: read it again). Null for codes that are not
 * about the payment (network, sign-in, roles…), which the caller explains as any other failure.
 * @param {string} code
 * @param {string} message The backend's message (for developers; read only for the minimum).
 * @returns {{message: string, retry: boolean, refresh: boolean} | null}
 */
export function describeTransferRefusal(code, message) {
  switch (code) {
    case "below_minimum_transfer": {
      const minimum = /minimum transfer of (\d+) ([a-z]{3})/.exec(message);
      const smallest = minimum ? ` (the smallest is ${formatMoney(Number(minimum[1]), minimum[2])})` : "";
      return {
        message: `This payment is too small to transfer on its own${smallest}. Contact the platform's support if you need it paid out.`,
        retry: false,
        refresh: false,
      };
    }
    case "source_exhausted":
      return {
        message: "This payment was already transferred or refunded, so nothing is left to send. The list below is up to date again.",
        retry: false,
        refresh: true,
      };
    case "source_not_found":
    case "source_currency_mismatch":
      return {
        message: "This payment cannot be found among this organization's payments any more. The list below is up to date again.",
        retry: false,
        refresh: true,
      };
    case "source_not_succeeded":
      return {
        message: "The customer's payment has not gone through yet. Try again once it has.",
        retry: true,
        refresh: false,
      };
    case "account_not_ready":
      return {
        message: "Your Stripe account cannot receive transfers yet. Finish setting up payouts (Continue setup), then transfer it.",
        retry: false,
        refresh: false,
      };
    case "invalid_amount":
      return {
        message: "After the platform fee nothing would be left of this payment, so it cannot be transferred.",
        retry: false,
        refresh: false,
      };
    case "transfer_failed":
      return {
        message: "Stripe refused the transfer. The payment stays here: try again later, or contact the platform's support if it keeps failing.",
        retry: false,
        refresh: true,
      };
    case "transfer_outcome_unknown":
      return {
        message: "Stripe never confirmed this transfer. The platform's operators will check it; do not send it again.",
        retry: false,
        refresh: false,
      };
    default:
      return null;
  }
}

