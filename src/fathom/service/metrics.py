"""Prometheus metrics of one app, in their own registry (several apps in one process never clash)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: N811 - re-exported under a short name
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fathom_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=r)
        self.latency = Histogram("fathom_http_request_duration_seconds", "Time to answer a request", ["route"],
                                 registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self.events = Counter("fathom_events_ingested", "Events stored", registry=r)
        self.recommendations = Counter("fathom_recommendations", "Recommendation lists served", ["kind"], registry=r)
        self.chats = Counter("fathom_chat_turns", "Assistant turns answered", ["intent"], registry=r)
        self.model_version = Gauge("fathom_active_model_version", "Active model version (0: none)", registry=r)
        self.catalogue_items = Gauge("fathom_catalogue_items", "Items in the search index", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
