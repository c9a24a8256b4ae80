"""One router per resource."""

from fathom.service.routers import chat, events, health, items, models, recommend, search, similar, users

ALL = [health.router, recommend.router, similar.router, search.router, events.router, items.router,
       users.router, models.router, chat.router]

__all__ = ["ALL"]
