"""The shopping assistant: one conversation turn per request."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Request

from fathom.assistant.assistant import Assistant
from fathom.service.deps import EngineDep, MetricsDep, SettingsDep, require_user_key
from fathom.service.schemas import ChatCitation, ChatRequest, ChatResponse, RecommendedItem

router = APIRouter(prefix="/chat", tags=["chat"])
logger = logging.getLogger(__name__)


_BUILD = threading.Lock()


def app_assistant(app: FastAPI) -> Assistant:
    """The app's assistant over its engine, built once (by :func:`warm` at start, or the first chat)."""
    state = app.state
    with _BUILD:
        if getattr(state, "assistant", None) is None or state.assistant.engine is not state.engine:
            state.assistant = Assistant(state.engine, faq=state.settings.faq)
        return state.assistant


def warm(app: FastAPI) -> None:
    """Build the assistant and load what its first English turn needs (encoder, intent head, catalogue titles),
    in the background at start, so that the first chat does not wait for it. Failures are logged, not raised:
    the first chat then reports them."""
    try:
        app_assistant(app).warm()
    except Exception:  # noqa: BLE001 - a background warm-up must not take the service down
        logger.exception("assistant warm-up failed")


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
    reply = app_assistant(request.app).reply(conversation, body.message, body.user_id)
    metrics.chats.labels(reply.intent).inc()
    return ChatResponse(
        conversation_id=reply.conversation_id, language=reply.language, intent=reply.intent,
        follow_up=reply.follow_up, text=reply.text,
        items=[RecommendedItem(score=0.0, **item) for item in reply.items],
        citations=[ChatCitation(**vars(c)) for c in reply.citations], slots=reply.slots, millis=reply.millis)
