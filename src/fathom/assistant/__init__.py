"""A grounded shopping assistant: conversations over the engine's search, recommendations, catalogue,
knowledge graph and FAQ (:class:`~fathom.assistant.assistant.Assistant`)."""
