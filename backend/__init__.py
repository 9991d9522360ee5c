"""The Stripe Connect backend: stateless Starlette; D1 is reached only through the Worker."""
