"""The demo the docs' examples run on: the session's demo build of tests/dbt (one `dbt build`
of integration_tests on the sample data), made once even when both folders run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dbt.conftest import dbt_deps, demo_db  # noqa: F401  (the shared session fixtures)


@pytest.fixture(scope="session")
def docs_demo_db(request) -> Path:
    """KURA_DOCS_DEMO_DB names a demo already built (e.g. by `make demo`) to check the docs
    against it instead."""
    if os.environ.get("KURA_DOCS_DEMO_DB"):
        return Path(os.environ["KURA_DOCS_DEMO_DB"])
    return request.getfixturevalue("demo_db")
