"""The ground every other package stands on: the error type and its handler table, the request
and event context, telemetry and outcome counting, logging, settings, and the API's pydantic
models (the bodies browsers send and get, and the field groups the Worker's records share).

May import: nothing else in `backend`."""
