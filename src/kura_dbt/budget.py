"""What one stage of one run may spend on the LLM, and what it has spent so far.

A :class:`StageMonitor` is put in place by the pipeline around a stage's LLM work
(:func:`monitoring`); every call through :func:`kura_dbt.llm.call_with_retries` asks it first
(:meth:`StageMonitor.admit`) and reports back when done (:meth:`StageMonitor.finished`). It
drives the stage's :class:`~kura_dbt.progress.Progress` lines and enforces the budget cap:

* ``max_calls``: at most this many calls are started (a call's retries are part of it);
* ``max_cost_usd``: a call is started only if the cost so far, plus the estimated cost of the
  calls in flight and of this one, stays within the cap (estimates: the prompt's length at about
  4 characters per token, and the mean completion of the calls done so far, or
  ``completion_guess`` before the first one).

Once one call is refused the stage stops calling: every later call is refused too, and comes
back as :func:`skipped_result` (an error that starts with :data:`BUDGET_SKIP`). The pipeline
drops those rows instead of writing them, so they stay pending and the next run picks them up.

Every stage that calls an LLM on the user's budget (summaries, the privacy audit, the public
labels, the privacy relabel) holds its calls to the caps the same way, through
:func:`budgeted`.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kura_dbt.progress import Progress

if TYPE_CHECKING:
    from kura_dbt.llm import LLMSettings

BUDGET_SKIP = "kura: not sent, the run's LLM budget cap was reached"

_MONITOR: contextvars.ContextVar[StageMonitor | None] = contextvars.ContextVar(
    "kura_stage_monitor", default=None
)


@dataclass
class StageMonitor:
    progress: Progress
    max_calls: int | None = None
    max_cost_usd: float | None = None
    llm: Any = None  # LLMSettings: the prices
    completion_guess: int = 200
    started: int = 0
    finished_calls: int = 0
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refused: int = 0
    capped: bool = False
    in_flight_cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _cost(self, prompt: int, completion: int) -> float | None:
        return None if self.llm is None else self.llm.cost(prompt, completion)

    @property
    def cost_usd(self) -> float | None:
        return self._cost(self.prompt_tokens, self.completion_tokens)

    def _call_estimate(self, prompt_tokens: int | None) -> float:
        completion = (
            self.completion_tokens / self.finished_calls
            if self.finished_calls
            else self.completion_guess
        )
        prompt = (
            prompt_tokens
            if prompt_tokens is not None
            else (self.prompt_tokens / self.finished_calls if self.finished_calls else 0)
        )
        return self._cost(int(prompt), int(completion)) or 0.0

    def admit(self, prompt_tokens: int | None = None) -> tuple[bool, float]:
        """Whether a call may start, and its estimated cost (to hand back to
        :meth:`finished`)."""
        with self._lock:
            if self.capped:
                self.refused += 1
                return False, 0.0
            if self.max_calls is not None and self.started >= self.max_calls:
                self.capped = True
                self.refused += 1
                return False, 0.0
            estimate = self._call_estimate(prompt_tokens)
            if self.max_cost_usd is not None:
                spent = self.cost_usd or 0.0
                if spent + self.in_flight_cost + estimate > self.max_cost_usd:
                    self.capped = True
                    self.refused += 1
                    self.progress.set_total(self.started)  # the calls under way end the stage
                    return False, 0.0
            self.started += 1
            self.in_flight_cost += estimate
            return True, estimate

    def finished(self, result: Any, estimate: float = 0.0) -> None:
        with self._lock:
            self.finished_calls += 1
            self.requests += int(getattr(result, "attempts", 0) or 0)
            self.prompt_tokens += int(getattr(result, "prompt_tokens", 0) or 0)
            self.completion_tokens += int(getattr(result, "completion_tokens", 0) or 0)
            failed = getattr(result, "error", None) is not None
            self.errors += int(failed)
            self.in_flight_cost = max(0.0, self.in_flight_cost - estimate)
        self.progress.advance(1, errors=int(failed))

    def expect(self, calls: int) -> None:
        """More calls are coming (a batch of jobs): they count in the progress total, up to
        the calls the cap still allows."""
        if self.max_calls is not None:
            calls = min(calls, max(0, self.max_calls - self.progress.total))
        self.progress.add_total(calls)

    def cap_text(self) -> str:
        caps = []
        if self.max_calls is not None:
            caps.append(f"kura__llm_max_calls={self.max_calls}")
        if self.max_cost_usd is not None:
            caps.append(f"kura__llm_max_cost_usd={self.max_cost_usd:g}")
        return ", ".join(caps)

    def say_capped(self, what_was_left: str) -> None:
        """The stage's warning that the cap stopped it (always shown), with what it left."""
        self.progress.say(
            f"stopped at the LLM budget cap ({self.cap_text()}): {what_was_left}",
            level="warning",
            always=True,
        )

    def add_spent(self, other: StageMonitor) -> None:
        """Count ``other``'s finished calls and tokens as this monitor's too (a sub-stage's
        spending in its parent's run summary)."""
        with self._lock:
            self.finished_calls += other.finished_calls
            self.requests += other.requests
            self.prompt_tokens += other.prompt_tokens
            self.completion_tokens += other.completion_tokens


def current_monitor() -> StageMonitor | None:
    return _MONITOR.get()


@contextlib.contextmanager
def monitoring(monitor: StageMonitor | None) -> Iterator[StageMonitor | None]:
    """Make ``monitor`` the one the LLM calls of this context report to."""
    token = _MONITOR.set(monitor)
    try:
        yield monitor
    finally:
        _MONITOR.reset(token)


def llm_of(backend: Any) -> LLMSettings | None:
    """The backend's LLM settings when it calls an LLM (its ``settings`` is an LLMSettings)."""
    from kura_dbt.llm import LLMSettings

    settings = getattr(backend, "settings", None)
    return settings if isinstance(settings, LLMSettings) else None


@contextlib.contextmanager
def budgeted(
    progress: Progress, llm: LLMSettings | None, completion_guess: int = 200
) -> Iterator[StageMonitor | None]:
    """The LLM calls of this context held to ``llm``'s budget caps (``kura__llm_max_calls``,
    ``kura__llm_max_cost_usd``) by a :class:`StageMonitor` on ``progress``, which it yields;
    ``llm`` None (a backend that calls no LLM): no monitor, nothing capped, yields None."""
    monitor = None
    if llm is not None:
        monitor = StageMonitor(
            progress, llm.max_calls, llm.max_cost_usd, llm, completion_guess=completion_guess
        )
    with monitoring(monitor):
        yield monitor


def skipped_result() -> Any:
    """The result of a call the budget did not let start: no request, no tokens."""
    from kura_dbt.llm import CallResult

    return CallResult(error=BUDGET_SKIP, attempts=0)


def is_skipped(error: Any) -> bool:
    return isinstance(error, str) and error.startswith(BUDGET_SKIP)
