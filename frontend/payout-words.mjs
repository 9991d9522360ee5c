// What the backend's Connect fields mean, in words a person understands: the account's state,
// what Stripe still needs and by when, and who may manage payouts. Pure functions, so the element
// renders them and tests can read them without a browser.
//
// Also the one import for every payout word: money formats (money-format.mjs), earnings
// (earnings-words.mjs), the schedule and the history (history-words.mjs) are re-exported here.
export { formatDay, formatMoney, minorDigits, parseAmount } from "./money-format.mjs";
export {
  describeAutoTransfer,
  describeFeeRate,
  describeFeeRule,
  describePayment,
  describeTransferRefusal,
} from "./earnings-words.mjs";
export { describePayoutEntry, describeSchedule, describeTransferEntry } from "./history-words.mjs";

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
 * @param {import("./backend-types.mjs").StatusReply} status
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
 * @param {import("./backend-types.mjs").StatusReply} status
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

