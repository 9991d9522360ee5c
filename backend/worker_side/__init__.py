"""Where the Worker (and so D1) is called: the HTTP/1.1 connection pool, the transport that
retries over it, the typed client, and the shapes of the Worker's replies.

May import: `backend.core`, `backend.money`. Never the Stripe side."""
