// What the backend's Connect fields mean, in words a person understands. Pure functions, so the
// element renders them and tests can read them without a browser.

/**
 * @typedef {object} StateInWords
 * @property {"not_started" | "details_needed" | "in_review" | "active" | "restricted" | "rejected"} key
 * @property {string} label Short, shown as the status badge.
 * @property {string} detail One sentence: what it means and what happens next.
 */

const REJECTION_REASONS = {
  "rejected.fraud": "Stripe rejected the account because of suspected fraud.",
  "rejected.terms_of_service": "Stripe rejected the account for breaching its terms of service.",
  "rejected.listed": "Stripe rejected the account because it appears on a prohibited list.",
  "rejected.other": "Stripe rejected the account.",
  deauthorized: "The Stripe account was disconnected from this platform.",
};

const RESTRICTION_REASONS = {
  "requirements.past_due": "Stripe needs information that is now overdue.",
  "requirements.pending_verification": "Stripe is verifying the information you sent.",
  "platform_paused": "The platform has paused payouts for this account.",
  "under_review": "Stripe is reviewing the account.",
  "action_required.requested_capabilities": "Stripe needs more information for this account.",
};

/**
 * @param {import("./backend-client.mjs").StatusReply} status
 * @returns {StateInWords}
 */
export function describeState(status) {
  const step = status.onboarding_step;
  if (!status.stripe_connect_account_id || step === "account_creation" || step === null) {
    return {
      key: "not_started",
      label: "Not set up",
      detail: "Payouts are not set up yet. Setting up takes a few minutes on Stripe.",
    };
  }
  if (step === "rejected") {
    const reason = status.onboarding_rejection_reason ?? "rejected.other";
    return {
      key: "rejected",
      label: "Rejected",
      detail: REJECTION_REASONS[reason] ?? `Stripe rejected the account (${humanize(reason)}).`,
    };
  }
  if (status.stripe_connect_status === "active") {
    return {
      key: "active",
      label: "Active",
      detail: "Payouts are on. Money you earn can be paid out to your bank account.",
    };
  }
  if (status.stripe_connect_status === "disabled") {
    const reason = status.onboarding_rejection_reason ?? status.requirements_disabled_reason;
    const why = reason ? (RESTRICTION_REASONS[reason] ?? `Reason: ${humanize(reason)}.`) : "";
    return {
      key: "restricted",
      label: "Restricted",
      detail: `Payouts are paused until Stripe gets what it needs. ${why}`.trim(),
    };
  }
  if (step === "details_submission") {
    return {
      key: "details_needed",
      label: "Details needed",
      detail: "Setup was started but Stripe still needs some details before payouts can start.",
    };
  }
  return {
    key: "in_review",
    label: "In review",
    detail: "Stripe is checking the details you sent. This usually takes a few minutes.",
  };
}

const REQUIREMENT_NAMES = {
  external_account: "A bank account to pay out to",
  "business_profile.url": "Your business website",
  "business_profile.mcc": "What your business does (industry)",
  "business_profile.product_description": "A description of what you sell",
  business_type: "Your type of business",
  "tos_acceptance.date": "Acceptance of Stripe's terms of service",
  "tos_acceptance.ip": "Acceptance of Stripe's terms of service",
  "individual.verification.document": "An identity document",
  "individual.id_number": "A government ID number",
  "individual.ssn_last_4": "The last 4 digits of a Social Security number",
  "individual.dob.day": "Date of birth",
  "individual.dob.month": "Date of birth",
  "individual.dob.year": "Date of birth",
  "individual.first_name": "First name",
  "individual.last_name": "Last name",
  "individual.email": "Email address",
  "individual.phone": "Phone number",
  "individual.address.line1": "Home address",
  "individual.address.city": "Home address",
  "individual.address.postal_code": "Home address",
  "individual.address.state": "Home address",
  "company.name": "Company name",
  "company.tax_id": "Company tax ID",
  "company.address.line1": "Company address",
  "company.address.city": "Company address",
  "company.address.postal_code": "Company address",
  "company.phone": "Company phone number",
  "representative.first_name": "The company representative's name",
  "representative.last_name": "The company representative's name",
};

/** `individual.address.city` → "Individual address city" for fields we have no name for. */
function humanize(/** @type {string} */ field) {
  const words = field.replace(/[._]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * What Stripe still needs, readable, without repeats (several fields make one item), past-due
 * items first and marked.
 * @param {import("./backend-client.mjs").StatusReply} status
 * @returns {{text: string, pastDue: boolean}[]}
 */
export function describeRequirements(status) {
  const seen = new Map();
  for (const field of status.requirements_past_due ?? []) {
    const text = REQUIREMENT_NAMES[field] ?? humanize(field);
    seen.set(text, true);
  }
  for (const field of status.requirements_currently_due ?? []) {
    const text = REQUIREMENT_NAMES[field] ?? humanize(field);
    if (!seen.has(text)) seen.set(text, false);
  }
  return [...seen].map(([text, pastDue]) => ({ text, pastDue }));
}

/**
 * Stripe's `current_deadline` (Unix seconds) as a sentence in the reader's locale, or "" when
 * there is none.
 * @param {number | null | undefined} deadline
 * @param {number} [now] Milliseconds, for tests.
 */
export function describeDeadline(deadline, now = Date.now()) {
  if (typeof deadline !== "number" || deadline <= 0) return "";
  const when = new Date(deadline * 1000).toLocaleDateString(undefined, {
    year: "numeric",
    month: "long",
    day: "numeric",
    timeZone: "UTC",
  });
  return deadline * 1000 <= now
    ? `These were due by ${when}; payouts stay paused until they are provided.`
    : `Provide these by ${when}, or Stripe will pause payouts.`;
}

/** The number of minor-unit digits of a currency (2 for USD, 0 for JPY), as Intl knows it. */
export function minorDigits(/** @type {string} */ currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Minor units → "$1,234.50" in the reader's locale; integers only, never float arithmetic on money. */
export function formatMoney(/** @type {number} */ amount, /** @type {string} */ currency) {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? "-" : "";
  const abs = String(Math.abs(amount)).padStart(digits + 1, "0");
  const major = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: currency.toUpperCase(),
    }).format(Number(`${sign}${major}`));
  } catch {
    return `${sign}${major} ${currency.toUpperCase()}`;
  }
}

/**
 * "12.5" in major units → 1250 minor units; null when it is not an amount with at most the
 * currency's digits. Parsed from the text, not through floats.
 * @param {string} text
 * @param {string} currency
 * @returns {number | null}
 */
export function parseAmount(text, currency) {
  const digits = minorDigits(currency);
  const match = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  return Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
}

/**
 * Whether a Better Auth `member.role` value lets its holder manage payouts. Better Auth stores
 * one role or several joined by `,` and reads them by splitting on `,`, trimming each part
 * (String.prototype.trim) and comparing case-sensitively; the backend reads them the same way.
 * @param {string | null | undefined} role
 */
export function canManagePayouts(role) {
  if (typeof role !== "string") return false;
  const held = role.split(",").map((part) => part.trim());
  return held.includes("owner") || held.includes("admin");
}

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
 * A day in the reader's locale ("Nov 30, 2026") from Unix seconds.
 * @param {number} seconds
 * @param {string} [timeZone] For tests; the reader's own zone by default.
 */
export function formatDay(seconds, timeZone) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone,
  });
}

/**
 * An earned payment in words: what is left to transfer (the headline) and one line of detail —
 * when it was paid and, when part of it is gone, how much it was and where the rest went.
 * @param {import("./backend-client.mjs").Payment} payment
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

const ORDINAL_SUFFIX = (/** @type {number} */ n) =>
  n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] ?? "th";

/**
 * The payout schedule in one sentence: who pays out, and when.
 * @param {Pick<import("./backend-client.mjs").StatusReply, "payout_schedule_interval" | "payout_schedule_delay_days" | "payout_schedule_weekly_anchor" | "payout_schedule_monthly_anchor">} status
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
 * @param {import("./backend-client.mjs").PayoutEntry} payout
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
 * @param {import("./backend-client.mjs").TransferEntry} transfer
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
