"""One failure policy for every stage that works row by row and can fail row by row: summaries,
embeddings and cluster names.

* A row that fails is kept, with its ``error`` (and no result), counted (``kura__llm_usage``
  has the errors per run and stage) and computed again on the next run.
* A run of a stage in which **every** row it attempted failed fails the model, with the first
  error. That is a wrong key, model or URL, or an endpoint that is down, and a build that only
  stores errors would be green with nothing in it.
* A run with nothing to do (0 rows) is not a failure; nor is a row the backend had nothing to
  ask about (an empty conversation: no call, no error).
* Nor is a run whose only failures are retries of rows that had failed before: a conversation
  the endpoint always refuses (a content filter, an answer that never fits the schema) would
  otherwise fail every nightly build that has no other work. A new row that fails with them
  still fails the model.

Backends report per-row errors and never apply the policy themselves; the stage boundaries do,
through :func:`check_failures`: ``pipeline._summaries_of``, ``pipeline._embeddings_of`` and
``hierarchy.build_hierarchy`` (the names asked for at one discovery).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["StageFailed", "check_failures"]


class StageFailed(RuntimeError):
    """Every row a stage attempted in this run failed."""

    def __init__(self, stage: str, attempted: int, first_error: str, where: str = "") -> None:
        self.stage = stage
        self.attempted = attempted
        self.first_error = first_error
        at = f" ({where})" if where else ""
        super().__init__(
            f"kura: {attempted} of {attempted} {stage} attempted in this run failed{at}; "
            f"the first error: {first_error}"
        )


def check_failures(
    stage: str,
    errors: Iterable[str | None],
    where: str = "",
    retries: Iterable[bool] | None = None,
) -> int:
    """The number of failed rows among ``errors`` (one per attempted row, ``None`` for a row
    that succeeded); raises :class:`StageFailed` when there was at least one row and every one
    failed, unless every row was a retry of an earlier failure (``retries``, one flag per row).
    ``stage`` names the rows in the message ("summaries", "embeddings", "cluster names");
    ``where`` says which backend and model."""
    errors = list(errors)
    failed = [e for e in errors if e is not None]
    retried = [False] * len(errors) if retries is None else [bool(r) for r in retries]
    if errors and len(failed) == len(errors) and not all(retried):
        raise StageFailed(stage, len(errors), str(failed[0]), where)
    return len(failed)
