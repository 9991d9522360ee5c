from __future__ import annotations

import pytest

from stripe_fake.errors import StripeFakeError
from stripe_fake.forms import parse_form


def test_bracket_parameters_become_nested_hashes() -> None:
    parsed = parse_form(
        "capabilities%5Bcard_payments%5D%5Brequested%5D=true&metadata[org]=o1&email=a%40b.c"
    )
    assert parsed == {
        "capabilities": {"card_payments": {"requested": "true"}},
        "metadata": {"org": "o1"},
        "email": "a@b.c",
    }


def test_indexed_and_empty_brackets_become_lists_in_order() -> None:
    assert parse_form("expand[1]=b&expand[0]=a")["expand"] == ["a", "b"]
    assert parse_form("expand[]=a&expand[]=b")["expand"] == ["a", "b"]
    assert parse_form("items[0][price]=p1&items[1][price]=p2")["items"] == [
        {"price": "p1"},
        {"price": "p2"},
    ]


def test_numeric_metadata_keys_stay_a_hash() -> None:
    assert parse_form("metadata[0]=x")["metadata"] == {"0": "x"}


def test_blank_values_are_kept_for_unsetting() -> None:
    assert parse_form("metadata=&description=")["metadata"] == ""


def test_malformed_brackets_are_invalid_request() -> None:
    with pytest.raises(StripeFakeError) as caught:
        parse_form("metadata[a=1")
    assert caught.value.status == 400
    assert caught.value.param == "metadata"


def test_scalar_then_hash_under_same_key_is_invalid() -> None:
    with pytest.raises(StripeFakeError):
        parse_form("metadata=x&metadata[a]=1")
