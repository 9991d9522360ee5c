"""Which parameters each endpoint accepts, derived from the official SDK's typed params classes.

The SDK's `*Params` TypedDicts are generated from Stripe's OpenAPI spec, so walking them gives the
same allow-list Stripe enforces: a key they do not declare is "Received unknown parameter".
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from stripe._request_options import RequestOptions
from typing_extensions import is_typeddict

from stripe_fake.errors import invalid_request, missing_parameter, unknown_parameter

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION_KEYS = frozenset(RequestOptions.__annotations__)


@dataclass
class Node:
    """A hash parameter: its known keys; `None` for a key means any value is accepted below it."""

    fields: dict[str, Field] = field(default_factory=dict)
    required: frozenset[str] = frozenset()


@dataclass
class Field:
    children: Node | None
    """Known sub-keys when the value is a hash (or a list of hashes); None = leaf or free-form."""
    scalar: bool = False
    """The value may also be a plain scalar (e.g. `created=<ts>` or `created[gte]=<ts>`)."""


_SCALARS = frozenset({"int", "str", "bool", "float"})


def _referenced_typeddicts(
    annotation: Any, namespace: dict[str, Any]
) -> tuple[list[type], bool, bool]:
    text = repr(annotation)
    free_form = "Dict[" in text or "UntypedStripeObject" in text or "Mapping[" in text
    names = _IDENT.findall(text)
    scalar = bool(_SCALARS.intersection(names))
    found = []
    for name in names:
        candidate = namespace.get(name)
        if isinstance(candidate, type) and is_typeddict(candidate) and candidate not in found:
            found.append(candidate)
    return found, free_form, scalar


@cache
def node_for(cls: type) -> Node:
    """The allow-list tree of a params TypedDict (recursive types are cut by the cache)."""
    node = Node(required=frozenset(getattr(cls, "__required_keys__", frozenset())) - _OPTION_KEYS)
    namespace = vars(sys.modules[cls.__module__])
    for name, annotation in cls.__annotations__.items():
        if name in _OPTION_KEYS:
            continue
        classes, free_form, scalar = _referenced_typeddicts(annotation, namespace)
        if not classes or free_form:
            node.fields[name] = Field(children=None)
            continue
        if len(classes) == 1:
            node.fields[name] = Field(children=node_for(classes[0]), scalar=scalar)
            continue
        merged = Node()
        for sub in classes:
            merged.fields.update(node_for(sub).fields)
        node.fields[name] = Field(children=merged, scalar=scalar)
    return node


def _join(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def validate(params: dict[str, Any], node: Node, *, prefix: str = "") -> None:
    """Raise Stripe's error for the first unknown key, then for the first missing required key."""
    for key, value in params.items():
        spec = node.fields.get(key)
        path = _join(prefix, key)
        if spec is None:
            raise unknown_parameter(path)
        if spec.children is None:
            continue
        if isinstance(value, dict):
            validate(value, spec.children, prefix=path)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    validate(item, spec.children, prefix=f"{path}[{index}]")
        elif value != "" and not spec.scalar:
            raise invalid_request("Invalid object", param=path)
    for key in sorted(node.required):
        if key not in params:
            raise missing_parameter(_join(prefix, key))
