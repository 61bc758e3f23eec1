"""Model settings as dbt hands them over: rendered vars arrive as strings ("None", "42")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_NULLS = {"", "none", "null"}


def setting(config: Mapping[str, Any], key: str, default: Any = None, kind: type = str) -> Any:
    """One setting coerced to ``kind``; a missing or null value gives ``default``.

    A value that cannot be read as ``kind`` fails with the setting's name and the value.
    """
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in _NULLS):
        return default
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).strip().lower() in {"true", "1", "yes"}
        if kind is int:
            return int(float(value))
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"kura: setting {key!r} must be {kind.__name__}, got {value!r}") from exc
