"""The ground every other package stands on: the error type and its handler table, the request
and event context, telemetry and outcome counting, logging, settings, the API's pydantic models
and the field groups they share with the Worker's records (`records`), and the JSON depth scan
both a browser's body and a Stripe event must pass.

May import: nothing else in `backend`."""
