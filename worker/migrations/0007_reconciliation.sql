-- How far missed-event recovery (`python -m backend.reconcile`) got, per scope: `platform` for the
-- platform's own events, or a connected account's id for its Connect events. A second run resumes
-- from the `created` time of the newest event it had settled instead of starting over.
CREATE TABLE "connect_reconciliation_checkpoint" ("scope" TEXT NOT NULL PRIMARY KEY, "event_created" INTEGER NOT NULL CHECK ("event_created" >= 0), "event_id" TEXT NOT NULL, "updated_at" TEXT NOT NULL);
