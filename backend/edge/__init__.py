"""The HTTP edge: what a request meets before and around its handler — the server's header and
body deadlines, the body size limit, JSON and query-string rules, the request trace, rate limits,
authentication and authorization, idempotency keys, redirects, and routes as data (endpoints and
the OpenAPI document built from them).

May import: `backend.core`, `backend.worker_side` (authentication asks the Worker who is calling;
never its pool or transport)."""
