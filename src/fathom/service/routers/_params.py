"""Query parameters shared by GET routes: ``k`` and catalogue filters in the CLI's syntax."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query

from fathom.retrieval.filters import SearchFilter, parse_filters


def query_filter(
    filter: Annotated[  # noqa: A002 - the public parameter name
        list[str], Query(description="categorical filter NAME=V1[,V2], repeatable (e.g. genres=Comedy)")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    range: Annotated[  # noqa: A002
        list[str], Query(description="numeric range NAME=LO:HI, either end open (e.g. release_year=1990:)")
    ] = [],  # noqa: B006
) -> SearchFilter | None:
    try:
        flt = parse_filters(filter, range)
    except ValueError as exc:
        raise HTTPException(422, f"query.filter: {exc}") from None
    return None if flt.empty else flt


FilterDep = Annotated[SearchFilter | None, Depends(query_filter)]
K = Annotated[int, Query(ge=1, description="number of results")]
