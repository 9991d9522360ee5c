"""Reconciliation: settles ledger rows whose outcome at Stripe is unknown and replays the events
Stripe could not deliver. `python -m backend.reconciliation.reconcile` runs it once (cron).

May import: `backend.core`, `backend.money`, `backend.stripe_side`, `backend.worker_side`,
`backend.ledger`, `backend.webhooks`, `backend.services`."""
