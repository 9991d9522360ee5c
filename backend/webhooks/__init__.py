"""Stripe's events, once verified: processing (claim, apply, complete), one handler per event
type, dispute handling, the order of events for one object, and the account sync that maps a
Stripe account onto the organization's Connect state.

May import: `backend.core`, `backend.money`, `backend.stripe_side`, `backend.worker_side`,
`backend.ledger`, `backend.services`. Never the HTTP edge."""
