"""A request's path as Cloudflare's runtime reads it: the WHATWG URL parser (which workerd uses),
so a test on the local host routes exactly where the deployed Worker would.

For an `http(s)` URL the parser treats `\\` as `/`, resolves `.` and `..` segments — spelt `%2e`
too, in any case: `.%2e`, `%2E.`, `%2e%2e` are `..` — (a trailing one leaves a trailing `/`,
`..` at the root stays at the root), percent-encodes the code points of the path percent-encode
set (controls, space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`, non-ASCII as UTF-8 bytes), and
keeps every other byte — existing `%XX` escapes included — as sent. Empty segments (`//`) stay.
"""

from __future__ import annotations

__all__ = ["normalize_path"]

_SINGLE_DOT = frozenset({".", "%2e"})
_DOUBLE_DOT = frozenset({"..", ".%2e", "%2e.", "%2e%2e"})
_ENCODE = frozenset(b' "#<>?`{}') | frozenset(range(0x20)) | frozenset(range(0x7F, 0x100))


def _encode(segment: bytes) -> str:
    if not any(byte in _ENCODE for byte in segment):
        return segment.decode("ascii")
    return "".join(f"%{byte:02X}" if byte in _ENCODE else chr(byte) for byte in segment)


def normalize_path(raw: bytes) -> str:
    """`raw`: the path of a request target as sent (`/` first, no query), in bytes."""
    segments = raw.replace(b"\\", b"/").split(b"/")[1:]
    out: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        lowered = segment.lower().decode("latin-1")
        if lowered in _DOUBLE_DOT:
            if out:
                out.pop()
            if last:
                out.append("")
        elif lowered in _SINGLE_DOT:
            if last:
                out.append("")
        else:
            out.append(_encode(segment))
    return "/" + "/".join(out)
