"""How deeply a JSON text nests, counted on its bytes before any parser recurses into it.

Both a browser's body (`backend/edge/json_body.py`) and a Stripe event
(`backend/stripe_side/stripe_events.py`) must stay within a depth, so a deep body costs one linear
scan, never a parser's recursion; the scan lives here so neither side imports the other."""

from __future__ import annotations


def json_depth_within(raw: bytes, limit: int) -> bool:
    """Bracket depth outside strings, counted before any parser recurses into it."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True  # the usual small body: no scan
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True
