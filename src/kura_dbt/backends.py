"""Backends are named in config (dbt vars), never in code: one lookup for every kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def backend_key(name: Any) -> str:
    """A backend name as looked up: ``KMeans``, ``minibatch-kmeans`` -> ``kmeans``, ``minibatch_kmeans``."""
    return str(name).strip().lower().replace("-", "_")


def build_backend(kind: str, name: str, registry: Mapping[str, type], **params: Any) -> Any:
    """Instantiate ``registry[name]``; an unknown name lists the valid ones.

    ``kind`` names the var in the error message, e.g. ``embedder`` -> ``kura__embedder``.
    Parameters go to the constructor as given, so a misspelt one fails loudly (TypeError)
    instead of being ignored.
    """
    key = backend_key(name)
    if key not in registry:
        raise ValueError(
            f"kura: unknown {kind} {name!r} (var kura__{kind}); valid names: "
            f"{', '.join(sorted(registry))}"
        )
    return registry[key](**params)
