"""Real corpus bots hold the conversations their rules, stories and forms cover.

Each bot folder is copied to a temporary folder with an actions.py of small stand-ins
(tests/corpus/standin_actions.py) in place of its custom actions and without an action server,
loaded with ``load_agent`` and talked to turn by turn through ``Agent.handle``. Messages are
``/intent{...}`` payloads or texts from the bot's own NLU examples (no NLU model yet).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from chinwag.core.agent import Agent, UserMessage, load_agent
from chinwag.core.data.loader import load_bot
from chinwag.core.data.training import ActionStep, LoopStep, OrStep, SlotStep, Story, UserStep
from chinwag.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
from chinwag.core.nlu.interpreter import ExampleInterpreter
from chinwag.core.tracker import ACTION_LISTEN_NAME
from tests.corpus.standin_actions import STANDINS, actions_source

pytestmark = pytest.mark.corpus

BOTS = tuple(STANDINS)
NOW = 1_700_000_000.0


def copy_bot(corpus_dir: Path, bot: str, target: Path, endpoints: str = "") -> Path:
    """The bot in ``target`` with the stand-in actions.py and the given endpoints.yml."""
    folder = target / bot
    shutil.copytree(corpus_dir / bot, folder)
    (folder / "endpoints.yml").write_text(endpoints)
    (folder / "actions.py").write_text(actions_source(bot))
    return folder


@pytest.fixture(scope="module")
def trained(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Agent]:
    """Each bot loaded and trained once; tests talk to fresh agents sharing its parts."""
    root = tmp_path_factory.mktemp("dialogue-bots")
    return {bot: load_agent(copy_bot(corpus_dir, bot, root)) for bot in BOTS}


def fresh(agent: Agent) -> Agent:
    """A new agent (empty store, own locks, fixed clock and seed) with a trained bot's parts."""
    return Agent(
        agent.domain,
        agent.policies,
        agent.interpreter,
        agent.registry,
        fallback=agent.fallback,
        clock=lambda: NOW,
        rng=random.Random(0),
    )


class Turn:
    """One user message, the actions the bot ran for it (``!name``: the action rejected;
    ``action_listen`` left out) and the texts it said (``utter_x``: that response's text)."""

    def __init__(self, message: str, actions: str, *says: str) -> None:
        self.message = message
        self.actions = actions.split()
        self.says = says


async def run_turn(agent: Agent, sender: str, message: str) -> tuple[list[str], list[str]]:
    """Send ``message``; the actions run after it and the texts of the responses."""
    responses = await agent.handle(UserMessage(message, sender, input_channel="rest"))
    events = (await agent.load_tracker(sender)).events
    start = max(i for i, e in enumerate(events) if isinstance(e, UserUttered))
    actions = [
        f"!{e.action_name}" if isinstance(e, ActionExecutionRejected) else str(e.action_name)
        for e in events[start + 1 :]
        if isinstance(e, ActionExecuted | ActionExecutionRejected)
        and e.action_name != ACTION_LISTEN_NAME
    ]
    return actions, [str(r.get("text")) for r in responses]


def expected_text(agent: Agent, said: str) -> str:
    """``said`` itself, or the (only) text of the domain response it names."""
    if said.startswith("utter_") and said in agent.domain.responses:
        variations = agent.domain.responses[said]
        assert len(variations) == 1, said
        return str(variations[0]["text"])
    return said


async def hold(agent: Agent, sender: str, turns: list[Turn]) -> None:
    for number, turn in enumerate(turns, 1):
        actions, texts = await run_turn(agent, sender, turn.message)
        where = f"turn {number} ({turn.message!r})"
        assert actions == turn.actions, where
        assert texts == [expected_text(agent, s) for s in turn.says], where


# -- the conversations ----------------------------------------------------------------------

FORMBOT_SUMMARY = (
    "I am going to run a restaurant search using the following parameters:\n"
    " - cuisine: thai\n - num_people: 4\n - outdoor_seating: True\n"
    " - preferences: no additional preferences\n - feedback: great"
)
FORM_START = "utter_ask_cuisine"

CONVERSATIONS: dict[str, dict[str, list[Turn]]] = {
    "rasa-rules": {
        "greet only at conversation start": [
            Turn("/greet", "utter_greet", "utter_greet"),
            Turn("/greet", "action_default_fallback", "utter_default"),
        ],
        "greet by text": [Turn("hello there", "utter_greet", "utter_greet")],
        "q form happy path": [
            Turn("/activate_q_form", "loop_q_form", "utter_ask_some_slot"),
            Turn('/inform{"some_slot": "x"}', "loop_q_form utter_stop", "utter_stop"),
        ],
        "q form explain then answer": [
            Turn("/activate_q_form", "loop_q_form", "utter_ask_some_slot"),
            Turn(
                "/explain",
                "!loop_q_form utter_explain_some_slot loop_q_form",
                "utter_explain_some_slot",
                "utter_ask_some_slot",
            ),
            Turn('/inform{"some_slot": "x"}', "loop_q_form utter_stop", "utter_stop"),
        ],
        "faq question": [
            Turn("/ask_possibilities", "utter_list_possibilities", "utter_list_possibilities")
        ],
        "faq without the detailed_faq slot has no rule": [
            Turn("/faq", "action_default_fallback", "utter_default")
        ],
        "faq simple": [Turn('/faq{"detailed_faq": false}', "utter_faq", "utter_faq")],
        "faq detailed helped": [
            Turn(
                '/faq{"detailed_faq": true}',
                "utter_faq utter_ask_did_help",
                "utter_faq",
                "utter_ask_did_help",
            ),
            Turn("/affirm", "utter_continue", "utter_continue"),
        ],
        "faq detailed did not help, user stops": [
            Turn(
                '/faq{"detailed_faq": true}',
                "utter_faq utter_ask_did_help",
                "utter_faq",
                "utter_ask_did_help",
            ),
            Turn(
                "/deny",
                "utter_detailed_faq utter_ask_did_help",
                "utter_detailed_faq",
                "utter_ask_did_help",
            ),
            Turn("/deny", "utter_ask_stop", "utter_ask_stop"),
            Turn("/affirm", "utter_stop", "utter_stop"),
        ],
        "faq detailed did not help, user continues": [
            Turn(
                '/faq{"detailed_faq": true}',
                "utter_faq utter_ask_did_help",
                "utter_faq",
                "utter_ask_did_help",
            ),
            Turn(
                "/deny",
                "utter_detailed_faq utter_ask_did_help",
                "utter_detailed_faq",
                "utter_ask_did_help",
            ),
            Turn("/deny", "utter_ask_stop", "utter_ask_stop"),
            Turn("/deny", "utter_continue", "utter_continue"),
        ],
    },
    "rasa-formbot": {
        "greet, fill the form with payloads, thank": [
            Turn("/greet", "utter_greet", "utter_greet"),
            Turn("/request_restaurant", "restaurant_form", FORM_START),
            Turn('/inform{"cuisine": "thai"}', "restaurant_form", "utter_ask_num_people"),
            Turn('/inform{"number": 4}', "restaurant_form", "utter_ask_outdoor_seating"),
            Turn("/affirm", "restaurant_form", "utter_ask_preferences"),
            Turn("/deny", "restaurant_form", "utter_ask_feedback"),
            Turn(
                '/inform{"feedback": "great"}',
                "restaurant_form utter_submit utter_slots_values",
                "utter_submit",
                FORMBOT_SUMMARY,
            ),
            Turn("/thankyou", "utter_noworries", "utter_noworries"),
        ],
        "fill the form with the bot's own sentences": [
            Turn("im looking for a restaurant", "restaurant_form", FORM_START),
            Turn("afghan food", "restaurant_form", "utter_ask_num_people"),
            Turn('/inform{"number": 2}', "restaurant_form", "utter_ask_outdoor_seating"),
            Turn("I prefer sitting outside", "restaurant_form", "utter_ask_preferences"),
            Turn("by the window", "restaurant_form", "utter_ask_feedback"),
            Turn(
                "thanks",
                "restaurant_form utter_submit utter_slots_values",
                "utter_submit",
                "I am going to run a restaurant search using the following parameters:\n"
                " - cuisine: afghan\n - num_people: 2\n - outdoor_seating: outside\n"
                " - preferences: by the window\n - feedback: thanks",
            ),
        ],
        "activation message pre-fills slots": [
            Turn(
                '/request_restaurant{"cuisine": "thai", "number": 2}',
                "restaurant_form",
                "utter_ask_outdoor_seating",
            ),
        ],
        "chitchat inside the form": [
            Turn("/request_restaurant", "restaurant_form", FORM_START),
            Turn(
                "/chitchat",
                "!restaurant_form utter_chitchat restaurant_form",
                "utter_chitchat",
                FORM_START,
            ),
            Turn('/inform{"cuisine": "thai"}', "restaurant_form", "utter_ask_num_people"),
        ],
        "bot challenge inside the form": [
            Turn("/request_restaurant", "restaurant_form", FORM_START),
            Turn(
                "are you a bot?",
                "!restaurant_form utter_iamabot restaurant_form",
                "utter_iamabot",
                FORM_START,
            ),
        ],
        "stop, then continue": [
            Turn("/request_restaurant", "restaurant_form", FORM_START),
            Turn("/stop", "!restaurant_form utter_ask_continue", "utter_ask_continue"),
            Turn("/affirm", "restaurant_form", FORM_START),
            Turn('/inform{"cuisine": "thai"}', "restaurant_form", "utter_ask_num_people"),
        ],
        "stop, then stop": [
            Turn("/request_restaurant", "restaurant_form", FORM_START),
            Turn("stop", "!restaurant_form utter_ask_continue", "utter_ask_continue"),
            Turn("/deny", "action_deactivate_loop"),
            Turn("/greet", "utter_greet", "utter_greet"),
        ],
        "rules outside the form": [
            Turn("/bot_challenge", "utter_iamabot", "utter_iamabot"),
            Turn("/chitchat", "utter_chitchat", "utter_chitchat"),
            Turn("thank you", "utter_noworries", "utter_noworries"),
        ],
    },
    "helpdesk-assistant": {
        "greet, open an incident, confirm": [
            Turn("/greet", "utter_greet utter_help", "utter_greet", "utter_help"),
            Turn("/open_incident", "open_incident_form", "utter_ask_email"),
            Turn('/inform{"email": "a@b.com"}', "open_incident_form", "utter_ask_priority"),
            Turn(
                '/inform{"priority": "high"}', "open_incident_form", "utter_ask_problem_description"
            ),
            Turn("my laptop is broken", "open_incident_form", "utter_ask_incident_title"),
            Turn(
                "laptop broken",
                "open_incident_form",
                "Should I open an incident with the following details? \n    email: a@b.com"
                " \n    problem description: my laptop is broken \n    title: laptop broken"
                " \n    priority: high",
            ),
            Turn(
                "/affirm",
                "open_incident_form action_open_incident",
                "Opened incident 'laptop broken' (high priority).",
            ),
            Turn("/thank", "utter_welcome", "utter_welcome"),
        ],
        "password reset titles the incident; bad priority asked again; cancel": [
            Turn("/password_reset", "open_incident_form", "utter_ask_email"),
            Turn('/inform{"email": "a@b.com"}', "open_incident_form", "utter_ask_priority"),
            Turn(
                '/inform{"priority": "urgent"}',
                "open_incident_form",
                'Sorry "urgent" is not a valid priority. Please try again.',
                "utter_ask_priority",
            ),
            Turn(
                '/inform{"priority": "low"}', "open_incident_form", "utter_ask_problem_description"
            ),
            Turn(
                "cannot log in",
                "open_incident_form",
                "Should I open an incident with the following details? \n    email: a@b.com"
                " \n    problem description: cannot log in \n    title: Problem resetting"
                " password \n    priority: low",
            ),
            Turn(
                "/deny",
                "open_incident_form action_open_incident",
                "utter_incident_creation_canceled",
            ),
        ],
        "help inside the incident form": [
            Turn("/problem_email", "open_incident_form", "utter_ask_email"),
            Turn(
                "/help",
                "!open_incident_form utter_help open_incident_form",
                "utter_help",
                "utter_ask_email",
            ),
            Turn('/inform{"email": "a@b.com"}', "open_incident_form", "utter_ask_priority"),
        ],
        "incident status": [
            Turn("/incident_status", "incident_status_form", "utter_ask_email"),
            Turn(
                '/inform{"email": "a@b.com"}',
                "incident_status_form action_check_incident_status",
                "No open incidents for a@b.com.",
            ),
            Turn("/goodbye", "utter_goodbye", "utter_goodbye"),
        ],
        "out of scope inside the status form": [
            Turn("/incident_status", "incident_status_form", "utter_ask_email"),
            Turn(
                "/out_of_scope",
                "!incident_status_form utter_out_of_scope incident_status_form",
                "utter_out_of_scope",
                "utter_ask_email",
            ),
            Turn(
                '/inform{"email": "a@b.com"}',
                "incident_status_form action_check_incident_status",
                "No open incidents for a@b.com.",
            ),
        ],
        "status form switches to open incident": [
            Turn("/incident_status", "incident_status_form", "utter_ask_email"),
            Turn("/open_incident", "!incident_status_form open_incident_form", "utter_ask_email"),
            Turn('/inform{"email": "a@b.com"}', "open_incident_form", "utter_ask_priority"),
        ],
        "incident form switches to status": [
            Turn("/open_incident", "open_incident_form", "utter_ask_email"),
            Turn("/incident_status", "!open_incident_form incident_status_form", "utter_ask_email"),
            Turn(
                '/inform{"email": "a@b.com"}',
                "incident_status_form action_check_incident_status",
                "No open incidents for a@b.com.",
            ),
        ],
        "handoff": [
            Turn(
                "/human_handoff",
                "utter_ask_handoff action_handoff_options",
                "utter_ask_handoff",
                "Here are the bots that I can hand you off to:",
            ),
            Turn(
                '/trigger_handoff{"handoff_to": "expert"}',
                "action_handoff",
                "utter_handoff",
                "If you were talking to me via chatroom, I would have handed you off to expert.",
            ),
        ],
        "handoff denied": [
            Turn(
                "/human_handoff",
                "utter_ask_handoff action_handoff_options",
                "utter_ask_handoff",
                "Here are the bots that I can hand you off to:",
            ),
            Turn("/deny", "utter_ask_whatelse", "utter_ask_whatelse"),
        ],
        "text the bot does not know": [Turn("asdf qwerty", "utter_default", "utter_default")],
    },
    "financial-demo": {
        "greet, pay a credit card, confirm": [
            Turn("/greet", "utter_greet utter_help", "utter_greet", "utter_help"),
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                '/inform{"credit_card": "emblem"}',
                "cc_payment_form",
                "utter_ask_cc_payment_form_amount-of-money",
            ),
            Turn(
                '/inform{"amount-of-money": 500}',
                "cc_payment_form",
                "utter_ask_cc_payment_form_time",
            ),
            Turn(
                "tomorrow",
                "cc_payment_form",
                "Would you like to schedule a payment of $500 towards your emblem account for"
                " tomorrow?",
            ),
            Turn(
                "/affirm",
                "cc_payment_form action_pay_cc",
                "Payment of $500 towards your emblem account scheduled to be paid at tomorrow.",
            ),
            Turn("/thankyou", "utter_noworries", "utter_noworries"),
        ],
        "credit card payment cancelled": [
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                '/inform{"credit_card": "emblem"}',
                "cc_payment_form",
                "utter_ask_cc_payment_form_amount-of-money",
            ),
            Turn(
                '/inform{"amount-of-money": 500}',
                "cc_payment_form",
                "utter_ask_cc_payment_form_time",
            ),
            Turn(
                "tomorrow",
                "cc_payment_form",
                "Would you like to schedule a payment of $500 towards your emblem account for"
                " tomorrow?",
            ),
            Turn("/deny", "cc_payment_form action_pay_cc", "utter_cc_pay_cancelled"),
        ],
        "transfer money": [
            Turn("/transfer_money", "transfer_money_form", "utter_ask_transfer_money_form_PERSON"),
            Turn(
                '/inform{"PERSON": "Jane"}',
                "transfer_money_form",
                "utter_ask_transfer_money_form_amount-of-money",
            ),
            Turn(
                '/inform{"amount-of-money": 50}',
                "transfer_money_form",
                "Would you like to transfer $50 to Jane?",
            ),
            Turn(
                "/affirm",
                "transfer_money_form action_transfer_money",
                "Successfully transferred $50 to Jane.",
            ),
        ],
        "search spending": [
            Turn(
                "/search_transactions",
                "transaction_search_form",
                "utter_ask_transaction_search_form_time",
            ),
            Turn(
                '/inform{"time": "last month"}',  # dates need Duckling or a trained NLU
                "transaction_search_form",
                "Would you like to search spend transactions for last month?",
            ),
            Turn(
                "/affirm",
                "transaction_search_form action_transaction_search",
                "I found 2 transactions totalling $42.",
            ),
        ],
        "search earnings": [
            Turn(
                "/check_earnings",
                "transaction_search_form",
                "utter_ask_transaction_search_form_time",
            ),
            Turn(
                '/inform{"time": "last month"}',  # dates need Duckling or a trained NLU
                "transaction_search_form",
                "Would you like to search deposit transactions for last month?",
            ),
            Turn(
                "/affirm",
                "transaction_search_form action_transaction_search",
                "I found 2 deposits made to your account totalling $42",
            ),
        ],
        "help inside a form": [
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                "/help",
                "!cc_payment_form utter_help cc_payment_form",
                "utter_help",
                "utter_ask_cc_payment_form_credit_card",
            ),
        ],
        "switching from credit card to transfer, denied": [
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                "/transfer_money",
                "!cc_payment_form action_switch_forms_ask",
                "You are in cc_payment_form. Switch to transfer_money_form?",
            ),
            Turn(
                "/deny",
                "action_switch_forms_deny cc_payment_form",
                "Ok, let's continue with cc_payment_form.",
                "utter_ask_cc_payment_form_credit_card",
            ),
            Turn(
                '/inform{"credit_card": "emblem"}',
                "cc_payment_form",
                "utter_ask_cc_payment_form_amount-of-money",
            ),
        ],
        "switching from transfer to credit card, denied": [
            Turn("/transfer_money", "transfer_money_form", "utter_ask_transfer_money_form_PERSON"),
            Turn(
                "/pay_cc",
                "!transfer_money_form action_switch_forms_ask",
                "You are in transfer_money_form. Switch to cc_payment_form?",
            ),
            Turn(
                "/deny",
                "action_switch_forms_deny transfer_money_form",
                "Ok, let's continue with transfer_money_form.",
                "utter_ask_transfer_money_form_PERSON",
            ),
        ],
        "switching from search to transfer, denied": [
            Turn(
                "/search_transactions",
                "transaction_search_form",
                "utter_ask_transaction_search_form_time",
            ),
            Turn(
                "/transfer_money",
                "!transaction_search_form action_switch_forms_ask",
                "You are in transaction_search_form. Switch to transfer_money_form?",
            ),
            Turn(
                "/deny",
                "action_switch_forms_deny transaction_search_form",
                "Ok, let's continue with transaction_search_form.",
                "utter_ask_transaction_search_form_time",
            ),
        ],
        "switch to transfer and do not go back": [
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                "/transfer_money",
                "!cc_payment_form action_switch_forms_ask",
                "You are in cc_payment_form. Switch to transfer_money_form?",
            ),
            Turn(
                "/affirm",
                "action_switch_forms_affirm transfer_money_form",
                "Switching to transfer_money_form.",
                "utter_ask_transfer_money_form_PERSON",
            ),
            Turn(
                '/inform{"PERSON": "Jane"}',
                "transfer_money_form",
                "utter_ask_transfer_money_form_amount-of-money",
            ),
            Turn(
                '/inform{"amount-of-money": 50}',
                "transfer_money_form",
                "Would you like to transfer $50 to Jane?",
            ),
            Turn(
                "/affirm",
                "transfer_money_form action_transfer_money action_switch_back_ask",
                "Successfully transferred $50 to Jane.",
                "Would you like to go back to cc_payment_form?",
            ),
            Turn("/deny", "utter_ask_whatelse", "utter_ask_whatelse"),
        ],
        "switch to search and go back": [
            Turn("/pay_cc", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
            Turn(
                "/search_transactions",
                "!cc_payment_form action_switch_forms_ask",
                "You are in cc_payment_form. Switch to transaction_search_form?",
            ),
            # the form starts on "affirm": search_type's from_trigger_intent does not apply
            Turn(
                "/affirm",
                "action_switch_forms_affirm transaction_search_form",
                "Switching to transaction_search_form.",
                "utter_ask_transaction_search_form_search_type",
            ),
            Turn(
                '/inform{"search_type": "spend"}',
                "transaction_search_form",
                "utter_ask_transaction_search_form_time",
            ),
            Turn(
                '/inform{"time": "last month"}',  # dates need Duckling or a trained NLU
                "transaction_search_form",
                "Would you like to search spend transactions for last month?",
            ),
            Turn(
                "/affirm",
                "transaction_search_form action_transaction_search action_switch_back_ask",
                "I found 2 transactions totalling $42.",
                "Would you like to go back to cc_payment_form?",
            ),
            Turn("/affirm", "cc_payment_form", "utter_ask_cc_payment_form_credit_card"),
        ],
        "handoff": [
            Turn(
                "/human_handoff",
                "utter_ask_handoff action_handoff_options",
                "utter_ask_handoff",
                "Here are the bots that I can hand you off to:",
            ),
            Turn(
                '/trigger_handoff{"handoff_to": "helpdesk"}',
                "action_handoff",
                "utter_handoff",
                "If you were talking to me via chatroom, I would have handed you off to helpdesk.",
            ),
        ],
        "handoff denied": [
            Turn(
                "/human_handoff",
                "utter_ask_handoff action_handoff_options",
                "utter_ask_handoff",
                "Here are the bots that I can hand you off to:",
            ),
            Turn("/deny", "utter_ask_whatelse", "utter_ask_whatelse"),
        ],
        "balance, then ok": [
            Turn("/check_balance", "action_show_balance", "Your bank account balance is $1000."),
            Turn("/affirm", "utter_ok", "utter_ok"),
        ],
        "recipients, then ok": [
            Turn(
                "/check_recipients",
                "action_show_recipients",
                "These are your known recpients to whom you can send money: Jane, Ali",
            ),
            Turn("/affirm", "utter_ok", "utter_ok"),
        ],
    },
}

CASES = [
    pytest.param(bot, name, id=f"{bot}: {name}")
    for bot, conversations in CONVERSATIONS.items()
    for name in conversations
]


@pytest.mark.parametrize(("bot", "name"), CASES)
async def test_conversation(trained: dict[str, Agent], bot: str, name: str) -> None:
    await hold(fresh(trained[bot]), "user", CONVERSATIONS[bot][name])


# -- every rule a fresh conversation can reach ----------------------------------------------

SKIPPED_RULES: dict[str, dict[str, str]] = {
    "rasa-rules": {
        "Example of an unhappy path for the 'loop_q_form'": "needs the active form: see "
        "'q form explain then answer'",
        "Submit form": "starts with the form's action: see 'q form happy path'",
        "FAQ simple": "needs detailed_faq set: see 'faq simple'",
        "FAQ detailed": "needs detailed_faq set: see 'faq detailed helped'",
        "FAQ helped - continue": "starts with a bot action: see 'faq detailed helped'",
        "FAQ did not help": "starts with a bot action: see 'faq detailed did not help...'",
        "Detailed FAQ did not help": "starts with a bot action: see 'faq detailed ...'",
        "User decides to stop": "starts with a bot action: see '... user stops'",
        "User decides to continue": "starts with a bot action: see '... user continues'",
    },
    "rasa-formbot": {
        "submit form": "starts with the form's action: see 'greet, fill the form ...'",
    },
    "helpdesk-assistant": {
        "submit open incident form": "needs the active form: see 'greet, open an incident ...'",
        "submit incident status form": "needs the active form: see 'incident status'",
    },
    "financial-demo": {
        "Submit cc_payment_form while not switched from previous form": "needs the active "
        "form: see 'greet, pay a credit card, confirm'",
        "Submit transfer_money_form while not switched from previous form": "needs the "
        "active form: see 'transfer money'",
        "Submit transaction_search_form while not switched from previous form": "needs the "
        "active form: see 'search spending'",
        "Execute handoff": "starts with a bot action: see 'handoff'",
        "Deny handoff": "starts with a bot action: see 'handoff denied'",
    },
}


def fresh_conditions(rule: Story) -> bool:
    """A fresh conversation has no active loop and no slot set."""
    for step in rule.condition:
        if isinstance(step, LoopStep) and step.name is not None:
            return False
        if isinstance(step, SlotStep) and any(v is not None for v in step.slots.values()):
            return False
    return True


def reachable(rule: Story) -> tuple[list[str], list[str]] | None:
    """The intents that start ``rule`` and the actions it answers them with, when a fresh
    conversation can follow it; otherwise None."""
    if not rule.steps or not fresh_conditions(rule):
        return None
    first, rest = rule.steps[0], rule.steps[1:]
    starts = first.alternatives if isinstance(first, OrStep) else [first]
    if not all(isinstance(s, UserStep) and s.intent for s in starts):
        return None
    intents = [s.intent for s in starts if isinstance(s, UserStep) and s.intent]
    actions: list[str] = []
    for step in rest:
        if isinstance(step, UserStep | OrStep):
            break
        if isinstance(step, ActionStep) and step.name:
            actions.append(step.name)
    return intents, actions


@pytest.mark.parametrize("bot", BOTS)
async def test_every_reachable_rule_holds(
    corpus_dir: Path, trained: dict[str, Agent], bot: str
) -> None:
    rules = load_bot(corpus_dir / bot).rules
    names = [rule.name for rule in rules]
    assert len(set(names)) == len(names)
    unreachable = {rule.name for rule in rules if reachable(rule) is None}
    assert unreachable == set(SKIPPED_RULES[bot])
    assert len(rules) > len(unreachable)
    for rule in rules:
        found = reachable(rule)
        if found is None:
            continue
        intents, expected = found
        for intent in intents:
            actions, _ = await run_turn(fresh(trained[bot]), "user", f"/{intent}")
            assert actions == expected, f"{bot}: rule {rule.name!r} on /{intent}"


# -- product bugs ---------------------------------------------------------------------------


async def test_declared_responses_are_not_sent_to_the_action_server(
    corpus_dir: Path, tmp_path: Path
) -> None:
    # rasa-rules lists utter_greet under `actions` and has an action server in endpoints.yml
    folder = copy_bot(
        corpus_dir, "rasa-rules", tmp_path, "action_endpoint:\n  url: http://127.0.0.1:9/webhook\n"
    )
    agent = fresh(load_agent(folder))
    await hold(agent, "user", [Turn("/greet", "utter_greet", "utter_greet")])


async def test_examples_of_only_entities_match_only_known_values(corpus_dir: Path) -> None:
    interpreter = ExampleInterpreter(load_bot(corpus_dir / "financial-demo").nlu)
    parsed = await interpreter.parse("last month")
    assert [e["entity"] for e in parsed["entities"]] == []
