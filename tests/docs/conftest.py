"""The demo the docs' examples run on: one `dbt build` of integration_tests on the sample
data, made once per session the way tests/dbt builds it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dbt.conftest import run_dbt


@pytest.fixture(scope="session")
def docs_demo_db(tmp_path_factory) -> Path:
    """KURA_DOCS_DEMO_DB names a demo already built (e.g. by `make demo`) to check the docs
    against it instead."""
    if os.environ.get("KURA_DOCS_DEMO_DB"):
        return Path(os.environ["KURA_DOCS_DEMO_DB"])
    workdir = tmp_path_factory.mktemp("docs_demo")
    run_dbt(["deps", "--quiet"], workdir / "deps.duckdb", workdir)
    db = workdir / "kura.duckdb"
    run_dbt(["build"], db, workdir / "target")
    return db
