"""Shared pytest plugins: each part of the system contributes fixtures that start it for real."""

pytest_plugins = [
    "tests.fixtures.worker",
    "tests.fixtures.stripe",
    "tests.fixtures.backend",
    "tests.fixtures.platform_auth",
]
