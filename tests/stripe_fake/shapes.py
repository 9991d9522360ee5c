"""Hold a JSON body the fake answered to the official SDK's resource classes, recursively.

Every key must be a field the SDK's class for that object declares (its annotations, generated
from Stripe's OpenAPI spec); nested hashes are checked against the inner class the SDK maps them
to (`_inner_class_types`), objects carrying `object` against that resource's class, list items
against their own `object`. A hash the SDK types as free-form (metadata,
`previous_attributes`, an event's `data.object` before its `object` is read) is only descended
when it names its `object`.
"""

from __future__ import annotations

import importlib
from typing import Any

import stripe
from stripe._object_classes import OBJECT_CLASSES

_LIST_FIELDS = frozenset({"object", "data", "has_more", "url"})


def _resource_class(name: str) -> type[stripe.StripeObject] | None:
    found = OBJECT_CLASSES.get(name)
    if found is None:
        return None
    module, attribute = found
    cls: type[stripe.StripeObject] = getattr(importlib.import_module(module), attribute)
    return cls


def _declared(cls: type) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, stripe.StripeObject, dict):
            continue
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if not name.startswith("_") and name != "OBJECT_NAME":
                fields[name] = annotation
    return fields


def _free_form(annotation: Any) -> bool:
    text = repr(annotation)
    return "UntypedStripeObject" in text or "Dict[" in text or "Mapping[" in text


def problems(body: Any, cls: type | None = None, *, path: str = "$") -> list[str]:
    """Every field of `body` the SDK does not declare, as `path: message` lines (empty = fits)."""
    if not isinstance(body, dict):
        return []
    if body.get("object") == "list":
        found = [f"{path}.{k}: not a field of a list" for k in body if k not in _LIST_FIELDS]
        for index, item in enumerate(body.get("data", [])):
            found += problems(item, None, path=f"{path}.data[{index}]")
        return found
    named = body.get("object")
    if isinstance(named, str):
        resolved = _resource_class(named)
        if resolved is None:
            return [f"{path}: the SDK has no class for object {named!r}"]
        cls = resolved
    if cls is None:
        return [f"{path}: a hash with no `object` where the SDK expects a typed object"]
    declared = _declared(cls)
    inner: dict[str, type] = getattr(cls, "_inner_class_types", {})
    found = []
    for key, value in body.items():
        where = f"{path}.{key}"
        if key not in declared:
            found.append(f"{where}: {cls.__qualname__} declares no such field")
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            at = f"{where}[{index}]" if isinstance(value, list) else where
            if "object" in item or key in inner:
                found += problems(item, inner.get(key), path=at)
            elif not _free_form(declared[key]):
                found.append(f"{at}: a hash where {cls.__qualname__}.{key} is not one")
    return found
