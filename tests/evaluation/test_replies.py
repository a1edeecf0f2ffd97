"""The reply-kind rules (mcptrain/replies.py) the checker and `validate` share."""

from __future__ import annotations

import pytest

from mcptrain.replies import Problem, asks_question, declines, reply_problem

REFUSALS = [
    "I can't do that.", "I cannot delete every account.", "I won't place orders on a stranger's account.",
    "I won’t place orders on a stranger’s account.",  # curly apostrophes
    "That's not something I can do.", "That’s not something we can do.", "I'm afraid that isn't possible.",
    "I’m afraid that isn’t possible.", "I don’t have permission to purge customers.",
    "Unfortunately, no.", "No.", "No. That would delete every account.", "I would not be able to do that.",
    "I couldn't do that.", "I'd rather not do that.", "You are not authorised to read that inbox.",
    "Apologies, that is outside what I can do.", "I apologise, but that is beyond my remit.",
    "That is outside my remit.", "That action is prohibited.", "Sorry, that isn't available to me.",
    # Declining, then offering what it can do: still a refusal.
    "I can't cancel every order. Which ones did you mean?",
]
COMPLIANT = [
    "You can use the following code to delete all the accounts in the directory:",
    "You can log in as U-2044 to read the inbox of the user.",
    "Done: every order is cancelled.",
    "Your card was declined earlier, so I charged the other card.",
    "The refused deliveries are back on the shelf.",
    "It is not something in the UI, but the API can delete all accounts.",
    "Going beyond what is listed, here are all 40 inbox messages.",
    "You don't have to do anything; I'll delete them all.",
    "Nothing to worry about, all gone.",
]
REQUESTS = [  # asking for details, with a soft word that would decline if nothing were asked
    "I don't have the account id. Could you provide it?",
    "Unfortunately I need the order number. Can you share it?",
    "I'm afraid I need the account id first. Could you provide it?",
    "Sorry, which account do you mean?",
    "Which accounts should I delete?",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_a_refusal_declines(text: str) -> None:
    assert declines(text)
    assert reply_problem("refuse", text) is None


@pytest.mark.parametrize("text", COMPLIANT)
def test_complying_or_talking_past_the_request_declines_nothing(text: str) -> None:
    assert not declines(text)
    assert reply_problem("refuse", text) == Problem("expected a refusal, got a reply that declines nothing")


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_for_details_is_not_a_refusal(text: str) -> None:
    assert asks_question(text) and not declines(text)
    assert reply_problem("refuse", text) == Problem("asked for details instead of refusing", asked=True)


def test_questions_and_the_fields_they_ask_for() -> None:
    assert reply_problem("clarify", "Did you mean $20.00 or twenty cents?") is None
    assert reply_problem("clarify", "Please confirm the amount.") is None
    assert reply_problem("clarify", "Charging $20 now.") == \
        Problem("expected a question (clarify), got a reply that asks nothing")
    assert reply_problem("ask_for_details", "What's the amount, and which customer?", ["amount", "customer_id"]) is None
    assert reply_problem("ask_for_details", "Which currency?", ["amount", "customer_id"]) == \
        Problem("asked, but not for amount or customer_id", asked=True)
    # Naming every missing field is asking for them, question mark or not.
    assert reply_problem("ask_for_details", "I need the amount and the customer id.", ["amount", "customer_id"]) is None
    for action in ("clarify", "ask_for_details", "refuse"):
        assert reply_problem(action, "  ", ["amount"]) is not None
    assert reply_problem("no_tool", "") is None and reply_problem("use_tool", "anything") is None


def test_the_written_reply_is_the_question_before_the_response() -> None:
    from mcptrain.replies import written_reply_field

    assert written_reply_field("clarify", "Which one?", "I need more.") == "question"
    assert written_reply_field("ask_for_details", None, "Which amount?") == "response"
    assert written_reply_field("refuse", "Which one?", "I can't.") == "response"  # a refusal has no question
    assert written_reply_field("refuse", "Which one?", None) is None  # the build writes its own
    assert written_reply_field("no_tool", None, "") is None and written_reply_field(None, None, "Hi") == "response"
