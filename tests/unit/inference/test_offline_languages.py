"""The language a turn is answered in: its own message's when it says enough, else the conversation's."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from domain.conversation_events import InferenceDecided
from domain.types import AgentRole
from inference.config import build_gateway, gateway_config_from_env
from inference.gateway import GatewayCall
from inference.offline_lexicon import Language, language_of_turn, read_request
from inference.provider import ChatMessage
from inference.schemas import OrchestratorPlan

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
FRENCH = "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack"
ARABIC = "كل صباح، أرسل لي مجموع طلبات Shopify ليوم أمس على Slack"
ENGLISH = "Every morning, send me the total of yesterday's Shopify orders"


async def plan_language(*turns: tuple[str, str]) -> str | None:
    gateway = build_gateway(gateway_config_from_env({}))
    call = GatewayCall(
        inference_id="inf-1",
        purpose=AgentRole.ORCHESTRATOR,
        messages=tuple(ChatMessage(role=role, content=text) for role, text in turns),  # type: ignore[arg-type]
        now=NOW,
    )
    event = (await gateway.infer(call)).event
    await gateway.aclose()
    assert isinstance(event, InferenceDecided)
    return msgspec.json.decode(event.output, type=OrchestratorPlan).language


async def test_an_arabic_follow_up_in_a_french_conversation_is_answered_in_arabic() -> None:
    """Regression: the planner read the language of the whole conversation, so it answered in French."""
    said = await plan_language(("user", FRENCH), ("assistant", "J'ai préparé le workflow."), ("user", ARABIC))

    assert said == "ar"


async def test_a_one_word_answer_is_answered_in_the_language_of_the_conversation() -> None:
    said = await plan_language(("user", ENGLISH), ("assistant", "On which channel?"), ("user", "Slack"))

    assert said == "en"


def test_a_message_that_says_enough_decides_and_one_that_does_not_defers() -> None:
    def of(conversation: str) -> Language:
        return read_request(conversation).language

    assert language_of_turn(ARABIC, of(FRENCH)) == "ar"
    assert language_of_turn(FRENCH, of(ENGLISH)) == "fr"
    assert language_of_turn("Slack", of(ENGLISH)) == "en"
    assert language_of_turn("Slack", of(FRENCH)) == "fr"
