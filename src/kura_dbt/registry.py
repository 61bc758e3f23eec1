"""Backends are named in config (dbt vars), never in code: one registry kind per stage.

Each stage subpackage (``summaries``, ``embeddings``, ``clustering``, ``labels``,
``projection``) owns one :class:`Registry` and registers a factory per backend name. A factory
takes the run's :class:`~kura_dbt.settings.Settings` and returns a ready backend; it imports
optional dependencies (openai, umap, ...) itself, so a registry can be listed without them.
Adding a backend is one factory in its stage's subpackage.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from kura_dbt.settings import Settings

T = TypeVar("T")


def backend_key(name: Any) -> str:
    """A backend name as looked up: ``KMeans``, ``minibatch-kmeans`` -> ``kmeans``,
    ``minibatch_kmeans``."""
    return str(name).strip().lower().replace("-", "_")


class Registry(Generic[T]):
    """Backend factories of one kind, by name. ``kind`` names the var in errors
    (``embedder`` -> ``kura__embedder``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[[Settings], T]] = {}

    def register(self, name: str) -> Callable[[Callable[[Settings], T]], Callable[[Settings], T]]:
        def add(factory: Callable[[Settings], T]) -> Callable[[Settings], T]:
            self._factories[backend_key(name)] = factory
            return factory

        return add

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __iter__(self):
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return backend_key(name) in self._factories

    def key(self, name: Any) -> str:
        """The registered name for ``name``; an unknown name lists the valid ones. ``auto`` (the
        default of kura__summariser, kura__embedder and kura__labeller) is ``local`` here: in
        dbt it is resolved before it reaches Python (``cortex`` on a Snowflake target, see
        macros/cortex/backends.sql), so only the library used on its own sees it."""
        key = backend_key(name)
        if key == "auto" and "local" in self._factories:
            key = "local"
        if key not in self._factories:
            close = difflib.get_close_matches(key, self.names(), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ValueError(
                f"kura: unknown {self.kind} {name!r} (var kura__{self.kind}); {hint}valid names: "
                f"{', '.join(self.names())}"
            )
        return key

    def build(self, name: Any, settings: Settings) -> T:
        """The backend ``name`` built from ``settings``."""
        return self._factories[self.key(name)](settings)
