"""Catalogue items: read, upsert (searchable at once), delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from fathom.online.records import ItemRecord
from fathom.service.deps import EngineDep, WriteAccess
from fathom.service.schemas import ItemIn

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/{item_id}", response_model=ItemRecord)
def get_item(item_id: str, engine: EngineDep) -> ItemRecord:
    return engine.store.get_item(item_id)


@router.put("/{item_id}", response_model=ItemRecord)
def put_item(item_id: str, body: ItemIn, engine: EngineDep, _: WriteAccess) -> ItemRecord:
    categorical = {k: [v] if isinstance(v, str) else v for k, v in body.categorical.items()}
    item = ItemRecord(item_id=item_id, title=body.title, description=body.description, categorical=categorical,
                      numeric=body.numeric)
    engine.upsert_items([item])
    return item


@router.delete("/{item_id}", status_code=204, response_class=Response)
def delete_item(item_id: str, engine: EngineDep, _: WriteAccess) -> Response:
    engine.delete_item(item_id)
    return Response(status_code=204)
