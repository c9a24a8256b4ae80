"""The web page in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a real
``fathom serve`` subprocess on loopback, over the synthetic two-taste catalogue (:mod:`tests.service.synthetic`).

Skipped, with a message, only when no Chromium executable is on PATH (``apt-get install chromium``).
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fathom.online.stats import stored_event_count
from fathom.online.store import Store
from fathom.online.versions import train_version
from tests.service.server import serve
from tests.service.synthetic import history, prepare_folder

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
TIMEOUT_MS = 20_000  # generous: the machine may be busy


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def _post(url: str, body: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


@contextmanager
def serve_url(folder: Path, *options: str) -> Iterator[str]:
    """The base URL of ``fathom serve`` on ``folder`` in a subprocess, stopped (SIGINT) on exit."""
    with serve(folder, *options) as server:
        yield server.base


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(base URL, data folder) of a ``fathom serve`` subprocess: EASE active as version 1 with the offline
    metrics measured when it was trained, Popularity registered as version 2 (inactive) without metrics."""
    folder = prepare_folder(tmp_path_factory.mktemp("browser") / "data")
    store = Store(folder)
    train_version(store, "pop", evaluate=False)
    store.close()
    with serve_url(folder) as base:
        yield base, folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("no Chromium executable on PATH (install Debian's package: apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server) -> Iterator[Page]:
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def sized_page(browser: Browser) -> Iterator:
    """sized_page(width, height) -> a new tab with that viewport; JavaScript errors on any of them fail the test."""
    contexts, errors = [], []

    def make(width: int, height: int) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        return tab

    expect.set_options(timeout=TIMEOUT_MS)
    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def open_app(page: Page, base: str) -> None:
    page.goto(f"{base}/")  # redirects to /ui/
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def item_ids(page: Page, list_id: str) -> list[str]:
    return page.locator(f"#{list_id} > li").evaluate_all("rows => rows.map(r => r.dataset.itemId)")


def search(page: Page, query: str) -> None:
    renders = int(page.locator("#hits").get_attribute("data-renders"))
    page.fill("#search-input", query)
    page.click("#search-button")
    expect(page.locator("#hits")).to_have_attribute("data-renders", str(renders + 1))


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return found


def test_search_shows_hits_with_per_signal_scores_and_facet_counts(page, server):
    base, _ = server
    open_app(page, base)
    # browsing (empty query): the whole catalogue, both genres counted
    expect(page.locator("#hits > li")).to_have_count(20)
    expect(page.locator("#key-label")).to_be_hidden()  # no API key configured: writes need none
    expect(page.locator('#facets [data-facet="genre"][data-value="Sci-Fi"] .count')).to_have_text("10")
    expect(page.locator('#facets [data-facet="genre"][data-value="Cooking"] .count')).to_have_text("10")
    page.fill("#search-input", "starship galaxies")
    page.click("#search-button")
    expect(page.locator("#search-summary")).to_contain_text("10 matches")
    expect(page.locator("#hits > li")).to_have_count(10)
    assert all(i.startswith("s") for i in item_ids(page, "hits"))
    first = page.locator("#hits > li").first
    expect(first.locator('[data-signal="bm25"]')).to_contain_text("bm25 ")
    expect(first.locator('[data-signal="fused"]')).to_be_visible()
    assert float(first.locator('[data-signal="bm25"]').inner_text().split()[1]) > 0
    # facet counts over the matches only: no cooking item matches
    expect(page.locator('#facets [data-facet="genre"][data-value="Sci-Fi"] .count')).to_have_text("10")
    expect(page.locator('#facets [data-facet="genre"][data-value="Cooking"]')).to_have_count(0)


def test_clicking_a_facet_value_filters_and_the_chip_removes_it(page, server):
    base, folder = server
    open_app(page, base)
    expect(page.locator("#hits > li")).to_have_count(20)
    page.click('#facets button[data-facet="genre"][data-value="Cooking"]')
    expect(page.locator("#search-summary")).to_contain_text("10 matches")
    expect(page.locator("#hits > li")).to_have_count(10)
    assert sorted(item_ids(page, "hits")) == [f"c{n}" for n in range(10)]
    expect(page.locator('#facets button[data-value="Cooking"]')).to_have_attribute("aria-pressed", "true")
    chip = page.locator('#active-filters .chip[data-value="Cooking"]')
    expect(chip).to_have_text("genre: Cooking ×")
    # without a chosen user a click shows similar items and records nothing
    before = stored_event_count(folder)
    page.click('#hits li[data-item-id="c3"] .item-link')
    expect(page.locator("#similar-title")).to_have_text("Similar to “Kitchen Recipe 3”")
    expect(page.locator("#similar > li")).not_to_have_count(0)
    assert all(i.startswith("c") for i in item_ids(page, "similar")[:5])
    assert not any(t.startswith("score -0") for t in page.locator("#similar .score").all_inner_texts())
    expect(page.locator("#message")).to_contain_text("Choose a user")
    assert stored_event_count(folder) == before
    chip.click()
    expect(page.locator("#hits > li")).to_have_count(20)
    expect(page.locator("#active-filters .chip")).to_have_count(0)


def test_choosing_a_user_shows_recommendations_with_reasons(page, server):
    base, _ = server
    open_app(page, base)
    page.select_option("#user-select", "u12")
    expect(page.locator("#recs > li")).to_have_count(10)
    got = item_ids(page, "recs")
    assert set(got[:4]) == {f"c{n}" for n in range(10)} - set(history(12))  # the 4 unseen cooking items first
    first = page.locator("#recs > li").first
    expect(first.locator(".meta")).to_contain_text("because you interacted with Kitchen Recipe")
    expect(page.locator("#user-summary")).to_contain_text("User u12: 6 events; model version 1")


def test_clicking_a_recommended_item_records_an_event_and_it_leaves_the_list(page, server):
    base, folder = server
    open_app(page, base)
    page.select_option("#user-select", "u3")
    expect(page.locator("#recs > li")).to_have_count(10)
    before_ids, before_events = item_ids(page, "recs"), stored_event_count(folder)
    renders = int(page.locator("#recs").get_attribute("data-renders"))
    clicked = before_ids[0]
    assert clicked.startswith("s") and clicked not in history(3)
    page.click(f'#recs li[data-item-id="{clicked}"] .item-link')
    expect(page.locator(f'#recs li[data-item-id="{clicked}"]')).to_have_count(0)
    expect(page.locator("#recs")).to_have_attribute("data-renders", str(renders + 1))  # the list re-rendered
    expect(page.locator("#recs > li")).to_have_count(10)
    after_ids = item_ids(page, "recs")
    unseen_space = {f"s{n}" for n in range(10)} - set(history(3)) - {clicked}
    assert clicked not in after_ids and set(after_ids[:3]) == unseen_space
    assert stored_event_count(folder) == before_events + 1
    assert _get(f"{base}/users/u3")["recent_items"][0] == clicked
    expect(page.locator("#user-summary")).to_contain_text("7 events")
    expect(page.locator('#user-select option[value="u3"]')).to_have_text("u3 (7 events)")
    expect(page.locator("#message")).to_contain_text(f"Recorded a click on “Space Voyage {clicked[1:]}” for user u3")
    expect(page.locator("#similar-panel")).to_have_attribute("data-item-id", clicked)
    expect(page.locator("#similar > li")).not_to_have_count(0)


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080)])
def test_recommendations_and_similar_items_stay_on_screen_beside_20_search_hits(sized_page, server, width, height):
    base, _ = server
    page = sized_page(width, height)
    open_app(page, base)
    page.select_option("#user-select", "u3")
    expect(page.locator("#recs > li")).to_have_count(10)
    search(page, "space kitchen")
    expect(page.locator("#search-summary")).to_contain_text("20 matches")
    expect(page.locator("#hits > li")).to_have_count(20)
    renders = int(page.locator("#recs").get_attribute("data-renders"))
    page.locator("#hits > li .item-link").nth(17).click()  # a hit far down the list
    expect(page.locator("#recs")).to_have_attribute("data-renders", str(renders + 1))
    expect(page.locator("#similar > li")).to_have_count(10)
    # the panels a click changes start inside the window, and their first rows are wholly visible
    for selector in ("#user-panel", "#recs", "#similar-panel", "#similar"):
        top = box(page, selector)["y"]
        assert 0 <= top < height, f"{selector} starts at y={top}, outside the {width}x{height} window"
    for selector in ("#recs > li", "#similar > li"):
        row = box(page, selector)
        assert row["y"] >= 0 and row["y"] + row["height"] <= height, f"{selector}: {row}"
    # one screen: the page itself does not scroll; the search results scroll inside their column
    page_height = page.evaluate("document.scrollingElement.scrollHeight")
    assert page_height <= height, f"the page is {page_height} px high in a {height} px window"
    hits = page.locator("#hits")
    if width == 1366:
        assert hits.evaluate("list => list.scrollHeight > list.clientHeight")  # 20 hits do not fit: a scroll box
    assert box(page, "#hits")["x"] + box(page, "#hits")["width"] <= box(page, "#user-panel")["x"]  # side by side


def test_item_cards_show_year_and_genre_chips_in_hits_recommendations_and_similar_items(page, server):
    base, _ = server
    item_requests: list[str] = []
    page.on("request", lambda request: item_requests.append(request.url) if "/items/" in request.url else None)
    open_app(page, base)
    search(page, "starship")
    for n in range(10):
        card = page.locator(f'#hits li[data-item-id="s{n}"]')
        expect(card.locator('.year[data-attr="year"]')).to_have_text(str(2000 + n))
        expect(card.locator('.attr[data-attr="genre"]')).to_have_text("Sci-Fi")
    assert item_requests == []  # search hits carry their attributes
    page.select_option("#user-select", "u12")
    expect(page.locator("#recs > li")).to_have_count(10)

    def check(list_id: str) -> None:
        for item in item_ids(page, list_id):
            card = page.locator(f'#{list_id} li[data-item-id="{item}"]')
            expect(card.locator(".year")).to_have_text(str(2000 + int(item[1:])))
            expect(card.locator(".attr")).to_have_text("Sci-Fi" if item.startswith("s") else "Cooking")

    check("recs")
    first = item_ids(page, "recs")[0]
    page.click(f'#recs li[data-item-id="{first}"] .item-link')
    expect(page.locator("#similar-panel")).to_have_attribute("data-item-id", first)
    expect(page.locator("#similar > li")).to_have_count(10)
    check("similar")
    check("recs")
    fetched = [url.rsplit("/", 1)[1] for url in item_requests]
    assert len(fetched) == len(set(fetched)), f"an item's attributes were fetched twice: {fetched}"
    assert not {f"s{n}" for n in range(10)} & set(fetched)  # known from the search hits already


def test_a_typo_is_shown_as_the_typed_word_and_the_word_searched_for(page, server):
    base, _ = server
    open_app(page, base)
    expect(page.locator("#search-corrections")).to_be_hidden()
    search(page, "galaxeis")
    expect(page.locator("#search-summary")).to_contain_text("10 matches for “galaxeis”")
    note = page.locator("#search-corrections")
    expect(note).to_be_visible()
    expect(note).to_have_text("Searched for galaxies (you typed “galaxeis”).")
    expect(note.locator('.read[data-typed="galaxeis"]')).to_have_text("galaxies")
    search(page, "galaxies")
    expect(page.locator("#search-corrections")).to_be_hidden()


def test_status_page_lists_versions_metrics_and_live_counts(page, server):
    base, folder = server
    page.goto(f"{base}/ui/status")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    active = page.locator('#versions tr[data-version="1"]')
    expect(active).to_have_class("active")
    expect(active.locator(".badge")).to_have_text("active")
    expect(active).to_contain_text("ease")
    ndcg = Store(folder).version(1).metrics["ndcg@10"]
    expect(active.locator(".metrics")).to_contain_text(f"ndcg@10 {ndcg:.4f}" if ndcg % 1 else f"ndcg@10 {ndcg:.0f}")
    expect(active.locator(".metrics")).to_contain_text("each user's latest item")
    other = page.locator('#versions tr[data-version="2"]')
    expect(other).to_contain_text("pop")
    expect(other).to_contain_text("inactive")
    expect(other.locator(".metrics")).to_contain_text("none saved")
    events = page.locator('#counts tr[data-count="events"] td')
    expect(events).to_have_text(f"{stored_event_count(folder):,}")
    expect(page.locator('#counts tr[data-count="users"] td')).to_have_text("20")
    expect(page.locator("#service")).to_contain_text("bm25, no reranking")
    assert _post(f"{base}/events", {"user_id": "u5", "item_id": "s0", "event": "purchase"}) == 201
    # the page refreshes itself: the new event shows up without a reload
    expect(events).to_have_text(f"{stored_event_count(folder):,}")
    expect(page.locator('#counts tr[data-count="events: purchase"] td')).to_have_text("1")


def test_with_an_api_key_configured_the_page_asks_for_it_before_showing_users_and_recording_clicks(browser, tmp_path):
    folder = prepare_folder(tmp_path / "data")
    with serve_url(folder, "--api-key", "k1") as base:
        tab = browser.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        try:
            open_app(tab, base)
            expect(tab.locator("#key-label")).to_be_visible()
            expect(tab.locator("#user-summary")).to_contain_text("with the API key only")
            tab.fill("#api-key", "k1")
            tab.dispatch_event("#api-key", "change")
            tab.select_option("#user-select", "u0")
            expect(tab.locator("#recs > li")).to_have_count(10)
            first = item_ids(tab, "recs")[0]
            # the catalogue's attributes need no key
            expect(tab.locator(f'#recs li[data-item-id="{first}"] .attr')).to_have_text("Sci-Fi")
            tab.fill("#api-key", "")
            tab.click(f'#recs li[data-item-id="{first}"] .item-link')
            expect(tab.locator("#message")).to_contain_text("The click was not recorded")
            assert stored_event_count(folder) == 120
            tab.fill("#api-key", "k1")
            tab.click(f'#recs li[data-item-id="{first}"] .item-link')
            expect(tab.locator(f'#recs li[data-item-id="{first}"]')).to_have_count(0)
            assert stored_event_count(folder) == 121
        finally:
            tab.close()


def _arrivals(folder: Path) -> list[float]:
    import sqlite3

    from fathom.online.schema import DB_NAME

    conn = sqlite3.connect(f"{(folder / DB_NAME).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT received_at FROM events")]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def charts_server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """(base URL, data folder) of a store whose 120 events arrived over 25 hours (60 in the last 37 minutes, 37 s
    apart; the others from 25 minutes to 25 hours ago, 25 minutes apart), with EASE (version 1) and Popularity
    (version 2) evaluated when trained and Popularity again (version 3) without metrics."""
    import sqlite3
    import time

    from fathom.online.schema import DB_NAME

    folder = prepare_folder(tmp_path_factory.mktemp("charts") / "data")
    store = Store(folder)
    train_version(store, "pop")
    train_version(store, "pop", evaluate=False)
    store.close()
    now = time.time()
    conn = sqlite3.connect(folder / DB_NAME)
    with conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]
        conn.executemany("UPDATE events SET received_at = ? WHERE id = ?",
                         [(now - (37 * i if i < 60 else 1500 * (i - 59)), id_) for i, id_ in enumerate(ids)])
    conn.close()
    with serve_url(folder) as base:
        yield base, folder


def _bars(page: Page, chart: str) -> dict:
    """The bar chart in ``chart`` read at once: its first bucket's start, bucket width and bars' counts."""
    return page.locator(f"{chart} svg").evaluate(
        "svg => ({start: Number(svg.dataset.start), bucket: Number(svg.dataset.bucketS),"
        " counts: [...svg.querySelectorAll('rect.bar')].map(r => Number(r.dataset.count))})")


def _expected(arrivals: list[float], start: float, bucket: float, n: int) -> list[int]:
    counts = [0] * n
    for t in arrivals:
        i = int((t - start) // bucket)
        if 0 <= i < n:
            counts[i] += 1
    return counts


def test_status_page_charts_events_over_time_and_a_metric_across_versions(page, charts_server):
    import time

    base, folder = charts_server
    page.goto(f"{base}/ui/status")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    for chart, n, what in (("#chart-minutes", 60, "per minute over the last hour"),
                           ("#chart-hours", 24, "per hour over the last day")):
        svg = page.locator(f"{chart} svg")
        expect(svg).to_have_attribute("role", "img")
        expect(svg.locator("title").first).to_have_text(f"Events received {what}")
        expect(svg.locator("rect.bar")).to_have_count(n)
        expect(svg.locator("rect.bar > title")).to_have_count(n)  # every bar names its time and count
    for user in ("u1", "u2", "u3"):
        assert _post(f"{base}/events", {"user_id": user, "item_id": "s0", "event": "purchase"}) == 201
    arrivals = _arrivals(folder)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:  # the page redraws every 3 s: wait for the posted events, then compare every bar
        minutes, hours = _bars(page, "#chart-minutes"), _bars(page, "#chart-hours")
        want_minutes = _expected(arrivals, minutes["start"], minutes["bucket"], 60)
        want_hours = _expected(arrivals, hours["start"], hours["bucket"], 24)
        if (minutes["counts"], hours["counts"]) == (want_minutes, want_hours) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (minutes["bucket"], hours["bucket"]) == (60, 3600)
    assert minutes["counts"] == want_minutes and hours["counts"] == want_hours
    # the spread set by the fixture, and the 3 new events: 60 + 2 + 3 in the last hour, all but 3 to 4 in the day
    assert sum(want_minutes) == 65 and 115 <= sum(want_hours) <= 120
    assert len([c for c in want_minutes if c]) > 20 and len([c for c in want_hours if c]) > 10
    # offline ndcg@10 across versions: one point per version that has it, in version order
    store = Store(folder)
    metrics = {v.version: v.metrics for v in store.versions()}
    store.close()
    points = page.locator("#chart-metrics circle.point")
    expect(points).to_have_count(2)
    assert points.evaluate_all("ps => ps.map(p => p.dataset.key)") == ["1", "2"]
    values = points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))")
    assert values == pytest.approx([metrics[1]["ndcg@10"], metrics[2]["ndcg@10"]])
    expect(points.first).to_have_class("point active")
    expect(points.first.locator("title")).to_contain_text("version 1 (ease, active): ndcg@10")
    expect(page.locator("#chart-metrics polyline")).to_have_count(1)
    expect(page.locator("#metric-note")).to_have_text(" (no ndcg@10 saved for version 3)")
    page.select_option("#metric-select", "recall@10")
    expect(page.locator("#chart-metrics svg title").first).to_have_text("Offline recall@10 of each model version")
    values = points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))")
    assert values == pytest.approx([metrics[1]["recall@10"], metrics[2]["recall@10"]])


def test_movielens_recommendations_show_their_knowledge_graph_path_with_readable_names(browser, ml100k_dir):
    """MovieLens-100K served for real: each recommendation's card shows the path from the film it is recommended
    for to it, through a genre or a decade both share, by name."""
    with serve_url(ml100k_dir) as base:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            open_app(page, base)
            page.fill("#user-other", "196")
            page.dispatch_event("#user-other", "change")
            expect(page.locator("#recs > li")).to_have_count(10)
            expect(page.locator("#recs .why").first).to_be_visible()
            api = _get(f"{base}/recommend/196?k=10&why=true")["items"]
            cards = page.locator("#recs > li")
            shown = 0
            for n, row in enumerate(api):
                card = cards.nth(n)
                assert card.get_attribute("data-item-id") == row["item_id"]
                if not row["path"]:
                    expect(card.locator(".why")).to_have_count(0)
                    continue
                shown += 1
                nodes = card.locator(".why .node").all_inner_texts()
                assert nodes == [step["name"] for step in row["path"]]
                cited = nodes[0]
                expect(card.locator(".meta")).to_contain_text(f"because you interacted with {cited}")
                expect(card.locator(".why-text")).to_have_text(row["path_text"])
                assert row["path_text"].startswith(("both: genre ", "both: decade "))
                assert nodes[-1] == row["title"] and nodes[1] in row["path_text"]
            assert shown >= 8
        finally:
            context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_chat_panel_holds_a_three_turn_dialogue_with_a_follow_up(page, server):
    base, _ = server
    open_app(page, base)
    page.click("#chat-open")
    expect(page.locator("#chat-panel")).to_be_visible()
    log = page.locator("#chat-log")

    def say(message: str, turn: int) -> None:
        page.fill("#chat-input", message)
        page.click("#chat-send")
        expect(log).to_have_attribute("data-turns", str(turn), timeout=90_000)  # the first turn loads the encoder

    say("sci-fi from before 2005", 1)
    first = page.locator(".chat-assistant").nth(0)
    expect(first.locator(".chat-meta")).to_have_attribute("data-intent", "find")
    titles = first.locator(".chat-item").all_inner_texts()
    assert sorted(titles) == [f"Space Voyage {n}" for n in range(5)]
    say("what about cooking?", 2)
    second = page.locator(".chat-assistant").nth(1)
    expect(second.locator(".chat-meta")).to_have_attribute("data-follow-up", "true")
    cooking = second.locator(".chat-item").all_inner_texts()
    assert sorted(cooking) == [f"Kitchen Recipe {n}" for n in range(5)]  # the year bound kept, the genre changed
    say("what year is the second one?", 3)
    third = page.locator(".chat-assistant").nth(2)
    n = int(cooking[1].rsplit(" ", 1)[1])
    expect(third.locator(".chat-text")).to_have_text(f"{cooking[1]} is from {2000 + n}.")
    expect(third.locator(".chat-meta")).to_contain_text(f"#c{n} (year)")
    third.page.click(".chat-assistant >> nth=1 >> .chat-item >> nth=0")  # an item opens its similar items
    expect(page.locator("#similar-panel")).to_have_attribute("data-item-id", second.locator(".chat-item").first
                                                             .get_attribute("data-item-id"))
