"""Progress lines, run summaries and warnings from the Python models, where the user sees them.

On DuckDB, dbt-duckdb runs a Python model inside the dbt process (``exec_module`` then
``model(dbt, con)``, in the thread of the node): a ``print`` reaches the terminal but not
``logs/dbt.log`` nor dbt Cloud's run logs, and the ``logging`` module has no handler there. So
inside dbt each line is fired as a dbt adapter event (``AdapterEventInfo`` / ``Warning``, the
events adapters log with) carrying the node's info: dbt shows it on the console with its
timestamp (``kura: ...``), writes it to ``logs/dbt.log`` and to the structured JSON log that dbt
Cloud reads. The node's info is captured when a :class:`Progress` is made (in the model's thread)
because the LLM calls report from their own event loop, possibly on another thread.

Outside dbt (the library on its own, tests, a Snowpark stored procedure where ``dbt_common`` is
not installed) the same lines go to the ``logging`` logger ``kura_dbt``: silent unless the
program configures logging (Snowflake records it in the account's event table when the
procedure's LOG_LEVEL lets it through; dbt shows a Snowpark model's result only).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from kura_dbt.display import visible

logger = logging.getLogger("kura_dbt")

__all__ = ["Progress", "emit", "node_info", "run_summary"]


def node_info() -> dict[str, Any] | None:
    """The running dbt node's info, or None outside a dbt node (or without dbt)."""
    try:
        from dbt_common.events.contextvars import get_node_info
    except ImportError:
        return None
    info = get_node_info()
    return dict(info) if info else None


def emit(
    message: str, level: str = "info", node: Mapping[str, Any] | None = None, dbt: bool = True
) -> None:
    """One line: a dbt event (inside a dbt node) or a ``kura_dbt`` log record."""
    message = visible(message, multiline=True)  # names and ids never drive a terminal
    if dbt:
        node = node if node is not None else node_info()
    if dbt and node:
        try:
            from dbt.adapters.events.types import AdapterEventInfo, AdapterEventWarning
            from dbt_common.events.functions import fire_event

            kind = AdapterEventWarning if level == "warning" else AdapterEventInfo
            fire_event(kind(name="kura", base_msg=message, args=[], node_info=dict(node)))
            return
        except Exception:  # noqa: BLE001  # an older dbt: fall back to logging
            pass
    logger.log(logging.WARNING if level == "warning" else logging.INFO, message)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """``done/total`` lines at a steady pace for one long stage: every ``step`` of the total
    (10 %) or every ``interval_s`` seconds, whichever comes first, with errors so far, the rate
    and the time left. Thread-safe (calls finish on the LLM's event loop). ``total`` may grow
    (the hierarchy learns its calls level by level). Disabled: no lines at all."""

    def __init__(
        self,
        stage: str,
        total: int = 0,
        unit: str = "items",
        interval_s: float = 30.0,
        step: float = 0.1,
        enabled: bool = True,
        clock: Any = time.monotonic,
    ) -> None:
        self.stage, self.total, self.unit = stage, int(total), unit
        self.interval_s, self.step, self.enabled = interval_s, step, enabled
        self.clock = clock
        self.done = self.errors = 0
        self.started = self.last_at = clock()
        self.steps = 0  # whole steps of the total reported so far
        self.lines: list[str] = []  # what was emitted, for tests and the run summary
        self.node = node_info() if enabled else None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, stage: str, settings: Any, unit: str = "items") -> Progress:
        """A stage's progress as the run's settings want it (``kura__progress``,
        ``kura__progress_interval_s``)."""
        return cls(
            stage, unit=unit, interval_s=settings.progress_interval_s, enabled=settings.progress
        )

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total += int(n)

    def set_total(self, n: int) -> None:
        with self._lock:
            self.total = int(n)

    def advance(self, n: int = 1, errors: int = 0) -> None:
        with self._lock:
            self.done += int(n)
            self.errors += int(errors)
            now = self.clock()
            share = self.done / self.total if self.total else 1.0
            steps = math.floor(share / self.step + 1e-9)  # whole steps (tenths) reached
            due = steps > self.steps or now - self.last_at >= self.interval_s
            if not due or self.done > self.total:
                return
            self.steps = max(self.steps, steps)
            self.last_at = now
            line = self.line(now)
        self._emit(line)

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        share = 100 * self.done / self.total if self.total else 100.0
        eta = (
            "done"
            if self.done >= self.total
            else ("time left unknown" if math.isinf(left) else f"about {_duration(left)} left")
        )
        return (
            f"{self.stage}: {self.done}/{self.total} {self.unit} ({share:.0f} %), "
            f"{self.errors} errors, {rate:.1f} {self.unit}/s, {eta}"
        )

    def _emit(self, line: str, level: str = "info", always: bool = False) -> None:
        self.lines.append(line)
        if self.enabled or always:
            emit(line, level, self.node if self.enabled else node_info())

    def say(self, line: str, level: str = "info", always: bool = False) -> None:
        """A line of this stage that is not a progress step (a start, a warning); ``always``:
        also when progress lines are off (the budget cap's warning)."""
        self._emit(f"{self.stage}: {line}", level, always)


def run_summary(
    model: str,
    *,
    rows_in: int,
    done: int,
    reused: int,
    errors: int,
    calls: int = 0,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float | None = None,
    seconds: float | None = None,
    extra: str = "",
) -> str:
    """The one line a Python model ends with."""
    cost = "cost unknown (no prices set)" if cost_usd is None else f"${cost_usd:.4f}"
    took = "" if seconds is None else f" in {_duration(seconds)}"
    tail = f"; {extra}" if extra else ""
    return (
        f"{model} done{took}: {rows_in} rows in, {done} done, {reused} reused from the previous "
        f"state, {errors} errors, {calls} LLM calls, {prompt_tokens} prompt + "
        f"{completion_tokens} completion tokens, {cost}{tail}"
    )
