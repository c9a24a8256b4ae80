"""The shopping assistant: one conversation turn per request."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request

from fathom.assistant.assistant import Assistant
from fathom.service.deps import EngineDep, MetricsDep, SettingsDep, require_user_key
from fathom.service.schemas import ChatCitation, ChatRequest, ChatResponse, RecommendedItem

router = APIRouter(prefix="/chat", tags=["chat"])


def assistant(request: Request, engine) -> Assistant:
    """The app's assistant over its engine, built at the first chat (its encoders load then)."""
    state = request.app.state
    if getattr(state, "assistant", None) is None or state.assistant.engine is not engine:
        settings = state.settings
        state.assistant = Assistant(engine, faq=settings.faq)
    return state.assistant


@router.post("", response_model=ChatResponse)
def chat(body: ChatRequest, request: Request, engine: EngineDep, settings: SettingsDep, metrics: MetricsDep,
         x_api_key: Annotated[str | None, Header()] = None) -> ChatResponse:
    """One turn: the assistant reads the message in the conversation so far (``conversation_id``; a new one is
    started and returned when absent), searches, recommends or looks up what it asks, and answers from the
    catalogue, the knowledge graph and the FAQ only, citing each item and entry used. With ``user_id``
    (needs the API key when one is set) "recommend me something" uses that user's recommendations."""
    if body.user_id is not None:
        require_user_key(settings, x_api_key)
    conversation = body.conversation_id or uuid.uuid4().hex
    reply = assistant(request, engine).reply(conversation, body.message, body.user_id)
    metrics.chats.labels(reply.intent).inc()
    return ChatResponse(
        conversation_id=reply.conversation_id, language=reply.language, intent=reply.intent,
        follow_up=reply.follow_up, text=reply.text,
        items=[RecommendedItem(score=0.0, **item) for item in reply.items],
        citations=[ChatCitation(**vars(c)) for c in reply.citations], slots=reply.slots, millis=reply.millis)
