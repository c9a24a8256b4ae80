"""Items similar to an item."""

from __future__ import annotations

from fastapi import APIRouter

from fathom.service.deps import EngineDep, SettingsDep
from fathom.service.routers._params import FilterDep, K
from fathom.service.routers.recommend import check_k
from fathom.service.schemas import RecommendedItem, SimilarResponse

router = APIRouter(prefix="/similar", tags=["similar"])


@router.get("/{item_id}", response_model=SimilarResponse)
def similar(item_id: str, engine: EngineDep, settings: SettingsDep, flt: FilterDep, k: K = 10) -> SimilarResponse:
    """The model's nearest items; a catalogue item the model does not know yet gets text neighbours."""
    check_k(k, settings)
    recs = engine.similar(item_id, k, flt)
    version = engine.bundle.version if engine.bundle is not None else 0
    return SimilarResponse(item_id=item_id, model_version=version, items=[RecommendedItem(**vars(r)) for r in recs])
