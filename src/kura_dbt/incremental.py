"""The hash an incremental model stores with a result to tell whether its input changed (the
rows to (re)compute are selected in SQL, :mod:`kura_dbt.sql`)."""

from __future__ import annotations

import hashlib


def text_hash(text: str) -> str:
    """The hash stored with a result to tell whether its input changed."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()
