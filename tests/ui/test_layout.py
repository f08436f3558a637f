"""The web UI's layout with real data (issue 18): every view, 390 and 1440 px, light and dark.

The store holds what a busy team's store holds: a namespace of 10,000 entries whose keys run
up to 200 characters and values up to 2 KB, a namespace with the longest name allowed (128
characters), agents with long ids, 1,000 audit records, a conversation of long messages.
Each view is checked with :func:`_layout.assert_layout` (no overlaps, no column narrower than
its header, keys readable, no sideways page scroll, every control reachable), not only for
the presence of its parts. The screenshots in docs/ui come from these pages.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from _layout import assert_layout
from _ui_site import shot
from playwright.sync_api import expect

from hivemem.errors import PermissionDenied

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _ui_site import Site
    from conftest import Console
    from playwright.sync_api import Page

NOTES = "research.notes"  # 10,000 entries
NOTES_SIZE = 10_000
LONG_NS = ("eval.multi-agent-memory.long-running-benchmark:" + "x7Kq9" * 40)[:128]
LONG_AGENT = ("summariser.eu-west-1.pool-7@research-team." + "agent" * 30)[:128]
AGENTS = ("planner", "retriever-2", "critic@research", LONG_AGENT)
CHAT = "support-ticket-2026-12-07T19:45:12Z-customer-8841-escalation-" + "q" * 40
WIDTHS = {"narrow": (390, 844), "wide": (1440, 900)}
_WORDS = [
    "agent",
    "memory",
    "shared",
    "namespace",
    "conflict",
    "merge",
    "version",
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
    "throughput",
    "cache",
    "consistency",
    "snapshot",
    "replay",
    "event",
    "stream",
    "token",
    "permission",
    "audit",
    "research",
    "finding",
    "hypothesis",
    "experiment",
    "result",
    "dataset",
    "model",
    "prompt",
    "context",
    "window",
    "tool",
    "call",
]


def _text(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(_WORDS))
    return " ".join(words)[:length]


def _key(rng: random.Random, i: int) -> str:
    """A key of 20 to 200 characters; every 7th is 200, every 50th a 200-char unbroken token."""
    head = f"notes/{i:05d}-"
    if i % 50 == 3:
        return head + ("sha256" + "0123456789abcdef" * 13)[: 200 - len(head)]
    length = 200 if i % 7 == 0 else rng.randint(24, 120)
    return head + _text(rng, length - len(head)).replace(" ", "-")


def _value(rng: random.Random, i: int) -> dict[str, object]:
    """A JSON value of 300 bytes to 2 KB (every 5th close to 2 KB)."""
    size = 2000 if i % 5 == 0 else rng.randint(300, 1200)
    value: dict[str, object] = {
        "title": _text(rng, 60).capitalize(),
        "source": f"https://arxiv.org/abs/2612.{i:05d}",
        "tags": rng.sample(_WORDS, 4),
        "score": round(rng.random(), 3),
        "summary": "",
    }
    value["summary"] = _text(rng, max(20, size - len(json.dumps(value))))
    return value


@dataclass
class Data:
    """The tokens of the agents that wrote the data."""

    tokens: dict[str, str]


@pytest.fixture(scope="module")
def data(site: Site) -> Iterator[Data]:
    rng = random.Random(18)
    hub_tokens = site.app.state.hub.tokens
    tokens = {agent: hub_tokens.create(agent, "agent")[0] for agent in AGENTS}
    root = site.client()
    root.create_namespace(
        NOTES, description="Findings the research agents share: " + _text(rng, 200)
    )
    root.update_permissions(NOTES, {a: "write" for a in AGENTS} | {"rita": "read"})
    writers = [site.client(tokens[a]) for a in AGENTS]
    for start in range(0, NOTES_SIZE, 500):
        items = {_key(rng, i): _value(rng, i) for i in range(start, start + 500)}
        writers[(start // 500) % len(writers)].write_many(NOTES, items)
    root.create_namespace(LONG_NS, description=_text(rng, 300), ttl=86400)
    root.update_permissions(LONG_NS, {LONG_AGENT: "write", "rita": "read", "alice": "admin"})
    long_writer = site.client(tokens[LONG_AGENT])
    long_keys = [_key(rng, 7 * i) for i in range(30)]
    long_writer.write_many(LONG_NS, {k: _value(rng, 5 * i) for i, k in enumerate(long_keys)})
    for name in ("demo.tasks", "demo.results", "demo.locks", "demo.counters", "agents.memory"):
        root.create_namespace(name, description=_text(rng, rng.randint(10, 80)))
        root.write(name, "status", {"ok": True})
    # 1,000 audit records and more: single writes on long keys, and refused writes.
    for i in range(1000):
        long_writer.write(LONG_NS, long_keys[i % 30], _value(rng, i))
    reader = site.client(site.reader)
    for i in range(3):
        with pytest.raises(PermissionDenied):
            reader.write(LONG_NS, _key(rng, 7 * i), {"n": i})
    chat = root.conversation(CHAT)
    for i in range(6):
        role = "user" if i % 2 == 0 else "assistant"
        chat.add_message(role, _text(rng, 2000 if i % 2 else 300), {"model": "m", "turn": i})
    yield Data(tokens)


def _open(
    page: Page, site: Site, token: str, hash_: str, view: str, size: str, scheme: str
) -> None:
    width, height = WIDTHS[size]
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.context.add_init_script(
        "if (!sessionStorage.getItem('hivemem.token')) "
        f"sessionStorage.setItem('hivemem.token', {json.dumps(token)})"
    )
    page.goto(site.page_url + hash_)
    page.wait_for_selector(f"main[data-view={view}]")
    page.wait_for_selector("body[data-ready]")


def _first_keys(site: Site, n: int = 1) -> list[str]:
    return [e.key for e in site.client().list_entries(NOTES, limit=n).items]


VIEWS = (
    "namespaces",
    "namespace",
    "read-only",
    "entry",
    "audit",
    "stats",
    "conversations",
    "conversation",
    "missing",
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["narrow", "wide"])
@pytest.mark.parametrize("view", VIEWS)
def test_view_layout(page: Page, site: Site, data: Data, view: str, size: str, scheme: str) -> None:
    token = site.reader if view == "read-only" else site.admin
    hash_, name = {
        "namespaces": ("#/", "namespaces"),
        "namespace": (f"#/ns/{NOTES}", "namespace"),
        "read-only": (f"#/ns/{NOTES}", "namespace"),
        "entry": (f"#/ns/{NOTES}/e/{quote(_first_keys(site)[0], safe='')}", "entry"),
        "audit": ("#/audit?limit=1000", "audit"),
        "stats": ("#/stats", "stats"),
        "conversations": ("#/conversations", "conversations"),
        "conversation": (f"#/conversations/{CHAT}", "conversation"),
        "missing": ("#/nowhere", "missing"),
    }[view]
    _open(page, site, token, hash_, name, size, scheme)
    if view in ("namespace", "read-only"):
        rows = page.locator("#entries tbody tr")
        expect(rows).to_have_count(100)
        page.wait_for_selector("#live-state:text('live')")
        if view == "namespace":
            page.click("summary:text('New entry')")
            assert page.is_visible("#new-value")
        # Live writes by an agent with a long id on long keys: the feed and the table take them.
        writer = site.client(data.tokens[LONG_AGENT])
        rng = random.Random(18)
        for i, key in enumerate(_first_keys(site, 4)):
            writer.write(NOTES, key, _value(rng, 5 * i))
        expect(page.locator("#feed li")).to_have_count(4)
        expect(page.locator("#page-info")).to_have_text(
            "Page 1 · 100 entries · more on the next page"
        )
    elif view == "audit":
        expect(page.locator("#audit tbody tr")).to_have_count(1000)
    elif view == "namespaces":
        assert page.locator(f"#namespaces a:text('{LONG_NS}')").count() == 1
    elif view == "entry":
        assert len(page.inner_text("#entry-json")) > 1500
    elif view == "conversation":
        expect(page.locator("#messages .msg")).to_have_count(6)
    assert page.is_visible("#nav") and page.is_visible("#logout")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == ("rgb(17, 20, 24)" if scheme == "dark" else "rgb(255, 255, 255)")
    assert_layout(page)
    if view == "namespace":
        page.click("summary:text('New entry')")  # closed again: the shots show the table
    if scheme == "light" and size == "wide" and view != "missing":
        shot(page, view)
    elif view == "namespace" and scheme == "dark" and size == "wide":
        shot(page, "namespace-dark")
    elif view in ("namespace", "entry") and scheme == "light" and size == "narrow":
        shot(page, f"{view}-mobile")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["narrow", "wide"])
def test_login_layout(page: Page, site: Site, size: str, scheme: str, console: Console) -> None:
    width, height = WIDTHS[size]
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    page.goto(site.page_url)
    page.wait_for_selector("main[data-view=login]")
    # Before login: neither the nav nor the logout button shows (`hidden` wins over CSS).
    assert not page.is_visible("#nav") and not page.is_visible("#logout")
    assert_layout(page)
    if scheme == "light" and size == "wide":
        shot(page, "login")
    console.expect(401)
    page.fill("#token", "hm_" + "x" * 300)
    page.press("#token", "Enter")
    page.wait_for_selector("#status:has-text('unknown or revoked')")
    assert not page.is_visible("#nav")
    assert_layout(page)


@pytest.mark.parametrize("size", ["narrow", "wide"])
def test_thousand_rows_a_page(page: Page, site: Site, data: Data, size: str) -> None:
    """The largest page (1,000 entries of up to 2 KB under keys up to 200 characters)."""
    _open(page, site, site.admin, f"#/ns/{NOTES}", "namespace", size, "light")
    page.select_option("#filter select[name=limit]", "1000")
    page.press("#prefix", "Enter")
    expect(page.locator("#entries tbody tr")).to_have_count(1000, timeout=10_000)
    expect(page.locator("#page-info")).to_have_text(
        "Page 1 · 1000 entries · more on the next page", timeout=10_000
    )
    assert_layout(page)
    if size == "wide":  # the header row stays on screen while the page scrolls
        page.evaluate("scrollTo(0, 20000)")
        box = page.locator("#entries th").first.bounding_box()
        assert box is not None and abs(box["y"]) < 2, box
    page.click("#next-page")
    expect(page.locator("#page-info")).to_contain_text("Page 2 · 1000 entries", timeout=10_000)


@pytest.mark.parametrize("size", ["narrow", "wide"])
def test_long_namespace_admin_view(page: Page, site: Site, data: Data, size: str) -> None:
    """A 128-character namespace: title, configuration form, permissions of long agent ids."""
    _open(page, site, site.admin, f"#/ns/{LONG_NS}", "namespace", size, "light")
    expect(page.locator("#entries tbody tr")).to_have_count(30)
    agents = page.locator("#permissions tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.agent)"
    )
    assert {LONG_AGENT, "rita", "alice"} <= set(agents)
    assert_layout(page)
    # Armed buttons say more: "Really delete <128 chars> and all its entries?" still fits.
    page.click("#delete-namespace")
    expect(page.locator("#delete-namespace")).to_contain_text("Really delete")
    row = page.locator("#entries tbody tr").first
    key = row.get_attribute("data-key")
    assert key is not None
    row.locator("button").click()
    expect(row.locator("button")).to_have_text("Confirm")
    assert_layout(page)
    # Confirmed: the status bar names the 200-character key.
    row.locator("button").click()
    expect(page.locator("#status")).to_contain_text(f"Deleted {key}")
    expect(page.locator("#page-info")).to_have_text("Page 1 · 29 entries")
    assert_layout(page)
    site.client(data.tokens[LONG_AGENT]).write(LONG_NS, key, {"restored": True})
    expect(page.locator("#page-info")).to_have_text("Page 1 · 30 entries")


@pytest.mark.parametrize("size", ["narrow", "wide"])
def test_conflict_layout(page: Page, site: Site, data: Data, size: str, console: Console) -> None:
    """The conflict notice on a 2 KB value under a 200-character key."""
    console.expect(409)
    key = _first_keys(site)[0]
    _open(page, site, site.admin, f"#/ns/{NOTES}/e/{quote(key, safe='')}", "entry", size, "light")
    page.fill("#editor", '{"title": "my edit"}')
    other = site.client(data.tokens["planner"])
    other.write(NOTES, key, _value(random.Random(1), 0))
    page.wait_for_selector("#changed")
    page.click("#save")
    page.wait_for_selector("#conflict")
    assert_layout(page)
    if size == "wide":
        shot(page, "conflict")


def test_live_writes_layout(page: Page, site: Site, data: Data) -> None:
    """Writes arriving live (2 KB values, long keys) land in the table, the count and the feed."""
    _open(page, site, site.admin, f"#/ns/{LONG_NS}", "namespace", "wide", "light")
    page.wait_for_selector("#live-state:text('live')")
    expect(page.locator("#page-info")).to_have_text("Page 1 · 30 entries")
    writer = site.client(data.tokens[LONG_AGENT])
    rng = random.Random(99)
    keys = [f"notes/live-{i}-" + _text(rng, 150).replace(" ", "-") for i in range(3)]
    for i, key in enumerate(keys):
        writer.write(LONG_NS, key, _value(rng, 5 * i))
    expect(page.locator("#page-info")).to_have_text("Page 1 · 33 entries")
    expect(page.locator("#feed li")).to_have_count(3)
    for key in keys:  # (each row is drawn from its event, then redrawn from a fresh read)
        expect(page.locator(f"#entries tr[data-key='{key}']")).to_have_count(1)
    assert_layout(page)
    shot(page, "live")
    writer.delete(LONG_NS, keys[0])
    expect(page.locator("#page-info")).to_have_text("Page 1 · 32 entries")
    for key in keys[1:]:
        writer.delete(LONG_NS, key)


@pytest.mark.parametrize("size", ["narrow", "wide"])
def test_long_agent_id_in_the_header(page: Page, site: Site, data: Data, size: str) -> None:
    """Logged in as a 128-character agent id: the header wraps it, nothing overlaps."""
    _open(page, site, data.tokens[LONG_AGENT], "#/", "namespaces", size, "light")
    assert page.inner_text("#who") == f"{LONG_AGENT} · agent"
    assert_layout(page)
