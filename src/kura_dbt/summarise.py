"""Conversation summaries: the output schema, and the offline local summariser.

``ConversationSummary`` is the facet schema every summariser fills (an LLM backend will fill
the same pydantic model through structured output, so its field descriptions are written as
instructions). ``SummaryRecord`` is one flat output row per conversation: the facets plus
counts, flags and an error column, with ``to_row()`` for a pandas DataFrame.

``LocalSummariser`` is the honest, deterministic, offline default. It does not judge or
invent anything; it extracts:

* ``request``: the user's first substantive message (greetings and pleasantries removed),
  cut to its first sentence(s), at most ``max_request_chars`` characters, in the user's words.
* ``summary``: one or two sentences built from those words in the third person
  ("The user needs to find a bus to Sacramento on March 3rd."; "The user asks the assistant
  to write an outline about ..."; "The user asks: How can they ...?"), plus the follow-up
  request that brings the most new words, if there is one ("Follow-up: ...").
* ``task``: a short phrase from the user's words: the leading imperative or wanted action
  ("find a bus to Sacramento"), "how to ..." for how-to questions, "answer a question about
  <key phrases>" for other questions, or the key phrases alone; ``None`` when nothing is left.
* ``languages``: the human language(s) of the user's messages (English names, e.g.
  "English", "Spanish") and the programming languages seen in fenced code blocks or strong
  syntax cues in any message (lower-case ids, e.g. "python", "c++", "sql").
* ``concerning_score``, ``user_frustration``, ``assistant_errors``: always ``None``; a local
  extractor cannot judge them honestly.

Every text field goes through :func:`kura_dbt.redact.redact` (e-mails, phones, cards, IPs).
Person names are NOT removed (that needs a named-entity model).

Conversations without user text get a record with ``summary``, ``request`` and ``task`` set to
``None`` and flags saying why (``empty``, ``no_user_message``); nothing raises.

Human-language detection is a small stop-word and script detector written here (no model, no
dependency, same answer on every machine): Latin-script languages by counts of their most
frequent function words (English, Spanish, German, French, Italian, Portuguese, Dutch, Polish,
Swedish, Turkish), other languages by Unicode script (Russian/Ukrainian, Greek, Arabic,
Persian, Urdu, Hebrew, Hindi, Thai, Chinese, Japanese, Korean).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kura_dbt.redact import redact, redact_with_counts

__all__ = [
    "ConversationSummary",
    "FLAGS",
    "LocalSummariser",
    "Message",
    "RECORD_COLUMNS",
    "ROLES",
    "SummaryRecord",
    "detect_human_language",
    "detect_programming_languages",
]

ROLES = ("user", "assistant", "system", "tool")
_ROLE_ALIASES = {
    "human": "user",
    "prompter": "user",
    "customer": "user",
    "ai": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "chatbot": "assistant",
    "gpt": "assistant",
    "developer": "system",
    "function": "tool",
    "tool_result": "tool",
    "ipython": "tool",
}

# Flags in the order they appear in a record.
FLAGS = (
    "empty",  # no message has any non-whitespace text
    "no_user_message",  # no user message has any non-whitespace text
    "greeting_only",  # the user's text has no request: only greetings, pleasantries, no words
    "truncated",  # the transcript was longer than max_chars; only max_chars of it were read
    "non_english",  # the main human language of the user's text is not English
    "possible_prompt_injection",  # a user message contains a typical injection phrase
    "contains_pii",  # the user's text had e-mails, phones, cards or IPs (redacted)
    "unknown_role",  # a message had a role other than user/assistant/system/tool
    "error",  # the summariser failed on this conversation; see `error`
)


# =============================================================================== schema


@dataclass
class Message:
    """One message of a conversation. ``role`` is normalised to lower case and common aliases
    are mapped (human/prompter -> user, ai/bot/model -> assistant, developer -> system,
    function -> tool); another role is kept as given and flagged ``unknown_role`` by the
    summariser. ``content`` ``None`` becomes ``""``."""

    role: str
    content: str

    def __post_init__(self) -> None:
        role = str(self.role or "").strip().lower()
        self.role = _ROLE_ALIASES.get(role, role)
        self.content = "" if self.content is None else str(self.content)

    @classmethod
    def coerce(cls, value: Message | Mapping[str, Any]) -> Message:
        """A ``Message`` from a ``Message`` or a mapping with ``role`` (or ``speaker`` /
        ``sender``) and ``content`` (or ``text``)."""
        if isinstance(value, Message):
            return value
        if isinstance(value, Mapping):
            role = value.get("role") or value.get("speaker") or value.get("sender") or ""
            content = value.get("content")
            if content is None:
                content = value.get("text")
            return cls(role=role, content=content)
        raise TypeError(f"not a message: {type(value).__name__}")


_SCORE_1_TO_5: dict[str, int] = {"ge": 1, "le": 5}


class ConversationSummary(BaseModel):
    """The facets of one conversation between a user and an AI assistant."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(
        description=(
            "One or two sentences, in English and in the neutral third person, saying what the "
            "user asked the assistant to do, e.g. 'The user asks the assistant to debug a "
            "Python script that parses CSV files.' Describe the request, not the answer. "
            "Leave out names, e-mail addresses, phone numbers, addresses and any other "
            "personally identifying details."
        )
    )
    request: str | None = Field(
        default=None,
        description=(
            "The user's overall request for the assistant, in one sentence, e.g. 'The user's "
            "overall request for the assistant is to book a bus ticket to Sacramento.' "
            "No personally identifying details. Null if the user makes no request."
        ),
    )
    task: str | None = Field(
        default=None,
        description=(
            "A short phrase naming the task the assistant is asked to perform, e.g. 'write "
            "a cover letter', 'debug Python code', 'find a restaurant'. Null if there is none."
        ),
    )
    languages: list[str] = Field(
        default_factory=list,
        description=(
            "The languages used in the conversation: human languages by their English name "
            "(e.g. 'English', 'Spanish') and programming languages in lower case (e.g. "
            "'python', 'sql'). Main human language first. Empty if there is no text."
        ),
    )
    concerning_score: int | None = Field(
        default=None,
        **_SCORE_1_TO_5,
        description=(
            "How concerning the user's requests are for safety, from 1 (not concerning at "
            "all: ordinary, benign requests) to 5 (very concerning: clear intent to cause "
            "serious harm). Null if it cannot be judged."
        ),
    )
    user_frustration: int | None = Field(
        default=None,
        **_SCORE_1_TO_5,
        description=(
            "How frustrated the user is with the assistant, from 1 (not frustrated: "
            "satisfied or neutral) to 5 (very frustrated). Null if it cannot be judged."
        ),
    )
    assistant_errors: list[str] | None = Field(
        default=None,
        description=(
            "The assistant's mistakes in this conversation, one short phrase each (e.g. "
            "'gave code that does not run', 'misread the date'). An empty list if there were "
            "none; null if it cannot be judged."
        ),
    )


class SummaryRecord(BaseModel):
    """One flat output row per conversation: the facets of :class:`ConversationSummary`
    (``summary`` may be ``None`` here: no user text, or an error) plus counts and flags."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = None
    summary: str | None = None
    request: str | None = None
    task: str | None = None
    languages: list[str] = Field(default_factory=list)
    concerning_score: int | None = Field(default=None, **_SCORE_1_TO_5)
    user_frustration: int | None = Field(default=None, **_SCORE_1_TO_5)
    assistant_errors: list[str] | None = None
    turn_count: int = Field(0, ge=0, description="messages with non-whitespace text, any role")
    user_turns: int = Field(0, ge=0, description="user messages with non-whitespace text")
    assistant_turns: int = Field(0, ge=0, description="assistant messages with text")
    user_chars: int = Field(0, ge=0, description="characters in all user messages (untruncated)")
    flags: list[str] = Field(default_factory=list)
    extra_facets: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    llm_calls: int | None = None
    error: str | None = None
    summariser: str | None = None
    model: str | None = None
    prompt_version: str | None = None

    def to_row(self) -> dict[str, Any]:
        """A dict of plain Python values (lists stay lists) for ``pandas.DataFrame``."""
        return self.model_dump(mode="python")

    @property
    def facets(self) -> ConversationSummary | None:
        """The facets as a :class:`ConversationSummary`; ``None`` without a summary."""
        if self.summary is None:
            return None
        return ConversationSummary(
            summary=self.summary,
            request=self.request,
            task=self.task,
            languages=list(self.languages),
            concerning_score=self.concerning_score,
            user_frustration=self.user_frustration,
            assistant_errors=None if self.assistant_errors is None else list(self.assistant_errors),
        )


RECORD_COLUMNS: tuple[str, ...] = tuple(SummaryRecord.model_fields)


# =============================================================================== languages

_LATIN_STOPWORDS: dict[str, frozenset[str]] = {
    "English": frozenset(
        """the and to of a in is it you that for i this on with are be have do not what how
        can my me your was but or if as at by from so we they will would could should there
        about an just like don't i'm it's please which when why who does did has had been
        them their our any some these those than then into also want need know""".split()
    ),
    "Spanish": frozenset(
        """el la los las de que y en un una es por para con no se lo le su al del como más
        pero sus está están muy también hay yo tú usted puedes puede quiero necesito qué
        cómo cuál dónde esto esta este ese esa hola gracias ayuda ayudarme mi me te nos
        ser son tengo tiene hacer sobre porque cuando donde todo todos ya""".split()
    ),
    "German": frozenset(
        """der die das und ist nicht ein eine einen dem den des zu mit auf für von sich auch
        es ich du sie wir ihr wie was warum kann können bitte mir mich dir dich mein meine
        haben habe hat sind wird werden oder aber wenn noch nur schon im zum zur über danke
        hallo ihnen mehr sehr gibt welche diese dieser möchte brauche""".split()
    ),
    "French": frozenset(
        """le la les de des du et est un une pour que qui dans en pas ne sur avec au aux ce
        cette il elle je tu vous nous mais ou comment pourquoi quel quelle bonjour merci mon
        ma mes me moi peux pouvez voudrais suis sont c'est j'ai qu'est-ce est-ce plus faire
        aussi très où""".split()
    ),
    "Italian": frozenset(
        """il lo la gli le di che e è un una per non con del della dei delle in mi ti si
        sono ho hai ha come perché cosa questo questa quello anche ma più ciao grazie puoi
        potresti vorrei io tu noi voi nel nella al alla sul molto fare essere""".split()
    ),
    "Portuguese": frozenset(
        """o a os as de que e é um uma para com não em no na nos nas do da dos das por se eu
        você mas como mais muito também está estou são obrigado obrigada olá oi posso pode
        preciso quero isso este esta meu minha ao qual fazer sobre""".split()
    ),
    "Dutch": frozenset(
        """de het een en is van in op te dat die niet met voor zijn ik je jij u wij we hoe
        wat waarom kan kunt kunnen mij mijn ook maar of als er nog al naar bij dit deze
        hallo bedankt alsjeblieft graag wil heb hebt heeft""".split()
    ),
    "Polish": frozenset(
        """i w na z że nie jest to do się co jak o dla czy ale jestem mi mnie mój moja
        proszę dziękuję cześć tak być może który która są od po przez ten ta jaki jakie""".split()
    ),
    "Swedish": frozenset(
        """och att det är som på en ett i av för med till den inte jag du vi har kan vad hur
        varför om men eller så min mitt mig tack hej snälla också""".split()
    ),
    "Turkish": frozenset(
        """ve bir bu da de için ile ne nasıl neden mi mı mu mü ben sen biz o var yok çok
        daha ama gibi olarak merhaba teşekkürler lütfen bana benim nedir nerede""".split()
    ),
}
_LATIN_ORDER = tuple(_LATIN_STOPWORDS)  # ties go to the earlier language
# Letters that only one of the Latin-script languages above uses.
_LATIN_MARKERS = {
    "Spanish": re.compile(r"[ñ¿¡]"),
    "German": re.compile(r"ß"),
    "Portuguese": re.compile(r"[ãõ]"),
    "Swedish": re.compile(r"å"),
    "Polish": re.compile(r"[łąęśźżćń]"),
    "Turkish": re.compile(r"[ğşı]"),
    "French": re.compile(r"œ"),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

_SCRIPTS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    # (name, letters, weight per character): one CJK character is about one word.
    ("latin", re.compile(r"[A-Za-z\u00C0-\u024F]"), 1),
    ("cyrillic", re.compile(r"[\u0400-\u04FF]"), 1),
    ("greek", re.compile(r"[\u0370-\u03FF]"), 1),
    ("arabic", re.compile(r"[\u0600-\u06FF]"), 1),
    ("hebrew", re.compile(r"[\u0590-\u05FF]"), 1),
    ("devanagari", re.compile(r"[\u0900-\u097F]"), 1),
    ("thai", re.compile(r"[\u0E00-\u0E7F]"), 1),
    ("hangul", re.compile(r"[\uAC00-\uD7AF\u1100-\u11FF\u3130-\u318F]"), 3),
    ("kana", re.compile(r"[\u3040-\u30FF]"), 3),
    ("han", re.compile(r"[\u4E00-\u9FFF\u3400-\u4DBF]"), 3),
)
_SCRIPT_LANGUAGE = {
    "greek": "Greek",
    "hebrew": "Hebrew",
    "devanagari": "Hindi",
    "thai": "Thai",
    "hangul": "Korean",
    "kana": "Japanese",
}
_UKRAINIAN = re.compile(r"[іїєґІЇЄҐ]")
_URDU = re.compile(r"[ٹڈڑںے]")
_PERSIAN = re.compile(r"[پچژگ]")
_DETECT_CHARS = 4000  # characters of one message that language detection reads


_WORD_LANGUAGES: dict[str, tuple[str, ...]] = {}
for _language in _LATIN_ORDER:
    for _word in _LATIN_STOPWORDS[_language]:
        _WORD_LANGUAGES[_word] = _WORD_LANGUAGES.get(_word, ()) + (_language,)


def _detect(text: str) -> tuple[str | None, int]:
    """(language, evidence) for one text; evidence is the number of supporting hits."""
    text = text[:_DETECT_CHARS]
    if text.isascii():
        counts = {"latin": len(_SCRIPTS[0][1].findall(text))}
    else:
        counts = {name: len(pattern.findall(text)) * weight for name, pattern, weight in _SCRIPTS}
    script = max(counts, key=lambda name: counts[name])  # first of equals wins: latin
    if counts[script] == 0:
        return None, 0
    if script != "latin":
        hits = counts[script]
        if script == "cyrillic":
            return ("Ukrainian" if _UKRAINIAN.search(text) else "Russian"), hits
        if script == "arabic":
            if _URDU.search(text):
                return "Urdu", hits
            return ("Persian" if _PERSIAN.search(text) else "Arabic"), hits
        if script == "han":
            return ("Japanese" if counts["kana"] else "Chinese"), hits
        return _SCRIPT_LANGUAGE[script], hits
    lowered = text.lower()
    scores = dict.fromkeys(_LATIN_ORDER, 0)
    for word in _WORD.findall(lowered):
        for language in _WORD_LANGUAGES.get(word.replace("’", "'"), ()):
            scores[language] += 1
    if not lowered.isascii():
        for language, marker in _LATIN_MARKERS.items():
            scores[language] += min(3, len(marker.findall(lowered)))
    best = max(_LATIN_ORDER, key=lambda language: scores[language])
    if scores[best] == 0:
        return None, 0
    return best, scores[best]


def detect_human_language(text: str) -> str | None:
    """The human language of ``text`` as an English name ("English", "Spanish", ...), or
    ``None`` when there is no evidence (no letters, or no common word of any language)."""
    return _detect(text or "")[0]


def _human_languages(texts: list[str]) -> list[str]:
    """Languages of the user's messages, main (most words) first; another language is kept
    when at least a quarter of the words and three hits support it."""
    weight: dict[str, int] = {}
    evidence: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        language, hits = _detect(text)
        if language is None:
            continue
        words = max(1, len(text[:_DETECT_CHARS].split()))
        weight[language] = weight.get(language, 0) + words
        evidence[language] = evidence.get(language, 0) + hits
        first_seen.setdefault(language, i)
    if not weight:
        return []
    ranked = sorted(weight, key=lambda lang: (-weight[lang], first_seen[lang]))
    total = sum(weight.values())
    main, rest = ranked[0], ranked[1:]
    return [main] + [lang for lang in rest if weight[lang] * 4 >= total and evidence[lang] >= 3]


# Fenced code blocks: ```lang ... ``` (or ~~~). An unclosed fence runs to the end of the text.
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:^[ \t]*(?P=fence)|\Z)",
    re.MULTILINE | re.DOTALL,
)
# fmt: off
_FENCE_ALIASES = {
    "python": "python", "py": "python", "python3": "python", "py3": "python",
    "pycon": "python", "ipython": "python", "jupyter": "python",
    "javascript": "javascript", "js": "javascript", "jsx": "javascript", "node": "javascript",
    "nodejs": "javascript", "mjs": "javascript",
    "typescript": "typescript", "ts": "typescript", "tsx": "typescript",
    "java": "java", "kotlin": "kotlin", "kt": "kotlin", "scala": "scala",
    "c": "c", "h": "c", "cpp": "c++", "c++": "c++", "cc": "c++", "cxx": "c++", "hpp": "c++",
    "csharp": "c#", "cs": "c#", "c#": "c#", "fsharp": "f#", "f#": "f#",
    "go": "go", "golang": "go", "rust": "rust", "rs": "rust",
    "ruby": "ruby", "rb": "ruby", "php": "php", "perl": "perl", "pl": "perl",
    "swift": "swift", "objective-c": "objective-c", "objc": "objective-c", "dart": "dart",
    "r": "r", "julia": "julia", "jl": "julia", "matlab": "matlab", "octave": "matlab",
    "lua": "lua", "haskell": "haskell", "hs": "haskell", "ocaml": "ocaml", "ml": "ocaml",
    "elixir": "elixir", "ex": "elixir", "erlang": "erlang", "clojure": "clojure",
    "lisp": "lisp", "scheme": "scheme", "racket": "racket", "elm": "elm",
    "lean": "lean", "lean4": "lean", "coq": "coq", "prolog": "prolog",
    "fortran": "fortran", "cobol": "cobol", "pascal": "pascal", "delphi": "pascal",
    "vb": "visual basic", "vbnet": "visual basic", "vba": "visual basic",
    "bash": "bash", "sh": "bash", "shell": "bash", "zsh": "bash", "console": "bash",
    "shell-session": "bash", "powershell": "powershell", "ps1": "powershell", "pwsh": "powershell",
    "bat": "batch", "batch": "batch", "cmd": "batch",
    "sql": "sql", "mysql": "sql", "postgresql": "sql", "postgres": "sql", "psql": "sql",
    "plpgsql": "sql", "sqlite": "sql", "tsql": "sql", "plsql": "sql",
    "html": "html", "xhtml": "html", "css": "css", "scss": "css", "sass": "css", "less": "css",
    "latex": "latex", "tex": "latex", "solidity": "solidity", "sol": "solidity",
    "asm": "assembly", "assembly": "assembly", "nasm": "assembly", "wasm": "webassembly",
    "vhdl": "vhdl", "verilog": "verilog", "glsl": "glsl", "hlsl": "hlsl", "cuda": "cuda",
    "gdscript": "gdscript", "zig": "zig", "nim": "nim", "crystal": "crystal", "groovy": "groovy",
    "dockerfile": "dockerfile", "makefile": "makefile", "make": "makefile", "cmake": "cmake",
    "graphql": "graphql", "jq": "jq", "awk": "awk", "sed": "sed", "regex": "regex",
}
# fmt: on

# Cues strong enough to count anywhere in the text (code pasted without a fence). Each cue
# has literal strings of which one must be in the text before the pattern runs (fast path).
_STRONG_CUES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (language, literals, re.compile(pattern, re.MULTILINE))
    for language, literals, pattern in (
        (
            "python",
            ("def ",),
            r"^[ \t]*def [A-Za-z_]\w*\([^)\n]{0,200}\)[ \t]*(?:->[^:\n]{1,80})?:[ \t]*$",
        ),
        ("python", ("__main__",), r"if __name__ == ['\"]__main__['\"]\s*:"),
        ("python", (" import ",), r"^[ \t]*from [A-Za-z_][\w.]* import [\w*, ()]+[ \t]*$"),
        (
            "javascript",
            ("console.log(", "document."),
            r"\bconsole\.log\(|\bdocument\.(?:getElementById|querySelector)\(",
        ),
        (
            "javascript",
            ("module.exports", "require("),
            r"\bmodule\.exports\b|\brequire\(['\"][\w@./-]+['\"]\)",
        ),
        (
            "java",
            ("static void main", "System.out.print"),
            r"\bpublic static void main\s*\(|\bSystem\.out\.print(?:ln)?\(",
        ),
        (
            "c++",
            ("#include",),
            r"#include\s*<(?:iostream|vector|string|map|algorithm|memory|fstream)>",
        ),
        ("c++", ("std::",), r"\bstd::(?:cout|cin|endl|vector|string|map)\b"),
        ("c", ("#include",), r"#include\s*<(?:stdio|stdlib|string|math|unistd)\.h>"),
        (
            "c#",
            ("Console.Write", "using System"),
            r"\bConsole\.Write(?:Line)?\(|^[ \t]*using System(?:\.\w+)*;",
        ),
        ("go", ("package main", "fmt."), r"^package main\b|\bfmt\.(?:Print|Sprint|Fprint)\w*\("),
        (
            "rust",
            ("fn main()", "println!(", "let mut ", "use std::"),
            # "let mut x = 1" (Lean 4 writes "let mut x := 1")
            r"\bfn main\(\)|\bprintln!\(|\blet mut \w+(?:\s*:\s*[^=\n]{1,60})?\s*=(?!=)"
            r"|^[ \t]*use std::",
        ),
        ("php", ("<?php",), r"<\?php\b"),
        (
            "sql",
            ("SELECT", "CREATE TABLE", "INSERT INTO"),
            r"\bSELECT\b[^;]{1,300}?\bFROM\b|\bCREATE TABLE\b|\bINSERT INTO\b",
        ),
        ("bash", ("#!",), r"^#!\s*/(?:usr/)?bin/(?:env\s+)?(?:ba|z)?sh\b"),
        ("html", ("<!DOCTYPE html>", "<html"), r"<!DOCTYPE html>|<html[\s>]"),
        (
            "latex",
            ("\\documentclass", "\\begin{document}"),
            r"\\documentclass\b|\\begin\{document\}",
        ),
    )
)
# Weaker cues, used only inside a fenced block without a language tag (short texts).
_BLOCK_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (language, pattern) for language, _, pattern in _STRONG_CUES
) + tuple(
    (language, re.compile(pattern, re.MULTILINE))
    for language, pattern in (
        ("python", r"^[ \t]*import [A-Za-z_][\w.]*(?: as \w+)?[ \t]*$"),
        ("python", r"^[ \t]*(?:print\(.*\)|elif\b.*:|class \w+(?:\([^)]*\))?:)[ \t]*$"),
        ("javascript", r"^[ \t]*(?:const|let|var) \w+ = .+;[ \t]*$|=>\s*\{|\bfunction \w+\s*\("),
        ("sql", r"(?i)\bselect\b[^;]{1,300}?\bfrom\b\s+\w+|\bcreate\s+table\b"),
        (
            "bash",
            r"^[ \t]*(?:\$ )?(?:sudo |apt(?:-get)? |pip3? install |npm (?:install|run) "
            r"|cd |ls\b|mkdir |chmod |export \w+=)",
        ),
        ("html", r"</(?:div|span|body|head|p|ul|li|table|form|script)>"),
        ("css", r"^[ \t]*[\w.#:>, -]{1,100}\{[ \t]*\n[ \t]*[\w-]{1,40}[ \t]*:[^;\n]{1,200};"),
        ("r", r"<-\s*(?:c|function|data\.frame|read\.csv)\(|\blibrary\(\w+\)"),
    )
)


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    return [(m.group("info").strip(), m.group("body")) for m in _FENCE.finditer(text)]


def detect_programming_languages(text: str) -> list[str]:
    """Programming languages in ``text``: from fenced-block tags (```python), else from the
    syntax cues in untagged blocks, and from strong cues anywhere (``#include <stdio.h>``,
    ``def f(x):``, ``SELECT ... FROM``). In order of first appearance, lower case."""
    found: list[str] = []

    def add(language: str) -> None:
        if language not in found:
            found.append(language)

    for info, body in _fenced_blocks(text or ""):
        tag = info.split()[0].lower().strip("{}.") if info else ""
        if tag in _FENCE_ALIASES:
            add(_FENCE_ALIASES[tag])
        elif not tag:
            for language, cue in _BLOCK_CUES:
                if cue.search(body):
                    add(language)
    text = text or ""
    for language, literals, cue in _STRONG_CUES:
        if any(literal in text for literal in literals) and cue.search(text):
            add(language)
    if "c++" in found and "c" in found:
        found.remove("c")
    return found


# =============================================================================== text helpers

# Typical prompt-injection phrases, matched on lower-cased text. Each pattern starts with a
# literal word, which is looked for first (fast path).
_INJECTION: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (literal, re.compile(pattern))
    for literal, pattern in (
        *(
            (
                verb,
                verb + r"\s+(?:(?:all|any|the|your|of|my|these)\s+){0,3}"
                r"(?:(?:previous|prior|above|earlier|preceding|initial|original|system|safety)\s+)?"
                r"(?:instructions?|prompts?|rules|directions|guidelines|programming|restrictions"
                r"|filters)\b",
            )
            for verb in ("ignore", "disregard", "forget", "override", "bypass")
        ),
        ("you are now", r"\byou are now\b"),
        ("you're now", r"\byou're now\b"),
        ("from now on", r"\bfrom now on,?\s+you\s+(?:are|will)\b"),
        ("prompt", r"\b(?:system|hidden|initial|original|developer)\s+prompt\b"),
        ("instructions", r"\b(?:system|hidden|developer)\s+instructions\b"),
        ("reveal", r"\breveal\s+(?:your|the)\s+(?:prompt|instructions|rules)\b"),
        ("do anything now", r"\bdo anything now\b"),
        ("jailbreak", r"\bjailbreak"),
        ("developer mode", r"\bdeveloper mode\b"),
        (
            "pretend",
            r"\bpretend\s+(?:that\s+)?you\s+(?:are|have)\s+no\s+(?:rules|restrictions|filters|limits)\b",
        ),
        ("new instructions", r"\bnew instructions\s*:"),
    )
)
_DAN = re.compile(r"\bDAN\b")


def _looks_like_injection(text: str) -> bool:
    if "DAN" in text and _DAN.search(text):
        return True
    lowered = text.lower().replace("’", "'")
    return any(literal in lowered and pattern.search(lowered) for literal, pattern in _INJECTION)


_CODE_FENCE_ANY = re.compile(
    r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL
)

_GREETING = re.compile(
    r"^\s*(?:"
    r"(?:hi+|hello+|hey+|hiya|heya|howdy|greetings|yo|hallo|hola|bonjour|salut|ciao|hej"
    r"|ol[aá]|oi|namaste|good\s+(?:morning|afternoon|evening|day)|guten\s+(?:tag|morgen|abend)"
    r"|buen[oa]s\s+(?:d[ií]as|tardes|noches)|bonsoir|buongiorno|buonasera|salve|merhaba|cze[sś][cć]"
    r"|dzie[nń]\s+dobry|hoi|goedemorgen|god\s+morgon|привет|здравствуйте|добрый\s+день"
    r"|你好|您好|こんにちは|안녕하세요|안녕|مرحبا|שלום|नमस्ते)"
    r"(?:\s+(?:there|all|everyone|everybody|guys|folks|friend|dear|mate|again|assistant|bot"
    r"|chat\s?gpt|gpt|claude|open\s?assistant|ai))*"
    r"(?:\s*[!,.:;~)\-–—，。！、]+\s*|\s*\n\s*|\s*$|\s+(?=(?:i|i'm|im|i'd|i've|can|could|would|will"
    r"|please|how|what|why|where|when|who|which|is|are|do|does|my|we|so|just|quick|need|help"
    r"|tell|give|write|find|get|necesito|quiero|puedes|ich|kannst|je|pouvez|puoi|vorrei)\b))"
    r")+",
    re.IGNORECASE,
)
_PLEASANTRY_SENTENCE = re.compile(
    r"^\s*(?:how\s+are\s+you(?:\s+doing)?(?:\s+today)?|how's\s+it\s+going|how\s+is\s+it\s+going"
    r"|(?:i\s+)?hope\s+you(?:'re|\s+are)\s+(?:doing\s+)?(?:well|good|fine)(?:\s+today)?"
    r"|nice\s+to\s+meet\s+you|good\s+to\s+see\s+you|what's\s+up|whats\s+up|sup)"
    r"\s*[?.!,]*\s*",
    re.IGNORECASE,
)
_PLEASANTRY_WORDS = frozenset(
    """yes yeah yep yup ya yea no nope nah ok okay okey k kk sure great good perfect cool nice
    awesome excellent fine alright right correct exactly wonderful fantastic amazing lovely
    thanks thank thankyou thx ty cheers appreciated appreciate much so very lot a you that's
    thats that it is all will be for your the help everything bye goodbye see later works
    sounds sound please go ahead do hi hello hey again i i'm am sir madam well done else
    anything nothing don't dont need now today this just have day great! that'll would
    wow oh ah hmm haha lol indeed absolutely definitely certainly sounds okay. looks pretty
    really interesting neat seems seem like fair enough that'd that'll glad happy""".split()
)
# Openers that carry no request: "So, ...", "Also ...", "Yes, ...", "Perfect! ...". Words that
# can start a real sentence ("Good books for kids?", "No idea how ...") only go with punctuation.
_DISCOURSE = re.compile(
    r"^(?:(?:(?:so|ok|okay|also|actually|alright|oh|hmm|and|but|then)\b[,!.]?"
    r"|(?:yes|yeah|yep|sure|cool|perfect|nice|awesome|excellent|good|fine|right|no|nope|great"
    r"|thanks|thank\s+you|well|now|(?:that\s+)?sounds\s+(?:good|great))[,!.])\s+)+",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|\(?[a-zA-Z]\))\s+")
_ABBREVIATIONS = frozenset(
    "e.g i.e ie eg etc vs mr mrs ms dr st no approx fig al jr sr inc ltd co u.s a.m p.m".split()
)
_SENTENCE_END = re.compile(r"([.!?…]+|[。！？]+)([\"'”’)\]]*)(\s+|$)|[。！？]+")
_SPACES = re.compile(r"[ \t\u00a0]+")


def _split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: every line is split on sentence punctuation; a full stop ends a
    sentence only before an upper-case letter, a digit or a quote, and not after a common
    abbreviation. Bullets are removed."""
    sentences: list[str] = []
    for raw_line in text.split("\n"):
        line = _SPACES.sub(" ", _BULLET.sub("", raw_line)).strip()
        if not line:
            continue
        start = 0
        for match in _SENTENCE_END.finditer(line):
            end = match.end()
            punct = match.group(1) or match.group(0)
            if punct == "." and end < len(line):
                following = line[end : end + 1]
                if not (following.isupper() or following.isdigit() or following in "\"'“‘([¿¡"):
                    continue
                # the word before the full stop (at most 8 characters back: bounded work)
                previous_word = line[max(start, match.start() - 8) : match.start()]
                previous_word = previous_word.rsplit(" ", 1)[-1].lower()
                if previous_word.rstrip(".") in _ABBREVIATIONS or len(previous_word) == 1:
                    continue
            sentence = line[start:end].strip()
            if sentence:
                sentences.append(sentence)
            start = end
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
    return sentences


def _strip_greetings(text: str) -> str:
    for _ in range(4):
        before = text
        text = _GREETING.sub("", text, count=1)
        text = _PLEASANTRY_SENTENCE.sub("", text, count=1)
        if text == before:
            break
    return text.strip()


def _words(sentence: str) -> list[str]:
    return [w.strip(".,!?;:\"'()[]{}…").lower().replace("’", "'") for w in sentence.split()]


def _is_pleasantry(sentence: str) -> bool:
    words = [w for w in _words(sentence) if w]
    return all(w in _PLEASANTRY_WORDS for w in words)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—(\"'") + "…"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _clean_message(text: str) -> str:
    """A user message as prose: code blocks removed, greetings and opening pleasantries
    stripped."""
    prose = _CODE_FENCE_ANY.sub("\n", text) if "```" in text or "~~~" in text else text
    prose = _strip_greetings(prose)
    sentences = _split_sentences(prose)
    while sentences and (
        _is_pleasantry(sentences[0]) or _PLEASANTRY_SENTENCE.fullmatch(sentences[0])
    ):
        sentences.pop(0)
    if sentences:
        sentences[0] = _capitalise(_DISCOURSE.sub("", sentences[0]) or sentences[0])
    return "\n".join(sentences)


def _select_request(sentences: list[str], limit: int, wanted: int = 60) -> str:
    """The first sentence, plus the next ones while the text is shorter than ``wanted`` or
    ends with a colon (a list follows), cut to ``limit`` characters."""
    out = sentences[0]
    i = 1
    while i < len(sentences) and (len(out) < wanted or out.endswith(":")):
        if len(out) >= wanted and len(out) + 1 + len(sentences[i]) > limit:
            break
        out = f"{out} {sentences[i]}"
        i += 1
    return _shorten(out, limit)


# ----------------------------------------------------------------------------- English rules

_EN_STOP = frozenset(
    """a an the and or but if then else so as of at by for with about against between into
    through during before after above below to from up down in out on off over under again
    further once here there when where why how all any both each few more most other some
    such no nor not only own same than too very s t can will just don don't should now i me
    my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom
    whose this that these those am is are was were be been being have has had having do does
    did doing would could might must shall may i'm i've i'd i'll you're you've it's that's
    there's what's let's can't won't isn't aren't doesn't didn't wasn't weren't hasn't
    haven't please thanks thank hi hello hey also really actually maybe something anything
    everything nothing someone anyone way ways thing things kind sort lot lots much many get
    got gets getting make makes made know think want wants wanted need needs needed like use
    using used go going goes say says tell tells give gives happen happens happened mean
    means work works take takes see look looks help try tried let put come comes seem feel
    whether else yes ok okay well one ones us since while because until though although
    already still even ever always never often usually currently recently today tomorrow
    yesterday possible able sure good best better""".split()
)
_EN_VERBS = frozenset(
    """write explain create find book reserve make generate list translate summarize summarise
    fix debug refactor implement compare recommend suggest give build draw design describe
    calculate compute convert plan search rent buy get play add schedule check show tell
    help provide rewrite rephrase paraphrase edit improve optimize optimise review analyze
    analyse evaluate define outline draft compose proofread correct solve answer prove derive
    simplify sort format parse extract classify identify name count estimate predict teach
    guide walk send order cancel transfer pay call set remind look locate purchase hire choose
    pick select act pretend imagine assume roleplay continue complete finish expand shorten
    elaborate clarify brainstorm invent sing say respond reply read watch open close delete
    remove install configure setup deploy run test code program encode decode encrypt scrape
    train tune fit plot visualize visualise map arrange organize organise prepare cook bake
    try go update upgrade transform compile port migrate integrate connect sign register
    apply fill share post publish print copy move change modify adjust reduce increase
    convince persuade argue discuss talk chat answer speak learn study practice memorize
    buy sell lease borrow lend visit attend join meet ignore forget reveal disregard""".split()
)
_EN_QUESTION_START = frozenset(
    """what why how who whom whose when where which is are was were do does did can could
    should would will has have am isn't aren't doesn't don't didn't shall may might""".split()
)
_CLAUSE_STOP = frozenset(
    """that which who whom whose where when while because since so if but and or please
    than then although though unless until whether whereas""".split()
)
_PREPOSITIONS = frozenset(
    """for at on in with to from by about of into near around under over between during as
    without within via like after before onto upon across along towards toward against
    through per""".split()
)
_ARTICLES = frozenset("a an the some any".split())
_GERUND_BASES = {
    "finding": "find",
    "looking": "look",
    "booking": "book",
    "making": "make",
    "getting": "get",
    "searching": "search",
    "reserving": "reserve",
    "buying": "buy",
    "renting": "rent",
    "planning": "plan",
    "writing": "write",
    "choosing": "choose",
    "understanding": "understand",
    "learning": "learn",
    "creating": "create",
    "fixing": "fix",
    "building": "build",
    "checking": "check",
    "scheduling": "schedule",
}


def _base_from_gerund(word: str) -> str | None:
    """'finding' -> 'find', 'planning' -> 'plan', 'making' -> 'make'; None if not a verb
    known here."""
    if word in _GERUND_BASES:
        return _GERUND_BASES[word]
    if not word.endswith("ing") or len(word) < 6:
        return None
    stem = word[:-3]
    for base in (stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else ""):
        if base and base in _EN_VERBS:
            return base
    return None


# Token sequences that introduce the wanted action; what follows is a verb phrase.
_ACTION_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in sorted(
        """can you|could you|would you|will you|can u|could u|would you be able to
        |are you able to|is it possible to|is there a way to|is there any way to
        |would it be possible to|would you mind|please|kindly|help me to|help me|help us
        |assist me to|assist me with|assist me in|i want you to|i need you to
        |i'd like you to|i would like you to|i want to|i need to|i wish to|i would like to
        |i'd like to|i'm trying to|i am trying to|i have to|i'm looking to|i am looking to
        |i would love to|i'd love to|i plan to|i'm planning to|i am planning to|i hope to
        |i intend to|we want to|we need to|we would like to|we'd like to|i'm going to
        |i am going to|i'd love it if you could|i'd like for you to|let's|lets|i must
        |i need help|i need some help|i want help|help with|help in|tell me how to
        |show me how to|teach me how to|explain how to|how to|want to|need to
        |would like to|wish to""".replace("\n", " ").split("|"),
        key=lambda cue: -len(cue.split()),
    )
)
# Cues that may also start a later clause ("..., can you find", "... and want to find").
_INNER_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "can you",
        "could you",
        "would you",
        "will you",
        "please",
        "help me",
        "want to",
        "need to",
        "would like to",
        "wish to",
        "i want",
        "i need",
        "i would like",
        "i'd like",
    )
)
_FIND_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "i'm looking for",
        "i am looking for",
        "im looking for",
        "we're looking for",
        "we are looking for",
        "i'm searching for",
        "i am searching for",
        "looking for",
        "searching for",
    )
)
_INTEREST_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "i'm interested in",
        "i am interested in",
        "im interested in",
        "i'm interesting in",
        "i am interesting in",
        "we're interested in",
        "we are interested in",
    )
)
_WANT_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "i would like",
        "i'd like",
        "i want",
        "i need",
        "i wish",
        "we need",
        "we want",
        "i would love",
        "i'd love",
        "i require",
    )
)
_HOW_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "how do i",
        "how can i",
        "how should i",
        "how could i",
        "how would i",
        "how do we",
        "how can we",
        "how should we",
        "how do you",
        "how can you",
        "how does one",
        "how can one",
        "how would you",
        "how to",
        "what is the best way to",
        "what's the best way to",
        "what is a good way to",
        "what's a good way to",
        "what is the easiest way to",
        "what's the easiest way to",
    )
)
# Openings that ask the assistant to do something: "The user asks the assistant to ...".
_YOU_CUES: tuple[tuple[str, ...], ...] = tuple(
    tuple(cue.split())
    for cue in (
        "would you be able to",
        "could you please",
        "can you please",
        "would you please",
        "will you please",
        "are you able to",
        "can you",
        "could you",
        "would you",
        "will you",
        "can u",
        "could u",
        "please",
        "kindly",
    )
)
_FIRST_PERSON = {
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
    "im": "they're",
}
_PRONOUN = re.compile(
    r"\b(?:[Ii]['’](?:m|ve|d|ll)|[Ii] am|[Ii] was|[Ii](?!\.\w)|[Mm]e|[Mm]y|[Mm]ine|[Mm]yself)\b"
)
_PRONOUN_MAP = {
    "i'm": "they're",
    "i've": "they've",
    "i'd": "they'd",
    "i'll": "they'll",
    "i am": "they are",
    "i was": "they were",
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
}
_SUBJECT_ADVERBS = frozenset(
    "just really also recently currently usually always never often still already actually "
    "only sometimes once then now".split()
)
_IRREGULAR_3RD = {
    "am": "is",
    "have": "has",
    "do": "does",
    "go": "goes",
    "was": "was",
    "don't": "doesn't",
    "dont": "doesn't",
    "haven't": "hasn't",
    "havent": "hasn't",
    "wanna": "wants to",
    "gotta": "has to",
    "gonna": "is going to",
}
_BASE_ED = frozenset(
    "need feed bleed breed speed proceed succeed exceed seed heed shed wed embed".split()
)
_MODALS = frozenset("would could should will can must might may shall can't won't wouldn't".split())


def _third_person(text: str) -> str:
    """First-person singular pronouns of ``text`` in the third person (I -> they, my -> their)."""

    def swap(match: re.Match[str]) -> str:
        new = _PRONOUN_MAP[match.group(0).replace("’", "'").lower()]
        before = text[max(0, match.start() - 2) : match.start()]
        sentence_start = match.start() == 0 or (before[-1:] == " " and before[:1] in ".?!")
        return _capitalise(new) if sentence_start else new

    return _PRONOUN.sub(swap, text)


def _conjugate(verb: str) -> str:
    lower = verb.lower()
    if lower in _IRREGULAR_3RD:
        return _IRREGULAR_3RD[lower]
    if lower in _MODALS or lower.endswith(("n't", "ing")) or not lower.replace("'", "").isalpha():
        return verb
    if lower.endswith("ed") and lower not in _BASE_ED:
        return verb
    if lower in {
        "got",
        "went",
        "had",
        "made",
        "bought",
        "saw",
        "found",
        "took",
        "came",
        "thought",
        "heard",
        "read",
        "left",
        "lost",
        "felt",
        "knew",
        "said",
        "told",
    }:
        return verb
    if re.search(r"(?:s|sh|ch|x|z|o)$", lower):
        return verb + "es"
    if re.search(r"[^aeiou]y$", lower):
        return verb[:-1] + "ies"
    return verb + "s"


_AND_VERB = re.compile(
    r"(\band )(want|need|have|like|wish|plan|hope|love|prefer|intend|require|am|do|don't)\b"
)
_WANTS_YOU = re.compile(r"^((?:\w+ )?(?:wants|needs|would like|'d like|likes|wishes)) you to\b")


def _user_says(sentence: str) -> str | None:
    """'The user wants to ...' from a sentence that starts with 'I ...'; None otherwise."""
    match = re.match(r"^(?:I['’](m|ve|d|ll)|I)\b\s*(.*)$", sentence, re.DOTALL)
    if not match:
        return None
    contraction, rest = match.group(1), match.group(2)
    if contraction:
        body = {"m": "is", "ve": "has", "d": "would", "ll": "will"}[contraction] + " " + rest
    else:
        words = rest.split(" ")
        i = 0
        while i < len(words) - 1 and words[i].lower() in _SUBJECT_ADVERBS:
            i += 1
        if not words[i]:
            return None
        words[i] = _conjugate(words[i])
        body = " ".join(words)
    body = _AND_VERB.sub(lambda m: m.group(1) + _conjugate(m.group(2)), body, count=1)
    body = _WANTS_YOU.sub(r"\1 the assistant to", body, count=1)
    return "The user " + _strip_please(_third_person(body)).rstrip()


_TRAILING_PLEASE = re.compile(r"[,\s]+please(?=[\s.!?]*$)", re.IGNORECASE)


def _strip_please(text: str) -> str:
    return _TRAILING_PLEASE.sub("", text)


Token = tuple[str, str, bool]  # (as written, lower-case bare word, a clause ends after it)


def _tokens(sentence: str) -> list[Token]:
    """(token as written, lower-case bare word, a clause ends after it)."""
    out = []
    for raw in sentence.split():
        bare = raw.strip(".,!?;:\"'(){}…“”‘’")
        if not (bare.startswith("[") and bare.endswith("]")):  # keep "[EMAIL]" placeholders
            bare = bare.strip("[]")
        if not bare:
            continue
        ends = raw.rstrip("\"'”’)]}").endswith((",", ";", ":", ".", "?", "!", "…"))
        out.append((bare, bare.lower().replace("’", "'"), ends))
    return out


def _starts_with(lowers: list[str], cue: tuple[str, ...]) -> bool:
    return tuple(lowers[: len(cue)]) == cue


def _display(token: str, lower: str, first: bool) -> str:
    """The token as the user wrote it, first person in the third ("my" -> "their"); a
    sentence-initial common word in lower case."""
    if lower in _FIRST_PERSON:
        return _FIRST_PERSON[lower]
    if first and (lower in _EN_STOP or lower in _EN_VERBS or lower in _PREPOSITIONS):
        return lower
    return token


def _phrase(tokens: list[Token], verb: bool, max_words: int = 8) -> str | None:
    """The phrase at the start of ``tokens``: a verb (when ``verb``; its 'me'/'us' dropped)
    and its object, or a noun phrase, with at most one prepositional phrase; it ends at a
    clause boundary (punctuation, 'that', 'when', 'and', ...) or after ``max_words`` words
    (but not inside a run of capitalised words)."""
    out: list[str] = []
    prepositions = 0
    for i, (token, lower, ends) in enumerate(tokens):
        following = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        if (
            verb
            and i == 1
            and lower in {"me", "us"}
            and following not in _PREPOSITIONS
            and not ends
        ):
            continue  # "find me a bus" -> "find a bus"; "tell me about" keeps "them"
        if out and lower in _CLAUSE_STOP:
            break
        if out and lower in _PREPOSITIONS:
            # "directed by", "located in": part of the noun phrase, not a new phrase
            if not (out[-1].lower().endswith("ed") and lower in {"by", "in", "on", "at"}):
                prepositions += 1
            if prepositions > 1 or len(out) >= max_words - 1:
                break
        if len(out) >= max_words and not (token[:1].isupper() and out[-1][:1].isupper()):
            break
        out.append(_display(token, lower, first=(i == 0)))
        if ends and (len(out) > 1 or not verb):
            break
    while out and (out[-1].lower() in _PREPOSITIONS or out[-1].lower() in _ARTICLES):
        out.pop()
    return " ".join(out) if out else None


def _verb_phrase(tokens: list[Token]) -> str | None:
    return _phrase(tokens, verb=True)


def _noun_phrase(tokens: list[Token], articles: bool = False) -> str | None:
    """The noun phrase at the start of ``tokens``; its leading article is dropped unless
    ``articles``."""
    while not articles and tokens and tokens[0][1] in _ARTICLES:
        tokens = tokens[1:]
    return _phrase(tokens, verb=False)


def _as_base_verb(tokens: list[Token]) -> list[Token]:
    """'finding a bus' -> 'find a bus' (for a gerund of a verb known here)."""
    if tokens:
        base = _base_from_gerund(tokens[0][1])
        if base:
            return [(base, base, tokens[0][2]), *tokens[1:]]
    return tokens


def _key_phrases(tokens: list[Token], stop: frozenset[str], limit: int = 3) -> list[str]:
    """Runs of consecutive non-stop words (at most four words each), in order."""
    phrases: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            phrase = " ".join(run[:4])
            if phrase.lower() not in (p.lower() for p in phrases):
                phrases.append(phrase)
            run.clear()

    for i, (token, lower, ends) in enumerate(tokens):
        if lower in stop or lower in _FIRST_PERSON or len(lower) < 2 and not lower.isdigit():
            flush()
        else:
            run.append(_display(token, lower, first=(i == 0)) if stop is _EN_STOP else token)
            if ends:
                flush()
        if len(phrases) >= limit:
            break
    flush()
    # a single common verb is no key phrase ("invented", "play")
    phrases = [p for p in phrases if p.lower() not in _EN_VERBS]
    return phrases[:limit]


def _help_with(tokens: list[Token]) -> str | None:
    """'with finding a bus' -> 'find a bus'; 'with my SQL query' -> 'help with their SQL
    query'. ``tokens`` start with the preposition."""
    rest = tokens[1:]
    if not rest:
        return None
    if _base_from_gerund(rest[0][1]):
        return _verb_phrase(_as_base_verb(rest))
    phrase = _noun_phrase(rest)
    return f"help with {phrase}" if phrase else None


def _english_task(sentence: str) -> str | None:
    """The task phrase of one English sentence, or None."""
    tokens = _tokens(_DISCOURSE.sub("", sentence))
    return _task_from_tokens(tokens, question=sentence.rstrip().endswith("?"))


def _task_from_tokens(tokens: list[Token], question: bool, depth: int = 0) -> str | None:
    if not tokens or depth > 2:
        return None
    via_cue = False  # after a cue such as "can you" or "I want to", a verb phrase follows
    for _ in range(4):
        lowers = [t[1] for t in tokens]
        how = next((cue for cue in _HOW_CUES if _starts_with(lowers, cue)), None)
        if how:
            phrase = _verb_phrase(tokens[len(how) :])
            return f"how to {phrase}" if phrase else None
        find = next((cue for cue in _FIND_CUES if _starts_with(lowers, cue)), None)
        if find:
            phrase = _noun_phrase(tokens[len(find) :], articles=True)
            return f"find {phrase}" if phrase else None
        cue = next((cue for cue in _ACTION_CUES if _starts_with(lowers, cue)), None)
        if cue:
            tokens, via_cue = _as_base_verb(tokens[len(cue) :]), True
            if tokens and tokens[0][1] in {"with", "in", "on"} and cue[-1] in {"help", "me"}:
                return _help_with(tokens)
            continue
        interest = next((c for c in _INTEREST_CUES if _starts_with(lowers, c)), None)
        if interest:
            rest = tokens[len(interest) :]
            if rest and _base_from_gerund(rest[0][1]):
                return _verb_phrase(_as_base_verb(rest))
            return _noun_phrase(rest)
        want = next((c for c in _WANT_CUES if _starts_with(lowers, c)), None)
        if not want:
            break
        rest = tokens[len(want) :]
        rest_lowers = [t[1] for t in rest]
        if rest_lowers[:1] == ["to"]:
            tokens, via_cue = rest[1:], True
            continue
        # "I need (some) help / assistance (with|in|to) ..."
        if rest_lowers[:1] == ["some"] and rest_lowers[1:2] in (["help"], ["assistance"]):
            rest, rest_lowers = rest[1:], rest_lowers[1:]
        if rest_lowers[:1] in (["help"], ["assistance"], ["assistant"]):
            rest = rest[1:]
            if rest and rest[0][1] in {"with", "in", "on"}:
                return _help_with(rest)
            if rest and rest[0][1] == "to":
                rest = rest[1:]
            tokens, via_cue = _as_base_verb(rest), True
            continue
        return _noun_phrase(rest)  # "I need a one way flight" -> "one way flight"
    if not tokens:
        return None
    if via_cue or tokens[0][1] in _EN_VERBS:
        return _verb_phrase(tokens)
    if question or tokens[0][1] in _EN_QUESTION_START:
        phrases = _key_phrases(tokens, _EN_STOP)
        return f"answer a question about {', '.join(phrases)}" if phrases else None
    # an imperative or a request later in the sentence: "Given the code below, refactor it";
    # "There is a business tour for me, can you find a flight"; "... and want to find X"
    lowers = [t[1] for t in tokens]
    for i in range(1, len(tokens)):
        if not (tokens[i - 1][2] or lowers[i - 1] == "and"):  # not the start of a clause
            continue
        if tokens[i - 1][2] and lowers[i] in _EN_VERBS:
            return _verb_phrase(tokens[i:])
        if any(_starts_with(lowers[i:], cue) for cue in _INNER_CUES):
            return _task_from_tokens(tokens[i:], question, depth + 1)
    # "I feel like I want to ...", "I think I need to ...": a first-person request anywhere
    for i in range(1, len(tokens)):
        if lowers[i] == "i" and any(_starts_with(lowers[i:], cue) for cue in _WANT_CUES):
            return _task_from_tokens(tokens[i:], question, depth + 1)
    return None


# =============================================================================== summariser


class LocalSummariser:
    """Offline, deterministic, extractive summariser: no model, no network, no randomness.

    ``max_chars`` bounds the work per conversation: only the first ``max_chars`` characters of
    the transcript (all messages' text, in order) are read; a longer one is flagged
    ``truncated``. ``max_request_chars`` bounds ``request``; ``max_summary_chars`` bounds
    ``summary``.
    """

    name = "local"
    model = "kura-local-extractive"
    # Change whenever the extraction logic changes: stored summaries with another version
    # are recomputed.
    prompt_version = "local-v1"

    def __init__(
        self,
        max_chars: int = 20_000,
        max_request_chars: int = 200,
        max_summary_chars: int = 400,
    ) -> None:
        if max_chars < 1 or max_request_chars < 20 or max_summary_chars < 40:
            raise ValueError("max_chars >= 1, max_request_chars >= 20, max_summary_chars >= 40")
        self.max_chars = int(max_chars)
        self.max_request_chars = int(max_request_chars)
        self.max_summary_chars = int(max_summary_chars)

    # ------------------------------------------------------------------ public

    def summarise(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        conversation_id: str | None = None,
    ) -> SummaryRecord:
        """The record of one conversation. Never raises for bad content: a failure becomes a
        record with ``error`` set and the flag ``error``."""
        base = {
            "conversation_id": None if conversation_id is None else str(conversation_id),
            "summariser": self.name,
            "model": self.model,
            "prompt_version": self.prompt_version,
        }
        try:
            return SummaryRecord(**base, **self._summarise([Message.coerce(m) for m in messages]))
        except Exception as exc:  # one bad conversation never aborts a batch
            return SummaryRecord(
                **base, flags=["error"], error=f"{type(exc).__name__}: {exc}"[:1000]
            )

    def summarise_many(
        self,
        conversations: Iterable[tuple[Any, Iterable[Message | Mapping[str, Any]]]],
    ) -> list[SummaryRecord]:
        """Records for ``(conversation_id, messages)`` pairs, in order, one at a time."""
        return [self.summarise(messages, conversation_id=cid) for cid, messages in conversations]

    # ------------------------------------------------------------------ work

    def _summarise(self, messages: list[Message]) -> dict[str, Any]:
        flags: set[str] = set()
        total_chars = 0
        turn_count = user_turns = assistant_turns = user_chars = 0
        for message in messages:
            content = message.content
            if message.role not in ROLES:
                flags.add("unknown_role")
            if content and not content.isspace():
                turn_count += 1
                if message.role == "user":
                    user_turns += 1
                elif message.role == "assistant":
                    assistant_turns += 1
            if message.role == "user":
                user_chars += len(content)
            total_chars += len(content)
        if total_chars > self.max_chars:
            flags.add("truncated")
        if turn_count == 0:
            flags.add("empty")
        if user_turns == 0:
            flags.add("no_user_message")

        # What is read, at most max_chars characters in all: the users' messages in order
        # (they are what is summarised), then the other messages in order (only searched for
        # code) with what is left.
        budget = self.max_chars
        user_texts: list[str] = []
        for message in messages:
            if budget <= 0:
                break
            if message.role == "user" and message.content and not message.content.isspace():
                visible = message.content[:budget]
                budget -= len(visible)
                if not visible.isspace():
                    user_texts.append(visible)
        other_texts: list[str] = []
        for message in messages:
            if budget <= 0:
                break
            if message.role != "user" and message.content and not message.content.isspace():
                visible = message.content[:budget]
                budget -= len(visible)
                other_texts.append(visible)
        visible_all = user_texts + other_texts
        if any(_looks_like_injection(text) for text in user_texts):
            flags.add("possible_prompt_injection")

        programming = detect_programming_languages("\n".join(visible_all))
        result: dict[str, Any] = {
            "turn_count": turn_count,
            "user_turns": user_turns,
            "assistant_turns": assistant_turns,
            "user_chars": user_chars,
            "languages": programming,
        }
        if not user_texts:
            result["flags"] = _ordered(flags)
            return result

        human = _human_languages(
            [_CODE_FENCE_ANY.sub(" ", t) if "```" in t else t for t in user_texts]
        )
        if human and human[0] != "English":
            flags.add("non_english")
        result["languages"] = human + [p for p in programming if p not in human]

        redacted: list[str] = []
        for text in user_texts:
            clean, counts = redact_with_counts(text)
            if any(counts.values()):
                flags.add("contains_pii")
            redacted.append(clean)
        facets = self._facets(redacted, main_language=human[0] if human else None, flags=flags)
        result.update(facets)
        result["flags"] = _ordered(flags)
        return result

    def _facets(
        self, user_texts: list[str], main_language: str | None, flags: set[str]
    ) -> dict[str, Any]:
        cleaned = [_clean_message(text) for text in user_texts]
        substantive = [
            i
            for i, text in enumerate(cleaned)
            if text and not all(_is_pleasantry(s) for s in text.split("\n"))
        ]
        if not substantive:
            first = next((t for t in user_texts if t.strip()), "")
            plain = _SPACES.sub(" ", first.replace("\n", " ")).strip()
            if _CODE_FENCE_ANY.sub("", first).strip() == "" and plain:
                # the user sent only code
                request = "[code]"
                summary = "The user shares code without other text."
            else:
                flags.add("greeting_only")
                request = _shorten(plain, self.max_request_chars)
                summary = f"The user only writes: {request}"
            return {
                "request": redact(request),
                "summary": redact(_shorten(summary, self.max_summary_chars)),
                "task": None,
            }

        first_index = substantive[0]
        sentences = cleaned[first_index].split("\n")
        request = _select_request(sentences, self.max_request_chars)
        english = main_language in (None, "English")

        summary = _summary_sentence(request) if english else f"The user asks: {request}"
        summary = _end_sentence(summary)
        follow_up = self._follow_up(cleaned, substantive[1:], request, english)
        if follow_up:
            summary = f"{summary} Follow-up: {_end_sentence(follow_up)}"
        summary = _shorten(summary, self.max_summary_chars)

        task = None
        request_sentences = _split_sentences(request.rstrip("…"))
        if english:
            for sentence in request_sentences[:3]:
                task = _english_task(sentence)
                if task:
                    break
            if not task:
                phrases = _key_phrases(_tokens(" ".join(request_sentences)), _EN_STOP)
                task = ", ".join(phrases) if phrases else None
        elif main_language in _LATIN_STOPWORDS:
            # key phrases in the user's language; without a stop-word list (other scripts)
            # no honest phrase can be cut out, and the task stays None
            stop = _LATIN_STOPWORDS[main_language]
            phrases = _key_phrases(_tokens(" ".join(request_sentences)), stop)
            task = ", ".join(phrases) if phrases else None
        if task:
            task = _shorten(task, 100)
        return {
            "request": redact(request),
            "summary": redact(summary),
            "task": redact(task) if task else None,
        }

    def _follow_up(
        self, cleaned: list[str], indices: list[int], request: str, english: bool
    ) -> str | None:
        """The later user sentence, not a pleasantry, that brings the most words not already
        in the request (at least two), a question or request counting two more; the earliest
        wins a tie."""
        seen = {_stem(w) for w in _words(request) if w not in _EN_STOP}
        best: tuple[int, str] | None = None
        for i in indices:
            for sentence in cleaned[i].split("\n"):
                if _is_pleasantry(sentence):
                    continue
                sentence = _DISCOURSE.sub("", sentence) or sentence
                words = [w for w in _words(sentence) if w]
                new = {_stem(w) for w in words if w not in _EN_STOP} - seen
                new.discard("")
                if len(new) < 2:
                    continue
                score = len(new) + (2 if _is_request(sentence, words) else 0)
                if best is None or score > best[0]:
                    best = (score, sentence)
        if best is None:
            return None
        text = _capitalise(best[1])
        if english:
            text = _capitalise(_strip_please(_third_person(text)))
        return _shorten(text, 160)


def _is_request(sentence: str, words: list[str]) -> bool:
    """A question or a request: ends with '?', or opens with a question word, an imperative
    verb, or a cue such as 'can you', 'I want', 'I'm looking for'."""
    if sentence.rstrip().endswith("?") or not words:
        return bool(words)
    if words[0] in _EN_VERBS or words[0] in _EN_QUESTION_START:
        return True
    return any(
        _starts_with(words, cue) for cues in (_ACTION_CUES, _WANT_CUES, _FIND_CUES) for cue in cues
    )


def _stem(word: str) -> str:
    word = word.strip("'")
    for suffix in ("ies", "es", "s"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def _end_sentence(text: str) -> str:
    text = text.rstrip()
    if not text:
        return text
    return text if text[-1] in ".!?…:。！？" else text + "."


def _summary_sentence(request: str) -> str:
    """The request as a third-person sentence, built from its own words: "The user wants
    to ...", "The user asks the assistant to ...", or "The user asks: <question>"."""
    sentences = _split_sentences(request) or [request]
    first, rest = _DISCOURSE.sub("", sentences[0]) or sentences[0], sentences[1:]
    tail = (" " + _third_person(" ".join(rest))) if rest else ""
    says = _user_says(first)
    if says:
        return _end_sentence(says) + tail
    words = first.split()
    stripped = False
    for _ in range(3):  # "Please can you ...", "Could you please ..."
        lowers = [w.strip(",.!?;:").lower() for w in words]
        cue = next((c for c in _YOU_CUES if tuple(lowers[: len(c)]) == c), None)
        if cue is None or len(words) <= len(cue):
            break
        words, stripped = words[len(cue) :], True
    imperative = bool(words) and words[0].strip(",.!?;:").lower() in _EN_VERBS
    if stripped or (imperative and not first.rstrip().endswith("?")):
        body = _strip_please(_third_person(" ".join(words))).rstrip("?!.,; ")
        if body:
            return f"The user asks the assistant to {body[:1].lower() + body[1:]}." + tail
    return f"The user asks: {_third_person(request)}"


def _ordered(flags: set[str]) -> list[str]:
    known = [f for f in FLAGS if f in flags]
    return known + sorted(flags - set(FLAGS))
