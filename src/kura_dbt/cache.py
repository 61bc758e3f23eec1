"""A bounded, thread-safe cache of results by key, least recently used first out: what the
local models (spaCy's pipeline in the offline privacy detector, the local embedder) already
computed in this process, so that a text they see again is not run through them again.

The same texts come back within one process: a summary audited again after a threshold
changed, the candidate names of a cluster embedded at every level, the same data built
again by ``kura`` commands or by many dbt builds of one test session. A key must hold
everything the result depends on (the model or detector version and the text); dbt runs
models in threads, hence the lock.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def digest(text: str) -> bytes:
    """A text's key part: its SHA-256 (32 bytes, whatever the text's length)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class LruCache(Generic[K, V]):
    """At most ``size`` results; reading one makes it the most recently used."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"size must be at least 0, got {size}")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The results held of ``keys`` (those not held are missing from the answer)."""
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for key in found:
                self._items.move_to_end(key)
        return found

    def put_many(self, items: Mapping[K, V]) -> None:
        """Hold ``items``, dropping the least recently used beyond :attr:`size`."""
        with self._lock:
            for key, value in items.items():
                self._items[key] = value
                self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
