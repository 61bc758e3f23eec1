"""LLM calls through any OpenAI-compatible endpoint, with `instructor` for typed answers.

One place for the settings (from dbt vars), the client, bounded concurrency, retries with
backoff that honour ``Retry-After``, and token accounting. The API key is read from an
environment variable (on Snowflake: a Snowflake secret) when a client is built, never stored
in settings, frames or errors.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from kura_dbt.settings import setting

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}


class Usage(TypedDict):
    """What calls cost, as the ``llm_calls`` / token columns count it."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class LLMSettings:
    """How to reach the model. Every field maps to a dbt var ``kura__llm_<field>``."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None  # None: the OpenAI API; else e.g. a vLLM or Ollama server's /v1
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 20
    temperature: float = 0.0
    max_transcript_tokens: int = 8_000
    timeout_s: float = 60.0
    max_retries: int = 5
    max_validation_retries: int = 2
    backoff_base_s: float = 0.5  # first retry waits about this long, doubling each time
    mode: str = "json"  # instructor mode: json | tools | md_json
    http_client: str = "aiohttp"  # openai's transport: aiohttp (less CPU per request) | httpx
    max_requests_per_minute: float | None = None  # None: no pacing; else requests evenly spaced
    input_cost_per_mtok: float | None = None  # USD per million prompt tokens, for the cost column
    output_cost_per_mtok: float | None = None
    # the budget of one run (kura_dbt.budget): at most this many calls / this much estimated
    # cost per stage; the rest stays pending for the next run. warn | fail (fail: the model
    # fails before any call when the estimate of its pending work is over the cap)
    max_calls: int | None = None
    max_cost_usd: float | None = None
    budget_action: str = "warn"
    # bounded retries (kura_dbt.parking): a row that failed this many runs for the same input
    # is parked (gave_up) until its input, model or prompt changes, or retry_gave_up is set
    max_attempts: int = 3
    retry_gave_up: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"kura: var kura__llm_max_attempts must be at least 1, got {self.max_attempts}"
            )
        if self.max_concurrency < 1:
            raise ValueError(
                f"kura: llm max_concurrency must be at least 1, got {self.max_concurrency}"
            )
        if self.max_requests_per_minute is not None and self.max_requests_per_minute <= 0:
            raise ValueError(
                f"kura: var kura__llm_max_requests_per_minute must be positive or null, "
                f"got {self.max_requests_per_minute}"
            )
        if self.max_retries < 0:
            raise ValueError(f"kura: llm max_retries cannot be negative, got {self.max_retries}")
        if self.max_transcript_tokens < 200:
            raise ValueError("kura: llm max_transcript_tokens must be at least 200")
        if self.mode not in _MODES:
            raise ValueError(
                f"kura: llm mode {self.mode!r}; valid modes: {', '.join(sorted(_MODES))}"
            )
        if self.max_calls is not None and self.max_calls < 0:
            raise ValueError(
                f"kura: var kura__llm_max_calls cannot be negative, got {self.max_calls}"
            )
        if self.max_cost_usd is not None and self.max_cost_usd < 0:
            raise ValueError(
                f"kura: var kura__llm_max_cost_usd cannot be negative, got {self.max_cost_usd}"
            )
        if self.budget_action not in ("warn", "fail"):
            raise ValueError(
                f"kura: var kura__llm_budget_action {self.budget_action!r}; valid: warn, fail"
            )
        if self.http_client not in _HTTP_CLIENTS:
            raise ValueError(
                f"kura: var kura__llm_http_client {self.http_client!r}; "
                f"valid: {', '.join(_HTTP_CLIENTS)}"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LLMSettings:
        """Build from a model's config: a JSON object under ``llm`` (rendered from the
        ``kura__llm_*`` vars in python_models/_python_models.yml) and/or keys ``llm_<field>``,
        which win. Missing or null keys keep the defaults."""
        nested = config.get("llm") or {}
        if isinstance(nested, str):
            null = nested.strip().lower() in {"", "none", "null"}
            nested = {} if null else json.loads(nested)
        merged = {**nested, **{k[4:]: v for k, v in config.items() if k.startswith("llm_")}}
        values: dict[str, Any] = {}
        for name, spec in cls.__dataclass_fields__.items():
            if spec.default is not None:
                kind = type(spec.default)
            else:
                kind = {"base_url": str, "max_calls": int}.get(name, float)
            try:
                value = setting(merged, name, None, kind)
            except ValueError as exc:
                raise ValueError(
                    f"kura: var kura__llm_{name} must be {kind.__name__}, got {merged.get(name)!r}"
                ) from exc
            if value is not None:
                values[name] = value
        return cls(**values)

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        if self.input_cost_per_mtok is None or self.output_cost_per_mtok is None:
            return None
        return (
            (prompt_tokens or 0) * self.input_cost_per_mtok
            + (completion_tokens or 0) * self.output_cost_per_mtok
        ) / 1_000_000


_MODES = {"json", "tools", "md_json"}
_HTTP_CLIENTS = ("aiohttp", "httpx")


@dataclass
class CallResult:
    """The outcome of one logical call (after retries): a value or an error, and its usage."""

    value: Any = None
    error: str | None = None
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def usage(self) -> Usage:
        """What the call cost, as the ``llm_calls`` / token columns count it."""
        return {
            "llm_calls": self.attempts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@functools.cache
def prepare_response_model(model: type[BaseModel]) -> type[BaseModel]:
    """The response model, wrapped for instructor once per model class, with its JSON schema
    computed once.

    instructor otherwise rebuilds its wrapper class on every request, and in JSON mode it asks
    the model class for its JSON schema on every request too: together about 3 ms of CPU per
    call, which at 100 calls per second is a third of a core. The schema of a class does not
    change, so the wrapper answers from a cache (a fresh copy each time: callers may edit it).
    """
    try:
        import instructor

        prepared: Any = instructor.openai_schema(model)  # patched below: checked at run time
    except Exception:  # noqa: BLE001  # pragma: no cover
        return model  # an instructor without openai_schema wraps per call
    if prepared is model:  # never patch a class shared with the rest of the program
        namespace = {"__module__": model.__module__, "__doc__": model.__doc__}
        prepared = type(model.__name__, (model,), namespace)
    compute = prepared.model_json_schema
    schemas: dict[Any, str] = {}

    def model_json_schema(cls: type[Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            key = (cls, args, tuple(sorted(kwargs.items())))
            hash(key)
        except TypeError:  # an unhashable argument: no caching
            return compute.__func__(cls, *args, **kwargs)
        if key not in schemas:
            schemas[key] = json.dumps(compute.__func__(cls, *args, **kwargs))
        return json.loads(schemas[key])

    prepared.model_json_schema = classmethod(model_json_schema)
    return prepared


# Inside a Snowflake stored procedure there is no environment to hold a key: the Python models
# get it from a Snowflake secret, bound under this name by their `secrets` config (vars
# kura__snowflake_secret, kura__snowflake_external_access_integration).
SNOWFLAKE_SECRET_NAME = "kura_llm_api_key"


def read_api_key(settings: LLMSettings) -> str | None:
    """The endpoint's API key: on Snowflake (in a stored procedure, where the module
    ``_snowflake`` exists) the secret bound as :data:`SNOWFLAKE_SECRET_NAME`, read with
    ``_snowflake.get_generic_secret_string``; elsewhere the environment variable named by
    ``kura__llm_api_key_env``. None when there is none."""
    try:
        import _snowflake  # only inside a Snowflake stored procedure or UDF
    except ImportError:
        return os.environ.get(settings.api_key_env) or None
    try:
        return _snowflake.get_generic_secret_string(SNOWFLAKE_SECRET_NAME) or None
    except Exception as exc:  # noqa: BLE001 - no secret bound: say how to bind one
        if settings.base_url is not None:
            return None  # a local server that needs no key
        raise RuntimeError(
            "kura: on Snowflake the openai backends read their API key from a Snowflake secret "
            "(a generic string), never from an environment variable: set var "
            "kura__snowflake_secret to the secret's name and var "
            "kura__snowflake_external_access_integration to an external access integration "
            "that allows the endpoint and the secret"
        ) from exc


def build_client(settings: LLMSettings):
    """An async instructor client. Fails with a clear message when the key is missing."""
    import instructor
    import openai

    api_key = read_api_key(settings)
    if not api_key:
        if settings.base_url is None:
            raise RuntimeError(
                f"kura: the openai backends need an API key in the environment variable "
                f"{settings.api_key_env} (var kura__llm_api_key_env names the variable)"
            )
        api_key = "not-needed"  # local servers (vLLM, Ollama) accept any key
    _scrub_logs(api_key)
    client = openai.AsyncOpenAI(
        api_key=api_key,
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=0,  # retries are ours: bounded, logged, Retry-After aware
        # every HTTP request is counted, instructor's re-asks included (see call_with_retries)
        http_client=_http_client(
            openai, settings.http_client, event_hooks={"request": [_before_request]}
        ),
    )
    mode = {
        "json": instructor.Mode.JSON,
        "tools": instructor.Mode.TOOLS,
        "md_json": instructor.Mode.MD_JSON,
    }
    patched = instructor.from_openai(client, mode=mode[settings.mode])
    patched.on("completion:response", _note_stopped_answer)
    return patched


# Whether the current call's last answer was stopped (a refusal or a content-filter stop):
# instructor would re-ask it like any invalid answer, paying for the same refusal again.
_STOPPED: contextvars.ContextVar[bool] = contextvars.ContextVar("kura_llm_stopped", default=False)


def _note_stopped_answer(response: Any) -> None:
    """instructor's ``completion:response`` hook (runs in the calling task, before parsing)."""
    choices = getattr(response, "choices", None) or []
    choice = choices[0] if choices else None
    refusal = getattr(getattr(choice, "message", None), "refusal", None)
    _STOPPED.set(bool(refusal) or getattr(choice, "finish_reason", None) == "content_filter")


def reask_policy(max_validation_retries: int) -> Any:
    """instructor's ``max_retries``: re-ask an answer that failed validation up to
    ``max_validation_retries`` times, as instructor does by default, except an answer the model
    refused or the provider's content filter stopped (the same question gets the same refusal;
    see :func:`_note_stopped_answer`); one per call, as tenacity keeps its state on it."""
    from instructor.v2.core.retry import _RETRYABLE_PARSE_ERRORS
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    def reask(exc: BaseException) -> bool:
        return isinstance(exc, _RETRYABLE_PARSE_ERRORS) and not _STOPPED.get()

    return AsyncRetrying(
        stop=stop_after_attempt(max(max_validation_retries, 0) + 1),
        retry=retry_if_exception(reask),
        reraise=True,
    )


class _ScrubKeys(logging.Filter):
    """Takes the API keys out of the log records of the libraries that make the calls:
    instructor logs every failed call with the endpoint's error message, which may repeat the
    key it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = message
        for key in self.keys:
            scrubbed = scrubbed.replace(key, "[API_KEY]")
        scrubbed = re.sub(r"sk-[A-Za-z0-9_\-]{8,}", "[API_KEY]", scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


_SCRUB = _ScrubKeys()
_LOGGING_LIBRARIES = ("instructor", "openai", "httpx", "httpcore", "aiohttp")
# loggers the libraries create when a call first needs them (instructor logs failed calls on
# "instructor.v2.retry"): created here first, so that they have the filter from the start
_LAZY_LOGGERS = ("instructor.v2.retry", "instructor.v2", "instructor.retry")


def _scrub_logs(api_key: str | None = None) -> None:
    """Scrub ``api_key`` (and any key seen before) from every record of the calling
    libraries' loggers. A filter on a logger does not see its children's records, so each
    logger gets it; :func:`run_llm` calls this again after each run, for loggers created
    during it."""
    if api_key:
        _SCRUB.keys.add(api_key)
    names = [
        n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in _LOGGING_LIBRARIES
    ]
    for name in dict.fromkeys([*_LAZY_LOGGERS, *names]):
        logger = logging.getLogger(name)
        if _SCRUB not in logger.filters:
            logger.addFilter(_SCRUB)


def _http_client(openai: Any, kind: str, **kwargs: Any) -> Any:
    """openai's HTTP client with its defaults: the aiohttp transport (``kind`` "aiohttp", when
    openai's ``aiohttp`` extra is installed, as ``kura-dbt[llm]`` does) or httpx. Both speak
    the same interface; aiohttp spends less client CPU per request, which is what bounds
    throughput at 50-100 requests per second on a small machine (see BENCHMARKS.md)."""
    aiohttp_client = getattr(openai, "DefaultAioHttpClient", None)
    if kind == "aiohttp" and aiohttp_client is not None:
        try:
            return aiohttp_client(**kwargs)
        except RuntimeError:  # an openai without its aiohttp extra: httpx
            pass
    return openai.DefaultAsyncHttpxClient(**kwargs)


# HTTP requests made by the current call. Each call runs in its own asyncio task, which gets its
# own copy of the context, so concurrent calls count separately.
_REQUESTS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "kura_llm_requests", default=None
)
# The gate that paces this run's requests (set by run_llm, inherited by its tasks).
_GATE: contextvars.ContextVar[RequestGate | None] = contextvars.ContextVar(
    "kura_llm_gate", default=None
)


async def _before_request(request: Any) -> None:
    """httpx's request hook: runs before every HTTP request, instructor's re-asks included."""
    counter = _REQUESTS.get()
    if counter is not None:
        counter[0] += 1
    gate = _GATE.get()
    if gate is not None:
        await gate.wait()


class RequestGate:
    """Paces the HTTP requests to one endpoint, model and key, across the concurrent calls of a
    run and across runs in the same process.

    * ``max_requests_per_minute``: requests leave evenly spaced, at most that many a minute
      (providers limit requests per minute per key and model; pacing beats collecting 429s).
    * A 429 pauses every request, not only the one that got it: ``pause`` holds new requests
      until the server's Retry-After (or the backoff) has passed, instead of letting the other
      concurrent calls run into the same limit.

    State is plain numbers on a monotonic clock, so one gate serves several event loops.
    """

    def __init__(self, max_requests_per_minute: float | None = None) -> None:
        self.interval = 60.0 / max_requests_per_minute if max_requests_per_minute else 0.0
        self.next_at = 0.0  # the earliest time the next request may leave
        self.resume_at = 0.0  # the end of a rate-limit pause

    async def wait(self) -> None:
        while True:
            now = time.monotonic()
            slot = max(now, self.next_at, self.resume_at)
            if self.interval:
                self.next_at = slot + self.interval
            if slot <= now:
                return
            await asyncio.sleep(slot - now)
            if self.resume_at <= time.monotonic():
                return  # no new pause began while waiting: this slot is ours

    def pause(self, seconds: float) -> None:
        self.resume_at = max(self.resume_at, time.monotonic() + seconds)


_GATES: dict[tuple[Any, ...], RequestGate] = {}


def request_gate(settings: LLMSettings) -> RequestGate:
    """The process's gate for this endpoint, key variable, model and pace."""
    key = (
        settings.base_url,
        settings.api_key_env,
        settings.model,
        settings.max_requests_per_minute,
    )
    if key not in _GATES:
        _GATES[key] = RequestGate(settings.max_requests_per_minute)
    return _GATES[key]


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's Retry-After in seconds (``retry-after-ms`` or ``retry-after`` as a number;
    an HTTP-date value is ignored and the exponential backoff applies)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    for key in ("retry-after-ms", "retry-after"):
        value = headers.get(key)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if key.endswith("-ms") else seconds
    return None


def api_error(exc: BaseException) -> BaseException:
    """The transport or HTTP error behind an exception, looking through instructor's wrappers
    (its retry exception keeps the failed attempts; Python keeps the cause chain)."""
    import openai

    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, openai.APIError | asyncio.TimeoutError):
            return current
        for attempt in getattr(current, "failed_attempts", None) or []:
            inner = getattr(attempt, "exception", None)
            if isinstance(inner, BaseException):
                stack.append(inner)
        for inner in (current.__cause__, current.__context__):
            if inner is not None:
                stack.append(inner)
    return exc


def classify(exc: BaseException) -> tuple[bool, int | None]:
    """(retryable, HTTP status) for an exception raised by a call."""
    import openai

    exc = api_error(exc)

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | asyncio.TimeoutError):
        return True, None
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRYABLE_STATUS, exc.status_code
    return False, None


def _last_choice(exc: BaseException) -> Any:
    """The first choice of the last answer behind ``exc`` (instructor keeps it as
    ``last_completion`` on its retry and incomplete-output exceptions), or None."""
    completion = getattr(exc, "last_completion", None)
    choices = getattr(completion, "choices", None) or []
    return choices[0] if choices else None


def _missing_fields(exc: BaseException) -> list[str]:
    """Required fields the answers behind ``exc`` left out (pydantic ``missing`` errors of the
    last failed validation, looking through instructor's failed attempts)."""
    from pydantic import ValidationError

    attempts = getattr(exc, "failed_attempts", None) or []
    for candidate in [*(getattr(a, "exception", None) for a in reversed(attempts)), exc]:
        if isinstance(candidate, ValidationError):
            return [
                ".".join(str(p) for p in e["loc"])
                for e in candidate.errors()
                if e.get("type") == "missing"
            ]
    return []


# how answer_problem starts the error of an answer the model or the provider stopped: not an
# invalid answer (a classifier does not turn it into `other`), an error to retry and park
REFUSED = "the model refused: "
CUT = "answer cut at max_tokens"
FILTERED = "the provider's content filter stopped the answer"
MISSING = "the answer misses required field(s): "


def is_stopped_answer(error: str | None) -> bool:
    """Whether an error column's text is a refusal, a length cut or a content-filter stop."""
    return bool(error) and str(error).startswith((REFUSED, CUT, FILTERED))


def answer_problem(exc: BaseException) -> str | None:
    """What was wrong with the endpoint's answer, in words, when it answered (HTTP 200) but
    not with a usable structured answer; None for any other failure. The answer shapes are
    those of the chat completion object (``choices[0].message.refusal``; ``finish_reason``
    ``length`` or ``content_filter``), see tests/fixtures/openai."""
    choice = _last_choice(exc)
    message = getattr(choice, "message", None)
    refusal = getattr(message, "refusal", None)
    if refusal:
        return f"{REFUSED}{refusal}"
    reason = getattr(choice, "finish_reason", None)
    if reason == "length":
        usage = getattr(getattr(exc, "last_completion", None), "usage", None)
        tokens = getattr(usage, "completion_tokens", None)
        after = f" after {tokens} completion tokens" if tokens else ""
        return f"{CUT} (finish_reason length{after}): the JSON is incomplete"
    if reason == "content_filter":
        return f"{FILTERED} (finish_reason content_filter)"
    missing = _missing_fields(exc)
    if missing:
        return f"{MISSING}{', '.join(missing)}"
    return None


def describe(exc: BaseException, api_key: str | None = None) -> str:
    """A one-line error for the error column, never containing the API key: what was wrong
    with the answer first (:func:`answer_problem`), then the exception. The key is scrubbed
    before the text is cut to 500 characters, so that a cut cannot leave a part of it that no
    longer matches."""
    problem = answer_problem(exc)
    text = re.sub(r"\s+", " ", (f"{problem}; " if problem else "") + f"{type(exc).__name__}: {exc}")
    if api_key:
        text = text.replace(api_key, "[API_KEY]")
    return re.sub(r"sk-[A-Za-z0-9_\-]{8,}", "[API_KEY]", text)[:500]


def _failed_usage(exc: BaseException) -> tuple[int, int]:
    """(prompt, completion) tokens of the answers behind a failed call: instructor's
    ``total_usage`` over its re-asks, else the last answer's usage; (0, 0) when none came."""
    usage = getattr(exc, "total_usage", None)
    if usage is None:
        usage = getattr(getattr(exc, "last_completion", None), "usage", None)
    prompt = getattr(usage, "prompt_tokens", 0)
    completion = getattr(usage, "completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return 0, 0
    return prompt, completion


async def call_with_retries(
    make_call: Callable[[], Awaitable[tuple[Any, Any]]],
    settings: LLMSettings,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
    prompt_tokens_estimate: int | None = None,
) -> CallResult:
    """Run ``make_call`` (returning ``(value, completion)``) with retries on 429, 5xx and timeouts.

    Backoff is exponential with jitter, capped at 30 s, and at least the server's Retry-After.
    Anything else (a 400, an answer that still fails validation after instructor's re-asks)
    is returned as an error at once. Under a :class:`kura_dbt.budget.StageMonitor` the call
    first asks the stage's budget (``prompt_tokens_estimate`` prices it) and, when refused, is
    not sent and comes back as :func:`kura_dbt.budget.skipped_result`; when done it is counted
    in the stage's progress.
    """
    from kura_dbt.budget import current_monitor, skipped_result

    monitor = current_monitor()  # the stage's progress and budget cap (kura_dbt.budget)
    estimate = 0.0
    if monitor is not None:
        admitted, estimate = monitor.admit(prompt_tokens_estimate)
        if not admitted:
            return skipped_result()  # not sent: the row stays pending for the next run
    rng = rng or random.Random(0)
    result = CallResult()
    requests = [0]
    _REQUESTS.set(requests)
    api_key = read_api_key(settings)
    for attempt in range(settings.max_retries + 1):
        result.attempts = attempt + 1
        try:
            value, completion = await make_call()
        except Exception as exc:  # noqa: BLE001 - every failure becomes data
            retryable, status = classify(exc)
            if retryable and attempt < settings.max_retries:
                wait = min(30.0, settings.backoff_base_s * 2**attempt) * (0.5 + rng.random())
                server_wait = retry_after_seconds(api_error(exc))
                if server_wait is not None:
                    wait = max(wait, min(server_wait, 120.0))
                gate = _GATE.get()
                if status == 429 and gate is not None:
                    gate.pause(wait)  # the other calls hold their next requests too
                await sleep(wait)
                continue
            result.error = describe(exc, api_key)
            # an answer that came back but failed (refused, cut, invalid) was billed
            result.prompt_tokens, result.completion_tokens = _failed_usage(exc)
            break
        usage = getattr(completion, "usage", None)
        result.value = value
        result.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        result.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        break
    # HTTP requests actually sent (instructor's re-asks of invalid answers included); a client
    # without the counting hook (e.g. a test double) falls back to our own attempts
    result.attempts = max(result.attempts, requests[0])
    if monitor is not None:
        monitor.finished(result, estimate)
    return result


async def gather_bounded(
    jobs: Sequence[Callable[[], Awaitable[T]]], max_concurrency: int
) -> list[T]:
    """Run coroutine factories with at most ``max_concurrency`` in flight; results in order.

    The first ``max_concurrency`` jobs start one per turn of the event loop, so that a request
    goes out as soon as it is built instead of after all of the first wave have been built
    (building one costs a few ms of CPU). Otherwise the whole first wave leaves together,
    its answers come back together and queue for the CPU, and the clump repeats every round.
    """
    from kura_dbt.budget import current_monitor

    monitor = current_monitor()
    if monitor is not None:
        monitor.expect(len(jobs))  # the progress total: every call this stage will make
    semaphore = asyncio.Semaphore(max_concurrency)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    tasks = []
    for i, job in enumerate(jobs):
        tasks.append(asyncio.ensure_future(run(job)))
        if i < max_concurrency:
            await asyncio.sleep(0)  # one turn: sockets that are ready get served first
    return list(await asyncio.gather(*tasks))


def run_async(coroutine: Awaitable[T]) -> T:
    """Run a coroutine from sync code, also when an event loop is already running (dbt-duckdb
    creates one for Python models), by using a private loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    import concurrent.futures

    # the context travels with it (the stage's monitor, kura_dbt.budget, is a context variable)
    context = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(context.run, asyncio.run, coroutine).result()  # type: ignore[arg-type]


def run_llm(settings: LLMSettings, work: Callable[[Any], Awaitable[T]], client: Any = None) -> T:
    """Run ``work(client)`` from sync code on its own event loop, with a client opened for this
    run and closed after it (connections belong to the loop that opened them). A client passed
    in (a test double) is used as it is and left open."""

    async def main() -> T:
        _GATE.set(request_gate(settings))  # inherited by the tasks that work() starts
        if client is not None:
            return await work(client)
        own = build_client(settings)
        try:
            return await work(own)
        finally:
            await close_client(own)
            _scrub_logs()  # loggers the run created

    return run_async(main())


def structured_calls(
    settings: LLMSettings,
    system: str,
    prompts: Sequence[str],
    response_model: type[BaseModel],
    client: Any = None,
) -> list[CallResult]:
    """One typed answer per prompt: the one way every LLM stage (summaries, cluster names, the
    CLIO hierarchy steps) makes a structured call.

    Each prompt is sent as the user message after the ``system`` message; instructor validates
    the answer against ``response_model`` (prepared once per class by
    :func:`prepare_response_model`) and re-asks up to ``max_validation_retries`` times. The
    calls run on their own event loop and client (:func:`run_llm`, which also paces them
    through the endpoint's request gate), at most ``max_concurrency`` in flight
    (:func:`gather_bounded`), each retried on 429, 5xx and timeouts (:func:`call_with_retries`).

    Results come back in the order of ``prompts``, each with its HTTP requests and tokens; a
    call that failed is a result with ``error`` and no value, never an exception.
    """
    prepared = prepare_response_model(response_model)

    async def work(client: Any) -> list[CallResult]:
        def job(prompt: str) -> Callable[[], Awaitable[CallResult]]:
            async def call() -> tuple[Any, Any]:
                return await client.chat.completions.create_with_completion(
                    model=settings.model,
                    response_model=prepared,
                    max_retries=reask_policy(settings.max_validation_retries),
                    temperature=settings.temperature,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": prompt},
                    ],
                )

            tokens = overhead + approx_tokens(prompt)
            return lambda: call_with_retries(call, settings, prompt_tokens_estimate=tokens)

        return await gather_bounded([job(p) for p in prompts], settings.max_concurrency)

    overhead = request_overhead_tokens(response_model, settings.mode) + approx_tokens(system)

    return run_llm(settings, work, client)


async def close_client(client: Any) -> None:
    """Close an instructor client's openai client and its connections."""
    inner = getattr(client, "client", client)
    close = getattr(inner, "close", None)
    if close is not None:
        result = close()
        if asyncio.iscoroutine(result):
            await result


@functools.cache
def _overhead_chars(response_model: type[BaseModel], mode: str) -> int:
    """Characters instructor adds to a request of ``response_model`` in ``mode`` (JSON mode:
    the schema in the system message; tools mode: the function definition), measured once by
    letting instructor build a request with a one-character system and user message, offline."""
    prepared = prepare_response_model(response_model)
    try:
        import instructor

        try:
            from instructor.processing.response import handle_response_model
        except ImportError:  # pragma: no cover - older instructor
            from instructor.process_response import (  # type: ignore[no-redef]
                handle_response_model,
            )
        modes = {"json": "JSON", "tools": "TOOLS", "md_json": "MD_JSON"}
        _, kwargs = handle_response_model(
            prepared,
            mode=getattr(instructor.Mode, modes.get(mode, "JSON")),
            messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "P"}],
        )
        sent = sum(len(str(m.get("content") or "")) for m in kwargs.get("messages", []))
        extra = {k: v for k, v in kwargs.items() if k in ("tools", "functions")}
        return max(0, sent - 2) + (len(json.dumps(extra)) if extra else 0)
    except Exception:  # noqa: BLE001  # the schema's length is a fair stand-in
        return len(json.dumps(prepared.model_json_schema()))


def request_overhead_tokens(response_model: type[BaseModel], mode: str = "json") -> int:
    """Estimated prompt tokens that every request of ``response_model`` carries on top of its
    system and user message (the schema instructor adds)."""
    return (_overhead_chars(response_model, mode) + 3) // 4


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters per token for English)."""
    return (len(text) + 3) // 4


def fit_to_budget(
    text: str, max_tokens: int, marker: str = "\n\n[... middle of the conversation omitted ...]\n\n"
) -> tuple[str, bool]:
    """Cut ``text`` to about ``max_tokens``, keeping its start and its end. Returns (text, cut)."""
    if approx_tokens(text) <= max_tokens:
        return text, False
    keep = max(0, max_tokens * 4 - len(marker))
    head = keep * 2 // 3
    tail = keep - head
    return text[:head] + marker + (text[-tail:] if tail else ""), True
