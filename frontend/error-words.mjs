// A failed backend call in words, with what the person can do next: try again (and when), sign
// in again, or nothing but read why. Pure functions; connect-payouts.mjs re-exports explainError.
import { BackendError } from "./backend-errors.mjs";

/**
 * A failure in words, with what the person can do next.
 * @param {unknown} error
 * @returns {{message: string, retry: boolean, signedOut?: boolean}}
 */
export function explainError(error) {
  if (!(error instanceof BackendError)) {
    return { message: "Something went wrong in this page. Try again.", retry: true };
  }
  const wait = error.retryAfter ? ` Try again in ${error.retryAfter} seconds.` : " Try again in a moment.";
  switch (error.code) {
    case "network_error":
    case "worker_unavailable":
      return {
        message: "The payouts service cannot be reached right now. Check your connection and try again.",
        retry: true,
      };
    case "stripe_unavailable":
    case "stripe_error":
    case "stripe_rate_limited":
      return { message: `Stripe is slow to answer or unavailable.${wait}`, retry: true };
    case "rate_limited":
      return { message: `Too many requests in a short time.${wait}`, retry: true };
    case "platform_busy":
      return { message: `Payments are busy right now.${wait}`, retry: true };
    case "email_not_verified":
      return { message: "Verify your email address before setting up payouts.", retry: false };
    case "missing_token":
    case "invalid_token":
      return { message: "You are signed out. Sign in again to manage payouts.", retry: false, signedOut: true };
    case "forbidden":
      return {
        message: "You are not a member of this organization, so its payouts are not shown.",
        retry: false,
      };
    case "insufficient_role":
      return { message: "Only owners and admins of this organization can do this.", retry: false };
    case "insufficient_balance":
      return {
        message: "The available balance is not enough for this payout. Choose a smaller amount.",
        retry: false,
      };
    case "invalid_amount":
      return { message: `That amount cannot be paid out. ${error.message}`, retry: false };
    case "payout_failed":
      return { message: refusedPayout(error.message), retry: false };
    case "automatic_payouts":
      return {
        message: "Stripe pays this organization out on its schedule. Switch the payout schedule to Manual to pay out now.",
        retry: false,
      };
    case "payout_schedule_not_allowed":
    case "weekly_anchor_required":
    case "monthly_anchor_required":
    case "invalid_schedule":
      return { message: error.message, retry: false };
    case "account_not_ready":
      return { message: "Finish setting up payouts first.", retry: false };
    case "payout_outcome_unknown":
      return {
        message: "Stripe never confirmed this payout. The platform's operators will check it; do not send it again.",
        retry: false,
      };
    default:
      return error.status >= 500
        ? { message: `The payouts service had a problem.${wait}`, retry: true }
        : { message: error.message, retry: false };
  }
}

/** Stripe's refusal, in words for the person paying out rather than for a developer. */
function refusedPayout(/** @type {string} */ stripeMessage) {
  if (/insufficient|not enough|balance/i.test(stripeMessage)) {
    return "Stripe refused the payout: the available balance is not enough. Choose a smaller amount.";
  }
  if (/minimum|too small|at least/i.test(stripeMessage)) {
    return "Stripe refused the payout: the amount is below the minimum Stripe pays out. Choose a larger amount.";
  }
  if (/bank|external account|destination/i.test(stripeMessage)) {
    return "Stripe refused the payout: the bank account cannot receive it. Check it in the Stripe dashboard.";
  }
  return `Stripe refused the payout. ${stripeMessage}`;
}
