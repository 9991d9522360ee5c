// The Connect columns our D1 migrations add to the platform's organization table, declared to
// Better Auth as read-only `additionalFields` (`input: false`: no client can set them; the
// Connect backend writes them through the Worker). With these, the platform's Better Auth and its
// client types see `stripeConnectStatus`, `chargesEnabled`, … on every organization, and its
// migrator finds nothing to change (tests/worker/test_connect_fields.py). Copy it, or import it:
//
//   organization({ schema: { organization: { additionalFields: connectOrganizationFields } } })
const readOnly = (type, fieldName) => ({ type, fieldName, required: false, input: false });

export const connectOrganizationFields = {
  stripeConnectAccountId: readOnly("string", "stripe_connect_account_id"),
  stripeConnectStatus: readOnly("string", "stripe_connect_status"),
  onboardingStep: readOnly("string", "onboarding_step"),
  onboardingRejectionReason: readOnly("string", "onboarding_rejection_reason"),
  chargesEnabled: readOnly("boolean", "charges_enabled"),
  payoutsEnabled: readOnly("boolean", "payouts_enabled"),
  detailsSubmitted: readOnly("boolean", "details_submitted"),
  platformFeePercent: readOnly("number", "platform_fee_percent"),
  platformFeeFixed: readOnly("number", "platform_fee_fixed"),
  requirementsCurrentlyDue: readOnly("string", "requirements_currently_due"),
  requirementsPastDue: readOnly("string", "requirements_past_due"),
  requirementsDisabledReason: readOnly("string", "requirements_disabled_reason"),
  requirementsCurrentDeadline: readOnly("number", "requirements_current_deadline"),
  stripeSyncedAt: readOnly("number", "stripe_synced_at"),
  autoTransferPayments: readOnly("boolean", "auto_transfer_payments"),
  payoutScheduleInterval: readOnly("string", "payout_schedule_interval"),
  payoutScheduleDelayDays: readOnly("number", "payout_schedule_delay_days"),
  payoutScheduleWeeklyAnchor: readOnly("string", "payout_schedule_weekly_anchor"),
  payoutScheduleMonthlyAnchor: readOnly("number", "payout_schedule_monthly_anchor"),
};
