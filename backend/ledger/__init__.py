"""Where money is reserved and moved: the one ledgered operation (reserve in D1, call Stripe,
record the outcome) and the flows built on it — transfers, payouts, money coming back, and debt
recovery.

May import: `backend.core`, `backend.money`, `backend.stripe_side`, `backend.worker_side`,
`backend.services`. Never the HTTP edge: a flow runs the same from a route, a webhook or a
reconciliation run."""
