"""A small OpenAI-compatible HTTP server on localhost for tests: the real `openai` client and
`instructor` talk to it over HTTP. Markers in the transcript script its behaviour:

    [[429]]        first request: 429 with Retry-After, then a normal answer
    [[500-always]] every request: 500
    [[500-once]]   first request: 500, then a normal answer
    [[slow]]       first request: answers after the client's timeout, then a normal answer
    [[malformed]]  first request: content that is not JSON, then a normal answer
    [[badschema]]  every request: a concerning_score of 9 (violates the schema)
    [[answer:NAME]] every request: the recorded body tests/fixtures/openai/NAME.json (a refusal,
                   a length-cut answer, a content-filter stop, a JSON answer missing required
                   fields), shaped as the OpenAI API documents it (sources in each file);
                   [[answer-names:NAME]] / [[answer-classify:NAME]]: only for the prompts that
                   name a cluster / classify conversations
    privacy audits (a text in <summary>, <cluster_name>, ... tags, kura_dbt.audit.llm): the
                   recorded answer audit_general (rating 5) unless [[answer:audit_private]]
                   (rating 1) or another recorded answer is asked for
    [[echo-key]]   every request: 400 with an error message that repeats the API key the
                   request was sent with (as a careless endpoint or proxy might);
                   [[echo-key:N]] puts N more characters before the key in the message

Classification into a pinned taxonomy (a ``<category_list>``, then numbered
``<conversations_to_classify>``): each conversation gets the listed category whose entry
shares the most words with it (``other`` when none shares any); a conversation containing
``[[invalid-category]]`` is always answered with an id that is not on the list.

``POST /v1/embeddings`` answers with deterministic vectors (hashed words, so that texts sharing
words are close); an input containing ``[[embed-500]]`` makes its whole request fail with 500.

``rate_limit_first_s``: the server's first request, whatever it is, gets a 429 with that
Retry-After (a key-wide rate limit); ``arrivals`` has the monotonic time of every request.
``api_key``: requests with another key get a 401 whose message repeats the key they were sent
with (a wrong key: chat and embeddings alike).

``count_tokens``: chat answers report usage counted from what was sent and answered (every
message's content, and the answer's content, at ``(characters + 3) // 4`` tokens, the rule of
``kura_dbt.llm.approx_tokens``) instead of the fixed 100 prompt + 20 completion tokens;
``usage`` has the (prompt, completion) tokens of every chat answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server(ThreadingHTTPServer):
    request_queue_size = 512  # the listen backlog: many clients connect at once
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a timeout test, a finished run) is not an error here."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    def settings(self, **overrides: Any):
        """LLMSettings for this server: the test model, the key in KURA_TEST_KEY, short
        timeouts and backoff, 4 concurrent calls, prices 1 and 2 USD per million tokens;
        ``overrides`` win."""
        from kura_dbt.llm import LLMSettings

        values: dict[str, Any] = dict(
            model="test-model",
            base_url=self.base_url,
            api_key_env="KURA_TEST_KEY",
            timeout_s=3.0,
            max_retries=2,
            backoff_base_s=0.01,
            max_concurrency=4,
            input_cost_per_mtok=1.0,
            output_cost_per_mtok=2.0,
        )
        values.update(overrides)
        return LLMSettings(**values)

    def __init__(
        self,
        latency_s: float = 0.0,
        slow_s: float = 3.0,
        port: int = 0,
        rate_limit_first_s: float = 0.0,
        api_key: str | None = None,
        count_tokens: bool = False,
    ) -> None:
        self.latency_s = latency_s
        self.count_tokens = count_tokens
        self.usage: list[tuple[int, int]] = []
        self.api_key = api_key
        self.slow_s = slow_s
        self.rate_limit_first_s = rate_limit_first_s
        self.arrivals: list[float] = []
        self.limited_at: float | None = None
        self.requests: list[dict[str, Any]] = []
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            # TCP_NODELAY, as real servers set: without it the body, written after the
            # headers, waits for the client's delayed ACK (about 40 ms on Linux) on every answer
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                data = json.dumps(
                    {"requests": len(server.requests), "max_in_flight": server.max_in_flight}
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    server.arrivals.append(time.monotonic())
                    server.requests.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    sent_key = self.headers.get("authorization", "").removeprefix("Bearer ")
                    if server.api_key is not None and sent_key != server.api_key:
                        message = f"Incorrect API key provided: {sent_key}."
                        status, payload, headers = (
                            401,
                            {
                                "error": {
                                    "message": message,
                                    "type": "invalid_request_error",
                                    "code": "invalid_api_key",
                                }
                            },
                            {},
                        )
                    elif echo := re.search(r"\[\[echo-key(?::(\d+))?\]\]", json.dumps(body)):
                        pad = "." * int(echo.group(1) or 0)
                        message = f"Request rejected{pad} for the API key {sent_key}."
                        status, payload, headers = (
                            400,
                            {"error": {"message": message, "type": "invalid_request_error"}},
                            {},
                        )
                    elif self.path.endswith("/embeddings"):
                        status, payload, headers = server.embeddings(body)
                    else:
                        status, payload, headers = server.answer(body)
                        if status == 200 and isinstance(payload, dict):
                            payload = server.counted(body, payload)
                    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = _Server(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ behaviour

    def counted(self, body: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` with its usage counted from the request and the answer
        (``count_tokens``), recorded in ``usage``."""
        if not self.count_tokens:
            return payload
        sent = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        answer = str(payload["choices"][0]["message"]["content"] or "")
        prompt, completion = (sent + 3) // 4, (len(answer) + 3) // 4
        payload["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        with self.lock:
            self.usage.append((prompt, completion))
        return payload

    def embeddings(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if self.latency_s:
            time.sleep(self.latency_s)
        if any("[[embed-500]]" in t for t in texts):
            return 500, {"error": {"message": "server error", "type": "server_error"}}, {}
        size = int(body.get("dimensions") or 64)
        data = [
            {"object": "embedding", "index": i, "embedding": word_vector(t, size)}
            for i, t in enumerate(texts)
        ]
        data.reverse()  # the API does not promise the order: clients sort by index
        tokens = sum(len(t.split()) for t in texts)
        return (
            200,
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            {},
        )

    def answer(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        # instructor may add its own messages (e.g. the JSON schema): find the transcript
        contents = [str(m.get("content")) for m in body["messages"]]
        tags = (
            "<transcript>",
            "<inside_examples>",
            "<candidates>",
            "<categories>",
            "<category_list>",
            *AUDIT_TAGS,
        )
        transcript = next((c for c in contents if any(t in c for t in tags)), contents[-1])
        key = transcript
        with self.lock:
            self.seen[key] += 1
            nth = self.seen[key]
            limited = self.rate_limit_first_s and self.limited_at is None
            if limited:
                self.limited_at = time.monotonic()
        if limited:
            return (
                429,
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                {"retry-after": str(self.rate_limit_first_s)},
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        if "[[429]]" in transcript and nth == 1:
            return (
                429,
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                {"retry-after": "0.2"},
            )
        if "[[500-always]]" in transcript or ("[[500-once]]" in transcript and nth == 1):
            return 500, {"error": {"message": "server error", "type": "server_error"}}, {}
        if recorded := recorded_for(transcript):
            return 200, recorded_answer(recorded), {}
        if any(tag in transcript for tag in AUDIT_TAGS):  # the privacy auditor
            return 200, recorded_answer("audit_general"), {}
        if "[[slow]]" in transcript and nth == 1:
            time.sleep(self.slow_s)
        if "[[malformed]]" in transcript and nth == 1:
            return 200, completion("this is {not json", body), {}
        if "<conversations_to_classify>" in transcript:  # a pinned taxonomy's classifier
            return 200, completion(json.dumps(classify_batch(transcript)), body), {}
        if "Propose about" in transcript:  # CLIO hierarchy: propose names for a neighbourhood
            want = int(re.search(r"Propose about (\d+)", transcript).group(1))
            first = re.search(r"<inside_examples>\n- (\S+ \S+)", transcript)
            stem = first.group(1) if first else "Other"
            names = ["General questions"] + [f"{stem} category {i}" for i in range(want)]
            return 200, completion(json.dumps({"names": names}), body), {}
        if "<candidates>" in transcript:  # deduplicate: keep the first `at most` names
            at_most = int(re.search(r"at most (\d+)", transcript).group(1))
            names = re.findall(r"^- (.*)$", transcript, flags=re.MULTILINE)[:at_most]
            return 200, completion(json.dumps({"names": names}), body), {}
        if "<categories>" in transcript:  # assign: a stable choice; [[invalid]] answers nonsense
            options = re.findall(
                r"^- (.*)$", transcript.split("<categories>")[1], flags=re.MULTILINE
            )
            group = transcript.split("<group>")[1].split("</group>")[0]
            pick = (
                "Not a listed category"
                if "[[invalid]]" in group
                else options[sum(map(ord, group)) % len(options)]
            )
            return 200, completion(json.dumps({"category": pick}), body), {}
        if "<inside_examples>" in transcript:
            first = re.search(r"<inside_examples>\n- (.*)", transcript)
            example = first.group(1)[:60] if first else "things"
            content = {
                "name": f"Help with {example}",
                "description": "The users asked for help. It was given.",
            }
            return 200, completion(json.dumps(content), body), {}
        content = summary_for(transcript, bad="[[badschema]]" in transcript, body=body)
        return 200, completion(json.dumps(content), body), {}


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai"

# the privacy auditor's prompts (kura_dbt.audit.llm.audit_prompt): the text in a tag of its kind
AUDIT_TAGS = tuple(
    f"<{kind}>"
    for kind in (
        "summary",
        "request",
        "task",
        "cluster_name",
        "cluster_description",
        "cluster_keywords",
    )
)


def recorded_for(prompt: str) -> str | None:
    """The recorded answer a prompt asks for: ``[[answer:NAME]]`` in any prompt,
    ``[[answer-names:NAME]]`` only when it asks for a cluster's name (``<inside_examples>``),
    ``[[answer-classify:NAME]]`` only when it classifies (``<conversations_to_classify>``)."""
    stage = (
        "names"
        if "<inside_examples>" in prompt
        else "classify"
        if "<conversations_to_classify>" in prompt
        else ""
    )
    for kind, name in re.findall(r"\[\[answer(?:-(names|classify))?:(\w+)\]\]", prompt):
        if kind in ("", stage):
            return name
    return None


def recorded_answer(name: str) -> dict[str, Any]:
    """The response body recorded in ``tests/fixtures/openai/<name>.json`` (its ``body``)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())["body"]


def classify_batch(prompt: str) -> dict[str, Any]:
    """Each numbered conversation -> the category whose entry shares the most words with it."""

    def words(text: str) -> set[str]:
        return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}

    listing = prompt.split("<category_list>")[1].split("</category_list>")[0]
    entries = [e for e in re.split(r"^- id: ", listing, flags=re.MULTILINE) if e.strip()]
    categories = [(e.split("\n")[0].strip(), words(e)) for e in entries]
    items = prompt.split("<conversations_to_classify>")[1].split("</conversations_to_classify>")[0]
    answers = []
    for number, text in re.findall(r"^\[(\d+)\] (.*)$", items, flags=re.MULTILINE):
        if "[[invalid-category]]" in text:
            answers.append({"item": int(number), "category_id": "not-a-listed-category"})
            continue
        shared = [(len(words(text) & w), cid) for cid, w in categories]
        best = max(shared, default=(0, "other"), key=lambda s: s[0])
        answers.append({"item": int(number), "category_id": best[1] if best[0] else "other"})
    return {"answers": answers}


def summary_for(transcript: str, bad: bool, body: dict[str, Any]) -> dict[str, Any]:
    first_user = re.search(r"user: (.*)", transcript)
    request = first_user.group(1).strip() if first_user else "nothing"
    answer: dict[str, Any] = {
        "summary": f"The user asks for help: {request}",
        "request": request,
        "task": "answer a question",
        "languages": ["English"],
        "concerning_score": 9 if bad else 1,
        "user_frustration": 2,
        "assistant_errors": [],
    }
    schema = json.dumps(body)
    if "extra_facets" in schema:
        candidates = {
            "topic": "travel",
            "urgency": 4,
            "resolved": True,
            "products": ["bus"],
            "channel": "web",
        }
        answer["extra_facets"] = {
            k: v for k, v in candidates.items() if re.search(rf"\b{k}\b", schema)
        }
    return answer


def word_vector(text: str, size: int) -> list[float]:
    """A bag of hashed words: deterministic, and similar for texts that share words."""
    import hashlib

    vector = [0.0] * size
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        digest = hashlib.md5(word.encode()).digest()
        vector[digest[0] % size] += 1.0 if digest[1] % 2 else -1.0
    return vector if any(vector) else [1.0] + [0.0] * (size - 1)


def completion(content: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "test-model"),
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


def serve(port: int, latency_s: float) -> None:
    """Run the server in the foreground (for benchmarks in a separate process)."""
    server = FakeOpenAI(latency_s=latency_s, port=port)
    server.httpd.serve_forever()
