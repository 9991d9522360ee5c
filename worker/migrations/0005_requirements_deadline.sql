-- Stripe's `requirements.current_deadline` (Unix seconds): the date by which what is currently
-- due must be supplied before Stripe restricts the account. Null when there is none.
ALTER TABLE "organization" ADD COLUMN "requirements_current_deadline" INTEGER;
