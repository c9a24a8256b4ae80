"""The assistant over the test shop: facts from catalogue fields, "I don't know" for what is not there, product
requests with constraints and follow-ups that edit them, references to results, comparisons, FAQ entries, small
talk, personal recommendations, in English and Chinese; every answer cites what it used."""

from __future__ import annotations

import itertools
import re

import numpy as np

from fathom.assistant.assistant import Assistant
from tests.assistant.shop import PRODUCTS

_ids = itertools.count()
PRICE = {p[0]: p[4] for p in PRODUCTS}
BRAND = {p[0]: p[2] for p in PRODUCTS}
COLOUR = {p[0]: p[3] for p in PRODUCTS}


def talk(assistant: Assistant, *messages: str, user: str | None = None):
    conversation = f"t{next(_ids)}"
    return [assistant.reply(conversation, m, user) for m in messages]


def ids(reply) -> list[str]:
    return [i["item_id"] for i in reply.items]


def test_a_fact_comes_from_the_items_field_and_it_refers_to_the_item_talked_about(assistant):
    director, cast, year = talk(assistant, "who directed Fargo?", "who stars in it?", "and when did it come out?")
    assert director.intent == "fact" and director.text == "Fargo was directed by Joel Coen."
    assert [(c.kind, c.id, c.field) for c in director.citations] == [("item", "f1", "directors")]
    assert cast.intent == "fact" and "Frances McDormand" in cast.text and cast.slots["item"] == "f1"
    assert year.text == "Fargo is from 1996."


def test_a_fact_the_catalogue_lacks_is_not_known_and_no_number_is_invented(assistant):
    (reply,) = talk(assistant, "how much is Fargo?")
    assert reply.intent == "fact" and reply.text.startswith("I don't know the price of Fargo")
    assert not re.search(r"\d", reply.text)
    assert all(c.field is None for c in reply.citations)


def test_product_request_then_follow_ups_edit_it(assistant):
    first, cheaper, red, not_swingline = talk(assistant, "a stapler under 30 dollars", "cheaper ones", "in red",
                                              "not by Arrow")
    assert first.intent == "find" and set(ids(first)) == {"p1", "p2", "p3", "p4"}  # every stapler under 30
    assert first.slots["equals"] == {"category": ["Staplers"]}
    median = sorted(PRICE[i] for i in ids(first))[1]
    assert cheaper.follow_up and cheaper.intent == "find"
    assert ids(cheaper) and all(PRICE[i] < median for i in ids(cheaper))
    assert red.follow_up and all(COLOUR[i] == "red" and PRICE[i] < median for i in ids(red))
    assert not_swingline.follow_up and "Arrow" not in {BRAND[i] for i in ids(not_swingline)}
    assert not_swingline.slots["excludes"] == {"brand": ["Arrow"]}
    for reply in (first, cheaper, red):
        assert {c.id for c in reply.citations if c.kind == "item"} == set(ids(reply))


def test_a_new_request_is_not_read_as_a_follow_up(assistant):
    _, comedies = talk(assistant, "not by Woody Allen", "comedies from the 90s")
    assert not comedies.follow_up and "excludes" not in comedies.slots
    assert comedies.slots["equals"] == {"genres": ["Comedy"]} and comedies.slots["ranges"] == {"year": [1990, 1999]}
    assert set(ids(comedies)) == {"f4", "f6", "f7"}


def test_compatibility_is_yes_with_the_quote_or_i_dont_know(assistant):
    staples, first, second = talk(assistant, "show me staples", "does the first one work with the Arrow T-50?",
                                  "does the second one fit the Arrow T-50?")
    assert ids(staples)[:2] == ["p5", "p6"] or set(ids(staples)) == {"p5", "p6", "p7"}
    by_id = {"p5": "yes", "p6": "unknown", "p7": "unknown"}
    for reply, n in ((first, 0), (second, 1)):
        item = ids(staples)[n]
        assert reply.intent == "fact" and reply.slots == {"item": item, "attribute": "compatibility",
                                                          "target": "Arrow T-50"}
        if by_id[item] == "yes":
            assert reply.text.startswith("Yes:") and "Arrow T-50" in reply.text
        else:
            assert reply.text.startswith("I don't know:")  # never an invented "no"


def test_compare_two_films_with_what_they_share(assistant):
    (reply,) = talk(assistant, "compare Fargo and Blood Simple")
    assert reply.intent == "compare" and reply.slots == {"items": ["f1", "f2"]}
    assert "- directors: Joel Coen | Joel Coen" in reply.text
    assert "In common:" in reply.text and "directed by Joel Coen" in reply.text
    _, these = talk(assistant, "films by Joel Coen", "compare the first two")
    assert these.intent == "compare" and len(these.slots["items"]) == 2


def test_similar_items_with_a_mood_word(assistant):
    (reply,) = talk(assistant, "something like Fargo but funnier")
    assert reply.intent == "similar" and reply.slots["item"] == "f1"
    assert reply.slots["equals"] == {"genres": ["Comedy"]} and "f1" not in ids(reply) and ids(reply)


def test_faq_answers_cite_their_entry_and_unknown_policies_are_not_invented(assistant):
    returns, loyalty = talk(assistant, "can I send something back if I don't like it?",
                            "do you have a loyalty program?")
    assert returns.intent == "faq" and [(c.kind, c.id) for c in returns.citations] == [("faq", "returns")]
    assert "30 days" in returns.text
    assert loyalty.intent == "faq" and loyalty.text.startswith("I don't know") and not loyalty.citations


def test_chinese_turns_are_answered_in_chinese(assistant):
    director, comedies, year, returns = talk(assistant, "Fargo是谁导演的", "九十年代的喜剧", "第一个是哪一年的",
                                             "退货政策是什么？")
    assert director.language == "zh" and director.intent == "fact" and "Joel Coen" in director.text
    assert comedies.intent == "find" and set(ids(comedies)) == {"f4", "f6", "f7"}
    first = ids(comedies)[0]
    assert year.intent == "fact" and year.slots["item"] == first
    assert returns.intent == "faq" and returns.citations[0].id == "returns" and "30天" in returns.text


def test_small_talk_and_out_of_scope(assistant):
    hello, weather, thanks = talk(assistant, "hello there", "what's the weather tomorrow?", "thanks!")
    assert (hello.intent, weather.intent, thanks.intent) == ("smalltalk", "out_of_scope", "smalltalk")
    assert not hello.citations and not weather.citations and thanks.text == "You're welcome."


def test_recommend_me_something_uses_the_users_own_recommendations(assistant, engine):
    (reply,) = talk(assistant, "recommend me something", user="u7")
    expected = [r.item_id for r in engine.recommend_user("u7", 5)]
    assert reply.intent == "recommend" and ids(reply) == expected
    assert all(i["reason"] for i in reply.items)


def test_the_conversation_lives_in_the_store_so_another_worker_continues_it(assistant, engine, faq_file,
                                                                             classifier):
    assistant.reply("shared", "show me staplers")
    other = Assistant(engine, faq=faq_file, classifier=classifier)  # another process's assistant, same store
    reply = other.reply("shared", "who makes the second one?")
    shown = assistant.reply("peek", "show me staplers")  # the same request, to know what was second
    second = ids(shown)[1]
    assert reply.intent == "fact" and reply.slots["item"] == second and BRAND[second] in reply.text


def test_a_known_users_product_request_is_ranked_by_their_affinity(assistant, engine):
    """With a user id, search is personalised: "show me staplers" (no words left but the category) ranks the
    staplers by the user's own scores from the active model."""
    (reply,) = talk(assistant, "show me staplers", user="u8")
    bundle = engine.bundle
    staplers = [p[0] for p in PRODUCTS if p[5] == "Staplers"]
    scores = bundle.model.score_pairs(np.full(len(staplers), bundle.users.index("u8")),
                                      bundle.items.encode(staplers))
    expected = [staplers[i] for i in np.argsort(-np.asarray(scores), kind="stable")]
    assert len(set(np.round(scores, 6))) == len(staplers)  # no ties: one right order
    assert ids(reply) == expected
