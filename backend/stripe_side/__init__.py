"""Where Stripe is called, and what Stripe sends: the one gateway over the official SDK, the
shapes of its objects and events, its errors, its telemetry, the webhook signature check, and the
account profiles and embedded components the platform asks Stripe for.

May import: `backend.core`, `backend.money`. Never the Worker side: the two adapters meet only in
the packages above them."""
