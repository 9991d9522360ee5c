"""The backend's internal key: `INTERNAL_API_KEY`, or the Worker's list form `INTERNAL_API_KEYS`
(its first, newest key is presented) — never both, refused at startup like on the Worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from backend.core.settings import SettingsError, load_settings
from tests.backend.test_settings import KEY, ROOT, VALID

NEW, OLD = "n" * 40, "o" * 40
WITHOUT_ONE_KEY = {k: v for k, v in VALID.items() if k != "INTERNAL_API_KEY"}


@pytest.mark.parametrize(
    "value", [f"v2:{NEW},v1:{OLD}", f" {NEW} , v1:{OLD}", f"v2:{NEW}", f", v2:{NEW}"]
)
def test_the_list_form_presents_its_first_key(value: str) -> None:
    settings = load_settings({**WITHOUT_ONE_KEY, "INTERNAL_API_KEYS": value})
    assert settings.internal_api_key.get_secret_value() == NEW
    assert NEW not in repr(settings)
    assert OLD not in repr(settings)


def test_a_blank_list_beside_the_one_key_counts_as_unset() -> None:
    settings = load_settings({**VALID, "INTERNAL_API_KEYS": "  "})
    assert settings.internal_api_key.get_secret_value() == KEY


def test_both_forms_are_refused_naming_both_and_neither_key() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**VALID, "INTERNAL_API_KEYS": f"v2:{NEW}"})
    message = str(info.value)
    assert "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set" in message
    assert KEY not in message
    assert NEW not in message


@pytest.mark.parametrize("value", ["v2:short", " , ", "v2:"])
def test_a_short_or_empty_first_key_is_refused_by_the_lists_name(value: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**WITHOUT_ONE_KEY, "INTERNAL_API_KEYS": value})
    assert "INTERNAL_API_KEYS: its first key must be at least 32 characters" in str(info.value)
    assert "short" not in str(info.value)


def test_python_m_backend_will_not_start_with_both() -> None:
    env = {k: v for k, v in os.environ.items() if k not in VALID and k != "INTERNAL_API_KEYS"}
    env.update({**VALID, "INTERNAL_API_KEYS": f"v2:{NEW},v1:{OLD}"})
    done = subprocess.run(
        [sys.executable, "-m", "backend"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "INTERNAL_API_KEY and INTERNAL_API_KEYS are both set" in done.stderr
    assert KEY not in done.stderr
    assert NEW not in done.stderr
    assert OLD not in done.stderr
    assert "Traceback" not in done.stderr
