"""Users: read a summary, delete a user with all their events."""

from __future__ import annotations

from fastapi import APIRouter

from fathom.online.errors import NotFound
from fathom.service.deps import EngineDep, UserDataAccess, WriteAccess
from fathom.service.schemas import UserDeleted, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: str, engine: EngineDep, _: UserDataAccess) -> UserOut:
    store = engine.store
    if not store.has_user(user_id):
        raise NotFound(f"unknown user {user_id!r}")
    return UserOut(user_id=user_id, events=store.event_count(user_id), recent_items=store.user_items(user_id, 20))


@router.delete("/{user_id}", response_model=UserDeleted)
def delete_user(user_id: str, engine: EngineDep, _: WriteAccess) -> UserDeleted:
    return UserDeleted(user_id=user_id, events_removed=engine.delete_user(user_id))
