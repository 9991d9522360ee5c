"""Stripe's wire format for requests: form-encoded bracket parameters → nested dicts and lists."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from stripe_fake.errors import invalid_request

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    parts = [head]
    tail = "[" + rest
    pos = 0
    for match in _SEGMENT.finditer(tail):
        if match.start() != pos:
            raise invalid_request(f"Invalid array or hash parameter: {key}", param=head)
        parts.append(match.group(1))
        pos = match.end()
    if pos != len(tail):
        raise invalid_request(f"Invalid array or hash parameter: {key}", param=head)
    return parts


def _listify(node: Any, *, free_form: bool = False) -> Any:
    """Turn `{"0": a, "1": b}` (from `x[0]=a&x[1]=b`) into `[a, b]`; metadata keys stay keys."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v, free_form=(k == "metadata")) for k, v in node.items()}
    if not free_form and converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def parse_form(body: str) -> dict[str, Any]:
    """Parse `a[b][c]=1&expand[0]=x&expand[]=y` into `{"a": {"b": {"c": "1"}}, "expand": [...]}`."""
    root: dict[str, Any] = {}
    appended: dict[int, int] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = _split_key(key)
        node: dict[str, Any] = root
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise invalid_request(
                    f"Invalid array or hash parameter: {'['.join(parts[: depth + 1])}",
                    param=parts[0],
                )
            node = child
        last = parts[-1]
        if last == "":
            # `x[]=v`: append with the next free index so mixing with `x[0]` still orders.
            counter = appended.get(id(node), 0)
            while str(counter) in node:
                counter += 1
            appended[id(node)] = counter + 1
            last = str(counter)
        if isinstance(node.get(last), dict):
            raise invalid_request(f"Invalid hash parameter: {key}", param=parts[0])
        node[last] = value
    result = _listify(root)
    assert isinstance(result, dict)
    return result
