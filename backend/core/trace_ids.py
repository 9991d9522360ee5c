"""The SDK's random ids, except that the next trace id can be chosen.

`RequestTrace` asks the sampler before it makes a request's span: a span the sampler drops still
costs its making (~15 µs of a request, docs/operations.md "Cost"), and a request in a trace not
recorded needs only its ids. The sampler decides on a trace id drawn first, so the span the SDK
then makes must carry that same id; otherwise a ratio sampler would decide twice, on two ids, and
record p² of the traces instead of p. `TracerProvider(id_generator=...)` is the SDK's own extension
point for ids. When `OTEL_PYTHON_ID_GENERATOR` names another generator, the backend leaves the SDK
to it and asks the sampler nothing first.

`choose` and the span it is for are one synchronous step on the event loop's thread, and no other
thread makes spans (the batch processor's thread only exports), so the chosen id cannot go to
another span.
"""

from __future__ import annotations

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator


class ChosenTraceIds(RandomIdGenerator):
    def __init__(self) -> None:
        self._next = 0

    def draw(self) -> int:
        """A fresh random trace id, as the SDK would make one."""
        return super().generate_trace_id()

    def choose(self, trace_id: int) -> None:
        """The next span made without a parent takes `trace_id`."""
        self._next = trace_id

    def generate_trace_id(self) -> int:
        chosen, self._next = self._next, 0
        return chosen or super().generate_trace_id()
