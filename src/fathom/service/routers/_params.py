"""Query parameters shared by GET routes: ``k`` and catalogue filters in the CLI's syntax."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from fathom.retrieval.filters import FILTER_SYNTAX, RANGE_SYNTAX, SearchFilter, parse_filters
from fathom.service.errors import invalid


def _clauses(syntax: str) -> dict:
    """The OpenAPI schema of a repeatable clause parameter: each value matches ``syntax`` whole (parse_filters,
    the one place that reads the clauses, checks the same pattern)."""
    return {"items": {"type": "string", "pattern": f"^{syntax}$"}}


def query_filter(
    filter: Annotated[  # noqa: A002 - the public parameter name
        list[str], Query(description="categorical filter NAME=V1[,V2], repeatable (e.g. genre=Comedy)",
                         json_schema_extra=_clauses(FILTER_SYNTAX))
    ] = [],  # noqa: B006 - FastAPI copies defaults
    range: Annotated[  # noqa: A002
        list[str], Query(description="numeric range NAME=LO:HI, either end open (e.g. year=1990:); LO <= HI",
                         json_schema_extra=_clauses(RANGE_SYNTAX))
    ] = [],  # noqa: B006
) -> SearchFilter | None:
    flt = SearchFilter(equals=_parse("filter", filter).equals, ranges=_parse("range", range).ranges)
    return None if flt.empty else flt


def _parse(param: str, clauses: list[str]) -> SearchFilter:
    try:
        return parse_filters(clauses, []) if param == "filter" else parse_filters([], clauses)
    except ValueError as exc:
        raise invalid(("query", param), str(exc)) from None


FilterDep = Annotated[SearchFilter | None, Depends(query_filter)]
K = Annotated[int, Query(ge=1, description="number of results (at most the service's max_k)")]
