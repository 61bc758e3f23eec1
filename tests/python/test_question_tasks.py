"""A question's task is the question reported ("explain why kombucha has bubbles"), not its key
phrases ("answer a question about kombucha, bubbles"): issue 20, item 4 (`task` is a verb
phrase; "about 6 of 15 task phrases are keyword mush"). Real spaCy parse, real summariser."""

from __future__ import annotations

import pytest

from kura_dbt.summaries.local import LocalSummariser
from kura_dbt.summaries.questions import question_task

pytest.importorskip("presidio_analyzer")


@pytest.mark.parametrize(
    "question, task",
    [
        # do goes, its tense moves to the verb
        ("Why does kombucha have bubbles?", "explain why kombucha has bubbles"),
        ("Why did Rome fall?", "explain why Rome fell"),
        (
            "When did the nuclear disaster at Chernobyl happen?",
            "ask when the nuclear disaster at Chernobyl happened",
        ),
        # be, modals and passives go after the subject
        ("What is a meme, and what's the history behind this word?", "ask what a meme is"),
        ("When was google created?", "ask when google was created"),
        (
            "What should a programmer learn other than a programming language?",
            "ask what a programmer should learn other than a programming language",
        ),
        ("Why isn't my transfer showing?", "explain why their transfer is not showing"),
        # yes/no questions
        (
            "Can a large language model generate prompts?",
            "ask whether a large language model can generate prompts",
        ),
        ("Is it possible to change my PIN?", "ask whether it is possible to change their PIN"),
        (
            "Do you think Google's LaMDA AI is sentient?",
            "ask whether Google's LaMDA AI is sentient",
        ),
        ("Do you know where the nearest ATM is?", "ask where the nearest ATM is"),
        ("Am I eligible for a refund?", "ask whether they are eligible for a refund"),
        # already in a reported question's order
        ("Who invented the honeycomb?", "ask who invented the honeycomb"),
        ("How many people live in Paris?", "ask how many people live in Paris"),
        (
            "Do higher marginal tax rates generally reduce the incentive to work?",
            "ask whether higher marginal tax rates generally reduce the incentive to work",
        ),
        ("What is self-attention in transformers?", "ask what self-attention is in transformers"),
        # you are the assistant, I the user
        ("What can you do?", "ask what the assistant can do"),
        ("Who are you?", "ask who the assistant is"),
        ("What do you think about cats?", "ask what the assistant thinks about cats"),
        (
            "How much do you charge to accept transfers",
            "ask how much the assistant charges to accept transfers",
        ),
        # the parse takes the verb for a noun
        ("How does an LLM work?", "explain how an LLM works"),
    ],
)
def test_a_question_is_reported(question, task):
    assert question_task(question) == task


@pytest.mark.parametrize(
    "text",
    [
        "Why?",  # nothing to report
        "When adding money, what are the currencies you take?",  # a clause first
        "The conversion value is incorrect.",  # no question
        "When I got cash I believe that the exchange rate was wrong",  # no question either
    ],
)
def test_what_is_not_read_as_a_question_gives_none(text):
    assert question_task(text) is None


def test_the_summariser_reports_questions_and_keeps_key_phrases_for_the_rest():
    summariser = LocalSummariser()

    def task(text: str) -> str | None:
        return summariser.summarise([{"role": "user", "content": text}]).task

    assert task("Why does kombucha have bubbles?") == "explain why kombucha has bubbles"
    # a question the parse cannot report keeps its key phrases
    assert task("How many days until christmas?") == "answer a question about days, christmas"
    # requests and how-to questions are read as before
    assert task("How do I reset my password?") == "how to reset their password"
    assert task("Write a limerick about cats.") == "write a limerick about cats"


def test_a_parse_that_fails_keeps_the_key_phrases_and_the_summary(monkeypatch):
    import kura_dbt.summaries.questions as questions

    def broken(tokens, asked=True):
        raise IndexError("an odd parse")

    monkeypatch.setattr(questions, "_reported", broken)
    text = "Why do zebras have stripes at all?"
    assert question_task(text) is None
    record = LocalSummariser().summarise([{"role": "user", "content": text}])
    assert record.error is None and record.summary
    assert record.task == "answer a question about zebras, stripes"
