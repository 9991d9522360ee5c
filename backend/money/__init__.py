"""Money as arithmetic, with no I/O: the platform fee and currency rules, the payout amount,
the plan for money coming back (reversals, debts, forgiveness) and the advice for a failed payout.

May import: `backend.core`."""
