"""The Memories view of the web UI (issue 16 item 5, issue 20): search, timeline, a record.

Two stores behind the test server: the UI site of ``conftest.py`` (its server embeds with
the bundled MiniLM model, so hybrid search runs for real) holds ``kb``, a namespace of
realistic records (2 KB contents, tags, metadata keys and slots of 200 characters,
relationships, children, a superseded chain); a second store without an embedder holds
``bulk``, 10,000 records, where search falls back to keywords and the timeline pages.
Every check of the store goes through the remote Python client, as another agent would.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from _layout import assert_layout
from _ui_site import SHOTS, login, shot, show
from playwright.sync_api import expect

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _ui_site import Site
    from conftest import Console
    from playwright.sync_api import Page

    from hivemem.testing.server import ServerThread

KB = "kb"
BULK = "bulk"
BULK_SIZE = 10_000
LONG_AGENT = ("knowledge-curator.eu-west-1.pool-7@research-team." + "agent" * 30)[:128]
LONG_TAG = ("evidence-" + "retrieval-augmented-generation-" * 10)[:100]  # tags: at most 100
LONG_META_KEY = ("provenance." + "source-document-identifier-" * 10)[:200]
LONG_SLOT = ("project-" + "h" * 120 + "/deadline-" + "d" * 80)[:200]
INTERNAL = ("_v/", "_r/", "_ri/", "_p/", "_g/", "_gm/", "_mg/", "_s/", "_memories")
_WORDS = [
    "agent",
    "memory",
    "shared",
    "namespace",
    "retrieval",
    "embedding",
    "summary",
    "planner",
    "critic",
    "evidence",
    "source",
    "citation",
    "benchmark",
    "latency",
    "cache",
    "consistency",
    "snapshot",
    "replay",
    "event",
    "stream",
    "permission",
    "audit",
]


def _text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:length]


def _open_view(page: Page, site: Site | str, token: str, hash_: str, view: str) -> None:
    url = site if isinstance(site, str) else site.page_url
    page.context.add_init_script(
        "if (!sessionStorage.getItem('hivemem.token')) "
        f"sessionStorage.setItem('hivemem.token', {json.dumps(token)})"
    )
    page.goto(url + hash_)
    page.wait_for_selector(f"main[data-view={view}]")
    page.wait_for_selector("body[data-ready]")


def _unlabelled(page: Page) -> list[str]:
    """Form controls of the view without an accessible name (a label or aria-label)."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const all = [...document.querySelectorAll("main :is(input, select, textarea, button)")];
          const named = (el) => (el.labels && el.labels.length) || el.getAttribute("aria-label")
            || (el.tagName === "BUTTON" && el.textContent.trim());
          const bad = all.filter((el) => !named(el));
          return { n: all.length, bad: bad.map((el) => el.outerHTML.slice(0, 80)) };
        }"""
    )
    assert found["n"] >= 3, found  # the check saw the view's controls
    return list(found["bad"])


def _no_internal_key(page: Page) -> None:
    """Neither the text of the page nor a link, title or data attribute names an internal key."""
    found = page.evaluate(
        """(internal) => {
          const out = [];
          const text = document.body.innerText;
          for (const p of internal) if (text.includes(p)) out.push(`text: ${p}`);
          for (const el of document.querySelectorAll("*")) {
            for (const a of el.attributes) {
              if (!/^(href|title|data-|aria-label|value)/.test(a.name)) continue;
              let v = a.value;
              try { v = decodeURIComponent(v); } catch {}
              for (const p of internal) {
                if (v.includes(p)) out.push(`${a.name}=${a.value.slice(0, 80)}`);
              }
            }
          }
          return out;
        }""",
        list(INTERNAL),
    )
    assert found == [], found[:10]


class Kb:
    """The ids of ``kb``'s notable records."""

    def __init__(self) -> None:
        self.coffee = ""
        self.long = ""
        self.parent = ""
        self.child = ""
        self.old_city = ""
        self.city = ""
        self.long_agent_token = ""


@pytest.fixture(scope="module")
def kb(site: Site) -> Kb:
    rng = random.Random(16)
    out = Kb()
    embedder = site.app.state.hub.core.settings.embedder
    assert embedder is not None and "minilm" in embedder.name.lower(), embedder
    embedder.embed(["load the model before the first request needs it"])
    root = site.client()
    root.create_namespace(KB, description="What the research agents remember")
    root.update_permissions(KB, {"alice": "write", "rita": "read", LONG_AGENT: "write"})
    out.long_agent_token = site.app.state.hub.tokens.create(LONG_AGENT, "agent")[0]
    lt = site.client(site.writer).memories(KB)
    out.coffee = lt.add(
        "The team's coffee machine on floor 3 makes espresso; the one on floor 5 is broken.",
        memory_type="fact",
        tags=["office"],
        importance=0.7,
    ).id
    lt.add(
        "Alice prefers tea in the afternoon and coffee in the morning.", memory_type="preference"
    )
    lt.add("Release 2.4 ships on Friday after the load test passes.", memory_type="plan")
    for _ in range(20):
        lt.add(_text(rng, rng.randint(60, 400)), memory_type=rng.choice(["fact", "note"]))
    long_lt = site.client(out.long_agent_token).memories(KB)
    out.long = long_lt.add(
        "Benchmark notes, espresso-fuelled: " + _text(rng, 2000 - 35),
        memory_type="benchmark-" + "m" * 80,
        tags=[LONG_TAG, "latency", LONG_TAG[:-1] + "2"],
        metadata={LONG_META_KEY: "x" * 200, "run": {"id": "r" * 200, "ok": True}},
        importance=0.9,
    ).id
    out.parent = lt.add("Project Falcon: the retrieval rewrite", memory_type="project").id
    out.child = lt.add("Falcon milestone: the embedding cache lands first", parent_id=out.parent).id
    lt.add_relationship(out.child, out.coffee, "fuelled-by", strength=0.4)
    lt.add_relationship(out.parent, out.long, "measured-in", strength=0.9)
    out.old_city = lt.add("Alice lives in Paris", slot="alice/city").id
    out.city = lt.add("Alice lives in Berlin", slot="alice/city").id
    lt.add("The deadline of the long project is March", slot=LONG_SLOT)
    lt.add("The deadline of the long project moved to April", slot=LONG_SLOT)
    return out


@pytest.fixture(scope="module")
def bulk(ui_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store without an embedder holding 10,000 memories; yields its page URL (admin token
    in ``bulk.token``)."""
    import hivemem

    path = tmp_path_factory.mktemp("ui-bulk") / "store.db"
    core = _open(f"sqlite:///{path}", None, None, {"cleanup_interval": 0, "embedder": "none"})
    app = create_app(core, ServerConfig(auth=True))
    url = ui_server.mount(app)
    token, _ = app.state.hub.tokens.create("root", "admin")
    mem = hivemem.connect(url, token=token, cleanup_interval=0)
    rng = random.Random(20)
    lt = mem.memories(BULK)
    started = time.perf_counter()
    for start in range(0, BULK_SIZE, 1000):
        lt.add_many(
            [
                {
                    "content": f"record {i}: " + _text(rng, rng.randint(40, 300)),
                    "memory_type": ("fact", "note", "plan")[i % 3],
                    "tags": [f"batch-{start // 1000}"] + (["hello"] if i % 97 == 0 else []),
                }
                for i in range(start, start + 1000)
            ]
        )
    _BULK["load_s"] = time.perf_counter() - started
    # The server builds a namespace's index on its first search or listing (then follows the
    # changes): built here, so the page waits on no cold start, and timed.
    started = time.perf_counter()
    assert len(lt.timeline(limit=1)) == 1
    _BULK["index_s"] = time.perf_counter() - started
    # The browser has a token of its own: the loader's spent its rate limit's bucket (each
    # record of a batch is charged), and a person browsing is another caller.
    _BULK["token"] = app.state.hub.tokens.create("curator", "admin")[0]
    yield url + "/"
    mem.close()
    ui_server.unmount(url)
    core.close()


_BULK: dict[str, object] = {}


def test_search_open_archive_restore_reinforce(page: Page, site: Site, kb: Kb) -> None:
    """Hybrid search with MiniLM, a record's detail, archive, restore and reinforce."""
    store = site.client(site.writer).memories(KB)
    login(page, site, site.writer)
    page.click("#nav a[data-nav=memories]")
    page.wait_for_selector("main[data-view=memories-home]")
    page.click(f"#memory-namespaces a:text-is('{KB}')")
    page.wait_for_selector("main[data-view=memories] #mem-timeline")
    expect(page.locator("#mem-timeline tbody tr")).to_have_count(20)  # a page, newest first
    page.press("body", "/")  # the search box's shortcut
    assert page.evaluate("document.activeElement.id") == "mem-query"
    page.keyboard.type("where can I get an espresso")
    page.keyboard.press("Enter")
    page.wait_for_selector("#mem-results")
    assert page.get_attribute("#search-mode", "data-mode") == "hybrid"
    first = page.locator("#mem-results tbody tr").first
    assert first.get_attribute("data-id") in (kb.coffee, kb.long)
    parts = first.locator("ul.parts").inner_text()
    assert "vector" in parts and "keyword" in parts
    assert_layout(page)
    assert _unlabelled(page) == []
    shot(page, "memories-search")

    # Open the coffee record: its fields, relationships, and the actions of a writer.
    page.locator(f"#mem-results tr[data-id='{kb.coffee}'] a").click()
    page.wait_for_selector("main[data-view=memory]")
    page.wait_for_selector("body[data-ready]")
    assert "coffee machine on floor 3" in page.inner_text("#memory-content")
    meta = page.inner_text("#memory-meta")
    assert "fact" in meta and "alice" in meta and "current" in meta
    expect(page.locator("#memory-related tbody tr")).to_have_count(1)
    assert "fuelled-by" in page.inner_text("#memory-related")
    assert _unlabelled(page) == []
    before = store.get_many([kb.coffee])[0]

    page.click("#memory-archive")
    expect(page.locator("#status")).to_contain_text("Archived")
    assert store.get_many([kb.coffee])[0].tier == "archived"
    assert all(h.memory.id != kb.coffee for h in store.search("coffee machine", limit=50))
    expect(page.locator("#memory-restore")).to_be_focused()  # the keyboard stays on the action
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("Restored to tier short")
    assert store.get_many([kb.coffee])[0].tier == "short"
    assert any(h.memory.id == kb.coffee for h in store.search("coffee machine", limit=50))

    page.fill("#reinforce-factor", "2")
    page.click("#memory-reinforce")
    expect(page.locator("#status")).to_contain_text("Reinforced")
    after = store.get_many([kb.coffee])[0]
    assert after.stability == pytest.approx(before.stability * 2)
    assert after.access_count > before.access_count
    # Bad input is refused before it is sent (and changes nothing).
    page.fill("#reinforce-factor", "lots")
    page.click("#memory-reinforce")
    expect(page.locator("#status")).to_contain_text("The factor must be a number")
    assert store.get_many([kb.coffee])[0].stability == after.stability


def test_record_detail_links_supersession_and_slot_history(page: Page, site: Site, kb: Kb) -> None:
    _open_view(page, site, site.writer, f"#/memories/{KB}/m/{kb.old_city}", "memory")
    assert "superseded" in page.inner_text("#memory-validity")
    assert "→ open" not in page.inner_text("#memory-validity")  # closed when Berlin began
    expect(page.locator("#memory-slot-history tbody tr")).to_have_count(2)
    rows = page.locator("#memory-slot-history tbody tr")
    assert rows.nth(0).get_attribute("data-id") == kb.city  # newest first
    page.click(f"#memory-meta a:text-is('{kb.city}')")  # "Superseded by"
    page.wait_for_selector(f"main[data-view=memory] h1:has-text('{kb.city}')")
    assert "current" in page.inner_text("#memory-validity")
    assert kb.old_city in page.inner_text("#memory-meta")  # "Supersedes"
    # A child: its parent linked, and the parent lists it.
    show(page, f"#/memories/{KB}/m/{kb.child}", "memory")
    page.click(f"#memory-meta a:text-is('{kb.parent}')")
    page.wait_for_selector(f"main[data-view=memory] h1:has-text('{kb.parent}')")
    expect(page.locator(f"#memory-children tr[data-id='{kb.child}']")).to_have_count(1)
    expect(page.locator(f"#memory-related tr[data-id='{kb.long}']")).to_have_count(1)
    # The timeline shows superseded records (with their validity) only when asked.
    show(page, f"#/memories/{KB}?n=100", "memories")
    expect(page.locator(f"#mem-timeline tr[data-id='{kb.old_city}']")).to_have_count(0)
    show(page, f"#/memories/{KB}?n=100&superseded=1&sort=valid_from", "memories")
    old = page.locator(f"#mem-timeline tr[data-id='{kb.old_city}']")
    assert "superseded" in old.inner_text()
    assert "current" in page.locator(f"#mem-timeline tr[data-id='{kb.city}']").inner_text()


@pytest.mark.parametrize("size", [(390, 844), (1440, 900)], ids=["narrow", "wide"])
def test_long_values_keep_the_layout(page: Page, site: Site, kb: Kb, size: tuple[int, int]) -> None:
    """2 KB content, 200-character tags, metadata keys, slot, type and agent id."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    if size[0] < 400:
        page.emulate_media(color_scheme="dark")  # phones, in the dark scheme
    _open_view(page, site, site.admin, f"#/memories/{KB}/m/{kb.long}", "memory")
    assert len(page.inner_text("#memory-content")) >= 1990
    assert LONG_META_KEY in page.inner_text("#memory-metadata")
    assert LONG_AGENT in page.inner_text("#memory-meta")
    assert_layout(page)
    if size[0] == 1440:
        shot(page, "memory")
    show(page, f"#/memories/{KB}?q=espresso%20benchmark%20notes&n=50", "memories")
    expect(page.locator(f"#mem-results tr[data-id='{kb.long}']")).to_have_count(1)
    assert_layout(page)
    show(page, f"#/memories/{KB}?n=100&superseded=1", "memories")
    expect(page.locator(f"#mem-timeline tr[data-id='{kb.long}']")).to_have_count(1)
    assert_layout(page)
    show(page, f"#/memories/{KB}/m/{quote(kb.parent)}", "memory")
    assert_layout(page)
    show(page, "#/memories", "memories-home")
    assert_layout(page)
    show(page, f"#/ns/{KB}", "namespace")  # the entries view, with its link to the memories
    assert page.is_visible("#memories-link")
    assert_layout(page)


def test_read_only_token_sees_no_actions_and_a_revoked_writer_gets_the_error(
    page: Page, site: Site, kb: Kb, console: Console
) -> None:
    _open_view(page, site, site.reader, f"#/memories/{KB}/m/{kb.coffee}", "memory")
    assert page.is_visible("#read-only")
    for action in ("archive", "restore", "reinforce"):
        assert page.locator(f"#memory-{action}").count() == 0
    assert_layout(page)
    # A writer whose access is taken away while the page is open: the server's refusal is
    # shown, and nothing changed.
    root = site.client()
    console.expect(403)
    writer_page = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    writer_page.on(
        "console", lambda m: console.errors.append(m.text) if m.type == "error" else None
    )
    try:
        _open_view(writer_page, site, site.writer, f"#/memories/{KB}/m/{kb.coffee}", "memory")
        root.update_permissions(KB, {"alice": "read"})
        writer_page.click("#memory-archive")
        expect(writer_page.locator("#status")).to_contain_text("Denied")
        assert site.client().memories(KB).get_many([kb.coffee])[0].tier != "archived"
    finally:
        root.update_permissions(KB, {"alice": "write"})
        writer_page.context.close()


def test_ten_thousand_memories_page_and_search_falls_back_to_keywords(
    page: Page, bulk: str, console: Console
) -> None:
    """10,000 records: the timeline and the search stay bounded; keyword search shows it ran."""
    console.expect(503)  # hybrid search, asked once: the server has no embedder
    # Pages of 500 rows and searches over 10,000 records on a machine shared by many: the
    # waits allow for a load spike (the figures measured are written out below).
    page.set_default_timeout(20_000)
    token = str(_BULK["token"])
    started = time.perf_counter()
    _open_view(page, bulk, token, f"#/memories/{BULK}", "memories")
    first_page = time.perf_counter() - started
    expect(page.locator("#mem-timeline tbody tr")).to_have_count(20, timeout=20_000)
    expect(page.locator("#timeline-info")).to_have_text(
        "Page 1 · 20 records, newest first · more on the next page"
    )
    newest = page.locator("#mem-timeline tbody tr").first.get_attribute("data-id")
    page.click("#mem-next")
    expect(page.locator("#timeline-info")).to_contain_text("Page 2 · 20 records", timeout=20_000)
    assert page.locator("#mem-timeline tbody tr").first.get_attribute("data-id") != newest
    page.click("#mem-prev")
    expect(page.locator("#timeline-info")).to_contain_text("Page 1 · 20 records", timeout=20_000)
    assert page.locator("#mem-timeline tbody tr").first.get_attribute("data-id") == newest
    # The largest page a timeline shows: 500 rows.
    show(page, f"#/memories/{BULK}?n=500", "memories")
    expect(page.locator("#mem-timeline tbody tr")).to_have_count(500, timeout=20_000)
    assert_layout(page)
    # No embedder here: hybrid is asked, keyword ran, and the page says so.
    started = time.perf_counter()
    show(page, f"#/memories/{BULK}?q=hello%20record&n=100", "memories")
    search_s = time.perf_counter() - started
    assert page.get_attribute("#search-mode", "data-mode") == "keyword"
    assert "no embedder" in page.inner_text("#search-mode")
    expect(page.locator("#mem-results tbody tr")).to_have_count(100, timeout=20_000)
    assert console.errors == [
        "Failed to load resource: the server responded with a status of 503 (Service Unavailable)"
    ]
    # Filters: a tag, a type, a time range; they narrow the answer.
    show(page, f"#/memories/{BULK}?q=record&tags=hello&type=fact&n=500", "memories")
    rows = page.locator("#mem-results tbody tr")
    expect(rows).to_have_count(len([i for i in range(BULK_SIZE) if i % 97 == 0 and i % 3 == 0]))
    assert page.get_attribute("#mem-filters", "open") is not None  # a filter is set: open
    page.fill("#mem-search input[name=created_after]", "2100-01-01T00:00")
    page.click("#mem-search button[type=submit]")
    page.wait_for_selector("#result-count:text('0 results')")
    (SHOTS / "load-memories.json").write_text(
        json.dumps(
            {
                "records": BULK_SIZE,
                "load_s": round(float(_BULK["load_s"]), 2),  # type: ignore[arg-type]
                "index_build_s": round(float(_BULK["index_s"]), 2),  # type: ignore[arg-type]
                "first_page_s": round(first_page, 3),
                "keyword_search_s": round(search_s, 3),
            },
            indent=2,
        )
        + "\n"
    )


def test_no_internal_key_is_visible_anywhere(page: Page, site: Site, kb: Kb) -> None:
    """Entries table, live feed, Memories views: no vector, link, index or marker key."""
    _open_view(page, site, site.admin, f"#/ns/{KB}", "namespace")
    page.wait_for_selector("#live-state:text('live')")
    assert page.is_visible("#memories-link")
    keys = page.locator("#entries tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert kb.coffee in keys and not any(k.startswith("_") for k in keys)
    # Whether the server lists a memories namespace's internal records at all (it stops once
    # they live in engine-internal keys): if it does, the table hides them and says so.
    listed = [e.key for e in site.client().list_entries(KB, limit=100).items]
    if any(k.startswith(INTERNAL) for k in listed):
        expect(page.locator("#page-info")).to_contain_text(
            "internal records of the memories hidden"
        )
    # Live: a new record, a relationship and a supersession write internal keys too.
    lt = site.client(site.writer).memories(KB)
    new = lt.add("Live note: the cache hit rate doubled", tags=["live"])
    lt.add_relationship(new.id, kb.coffee, "mentions")
    lt.supersede(new.id, "Live note: the cache hit rate tripled")
    expect(page.locator(f"#feed li:has-text('{new.id}')").first).to_be_visible()
    expect(page.locator(f"#entries tr[data-key='{new.id}']")).to_have_count(1)
    _no_internal_key(page)
    page.click("#memories-link a")
    page.wait_for_selector("main[data-view=memories]")
    page.wait_for_selector("body[data-ready]")
    _no_internal_key(page)
    show(page, f"#/memories/{KB}?q=cache&superseded=1&tier=*", "memories")
    _no_internal_key(page)
    show(page, f"#/memories/{KB}/m/{new.id}", "memory")
    _no_internal_key(page)
    show(page, "#/memories", "memories-home")
    _no_internal_key(page)
