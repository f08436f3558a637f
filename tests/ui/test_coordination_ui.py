"""The web UI's coordination pages (issue 19): a namespace's locks, queues and presence, and
the webhooks page with its deliveries, against a real server and real Chromium.

Agents act through the remote Python client (``hivemem.connect(url, token=...)``) while the
page is open: what they do must show without a reload (the namespace's event stream drives
the page), with real sizes (lock names and keys of 200 characters, task values and
presence info of about 2 KB, agent ids of 128 characters).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from _layout import assert_layout
from _ui_site import Site, shot
from playwright.sync_api import expect

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.webhooks.guard import Allow
from hivemem.webhooks.worker import Deliverer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Console
    from playwright.sync_api import Page

    from hivemem.testing.server import ServerThread

NS = "coord.team"
LONG_AGENT = ("worker.eu-west-1.pool-3@coordination-team." + "agent" * 30)[:128]
LOCK = "deploy/" + "release-train-2026-12-08/" * 7 + "x" * 200  # cut to 200 below
LOCK = LOCK[:200]


def _blob(tag: str, size: int = 2000) -> dict[str, object]:
    """A JSON value of about ``size`` bytes."""
    words = f"{tag} summarise the findings of the retrieval agents and cite every source "
    return {"tag": tag, "text": (words * (size // len(words) + 1))[: size - 40]}


def _open_page(page: Page, site: Site, token: str, hash_: str, view: str) -> None:
    page.context.add_init_script(
        "if (!sessionStorage.getItem('hivemem.token')) "
        f"sessionStorage.setItem('hivemem.token', {json.dumps(token)})"
    )
    page.goto(site.page_url + hash_)
    page.wait_for_selector(f"main[data-view={view}]")
    page.wait_for_selector("body[data-ready]")


@pytest.fixture(scope="module")
def coord(site: Site) -> Iterator[dict[str, str]]:
    """A namespace alice and an agent with a long id write to; rita reads it."""
    tokens = site.app.state.hub.tokens
    long_token, _ = tokens.create(LONG_AGENT, "agent")
    root = site.client()
    root.create_namespace(NS, description="locks, queues and presence of the team")
    root.update_permissions(NS, {"alice": "write", "rita": "read", LONG_AGENT: "write"})
    yield {"long": long_token}


def _cell(page: Page, table: str, attr: str, name: str, cls: str) -> str:
    row = page.locator(f"#{table} tr[data-{attr}={json.dumps(name)}]")
    return row.locator(f"td.{cls}").inner_text()


def test_locks_show_holder_and_token_until_released(
    page: Page, site: Site, coord: dict[str, str]
) -> None:
    """A reader sees a lock held by an agent (holder, fencing token) appear and go."""
    _open_page(page, site, site.reader, f"#/ns/{NS}/coordination", "coordination")
    page.wait_for_selector("#live-state:text('live')")
    expect(page.locator("#locks-info")).to_have_text("No lock is held.")
    alice = site.client(site.writer)
    other = site.client(coord["long"])
    lk = alice.try_lock(NS, LOCK, ttl=120)
    lk2 = other.try_lock(NS, "db/migrate", ttl=120)
    assert lk is not None and lk2 is not None and lk2.token > lk.token
    row = page.locator(f"#locks tr[data-lock={json.dumps(LOCK)}]")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("alice")
    expect(row.locator("td.token")).to_have_text(str(lk.token))
    other_row = page.locator("#locks tr[data-lock='db/migrate']")
    expect(other_row.locator("td").nth(1)).to_have_text(LONG_AGENT)
    expect(other_row.locator("td.token")).to_have_text(str(lk2.token))
    expect(page.locator("#locks-info")).to_have_text("2 held locks.")
    assert_layout(page)
    assert alice.unlock(lk) is True
    expect(row).to_have_count(0)
    expect(page.locator("#locks-info")).to_have_text("1 held lock.")
    other.unlock(lk2)
    expect(page.locator("#locks-info")).to_have_text("No lock is held.")


def test_an_expired_hold_leaves_without_a_sweep(
    page: Page, site: Site, coord: dict[str, str]
) -> None:
    """A holder that dies (never releases, no sweeper runs here) leaves at its expiry."""
    _open_page(page, site, site.reader, f"#/ns/{NS}/coordination", "coordination")
    page.wait_for_selector("#live-state:text('live')")
    lk = site.client(site.writer).try_lock(NS, "short/" + LOCK[:150], ttl=2.0)
    assert lk is not None
    row = page.locator(f"#locks tr[data-lock={json.dumps(lk.name)}]")
    expect(row.locator("td.token")).to_have_text(str(lk.token))
    expect(row).to_have_count(0, timeout=15_000)
    expect(page.locator("#locks-info")).to_have_text("No lock is held.")


def test_queue_depths_follow_put_claim_ack_and_dead_letters(
    page: Page, site: Site, coord: dict[str, str]
) -> None:
    """Depths change as agents put, claim and ack; a poisoned task lands in the dead letters."""
    alice = site.client(site.writer)
    q = alice.queue(NS, "ingest", max_attempts=2)
    _open_page(page, site, site.admin, f"#/ns/{NS}/coordination", "coordination")
    page.wait_for_selector("#live-state:text('live')")

    def depths() -> dict[str, str]:
        row = page.locator("#queues tr[data-queue='ingest']")
        return {
            c: row.locator(f"td.{c}").inner_text() for c in ("ready", "delayed", "claimed", "dead")
        }

    for i in range(3):
        q.put(_blob(f"doc-{i}"))
    q.put(_blob("later"), delay=3600)
    expect(page.locator("#queues tr[data-queue='ingest'] td.ready")).to_have_text("3")
    assert depths() == {"ready": "3", "delayed": "1", "claimed": "0", "dead": "0"}
    t = q.claim(worker="w1", visibility=60)
    assert t is not None
    expect(page.locator("#queues tr[data-queue='ingest'] td.claimed")).to_have_text("1")
    assert depths() == {"ready": "2", "delayed": "1", "claimed": "1", "dead": "0"}
    q.ack(t)
    expect(page.locator("#queues tr[data-queue='ingest'] td.claimed")).to_have_text("0")
    assert depths() == {"ready": "2", "delayed": "1", "claimed": "0", "dead": "0"}
    # A poisoned task: every claim fails (nack), and after max_attempts it is dead.
    poison = None
    for _ in range(2):
        poison = q.claim(visibility=60)
        assert poison is not None
        q.nack(poison)
    assert poison is not None
    expect(page.locator("#queues tr[data-queue='ingest'] td.dead")).to_have_text("1")
    assert depths() == {"ready": "1", "delayed": "1", "claimed": "0", "dead": "1"}
    page.get_by_role("button", name="Dead letters of ingest").click()
    dead = page.locator(f"#dead-letters tr[data-task='{poison.id}']")
    expect(dead).to_have_count(1)
    assert dead.locator("td").nth(2).inner_text() == "2"  # attempts
    assert "doc-" in dead.locator("td").nth(1).inner_text()
    assert_layout(page)


def test_depths_update_during_a_flood_of_puts(
    page: Page, site: Site, coord: dict[str, str]
) -> None:
    """Events every few ms do not postpone the page's reload until they stop."""
    q = site.client(site.writer).queue(NS, "flood")
    q.put({"n": -1})
    _open_page(page, site, site.reader, f"#/ns/{NS}/coordination", "coordination")
    page.wait_for_selector("#live-state:text('live')")
    expect(page.locator("#queues tr[data-queue='flood'] td.ready")).to_have_text("1")
    done = threading.Event()

    def flood() -> None:
        mem = site.client(site.writer)
        try:
            for i in range(400):
                mem.queue(NS, "flood").put({"n": i})
                if done.is_set():
                    return
                done.wait(0.01)
        finally:
            done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    try:
        expect(page.locator("#queues tr[data-queue='flood'] td.ready")).not_to_have_text("1")
        assert not done.is_set(), "the page showed the new depth only after the flood"
    finally:
        done.set()
        thread.join(30)
    total = q.stats()["ready"]
    expect(page.locator("#queues tr[data-queue='flood'] td.ready")).to_have_text(str(total))


def test_queues_page_by_25(page: Page, site: Site, coord: dict[str, str]) -> None:
    """60 queues: 25 a page, "More queues" adds the next (the keyboard reaches it)."""
    root = site.client()
    root.create_namespace("coord.many")
    names = [f"jobs-{i:02d}." + "w" * 100 for i in range(60)]
    for name in names:
        root.queue("coord.many", name).put({"n": 1})
    _open_page(page, site, site.admin, "#/ns/coord.many/coordination", "coordination")
    rows = page.locator("#queues tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#queues-info")).to_have_text("25 queues shown; more follow.")
    page.locator("#queues-more").focus()
    page.keyboard.press("Enter")
    expect(rows).to_have_count(50)
    page.click("#queues-more")
    expect(rows).to_have_count(60)
    expect(page.locator("#queues-info")).to_have_text("60 queues.")
    assert not page.is_visible("#queues-more")
    shown = rows.evaluate_all("rs => rs.map(r => r.dataset.queue)")
    assert shown == sorted(names)
    assert_layout(page)


def test_presence_shows_joined_agents(page: Page, site: Site, coord: dict[str, str]) -> None:
    """Agents that join appear with their info; a revoked lease takes its agent away."""
    _open_page(page, site, site.reader, f"#/ns/{NS}/coordination", "coordination")
    page.wait_for_selector("#live-state:text('live')")
    alice = site.client(site.writer)
    other = site.client(coord["long"])
    la = alice.grant_lease(120)
    lb = other.grant_lease(120)
    alice.join(NS, lease=la.id, info={"role": "planner", "notes": _blob("plan")})
    other.join(NS, lease=lb.id, info={"role": "retriever"})
    expect(page.locator("#presence tbody tr")).to_have_count(2)
    assert page.locator("#presence tr[data-agent='alice']").inner_text().count("planner") == 1
    expect(page.locator(f"#presence tr[data-agent={json.dumps(LONG_AGENT)}]")).to_have_count(1)
    expect(page.locator("#presence-info")).to_have_text("2 agents present.")
    assert_layout(page)
    other.revoke_lease(lb.id)
    expect(page.locator("#presence tbody tr")).to_have_count(1)
    alice.revoke_lease(la.id)
    expect(page.locator("#presence-info")).to_have_text("Nobody is present.")


@pytest.mark.parametrize(
    ("size", "scheme"),
    [((390, 844), "light"), ((1440, 900), "light"), ((1440, 900), "dark")],
    ids=["narrow", "wide", "wide-dark"],
)
def test_coordination_layout_with_everything(
    page: Page, site: Site, coord: dict[str, str], size: tuple[int, int], scheme: str
) -> None:
    """All three at once, at phone and desktop width: nothing overlaps or spills."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    alice = site.client(site.writer)
    other = site.client(coord["long"])
    held = [alice.try_lock(NS, f"{LOCK[:190]}-{i}", ttl=300) for i in range(3)]
    held.append(other.try_lock(NS, "db/migrate", ttl=300))
    name = f"reports.weekly-{size[0]}-{scheme}:" + "q" * 100
    q = other.queue(NS, name, max_attempts=1)
    for i in range(5):
        q.put(_blob(f"report-{i}"), priority=i)
    t = q.claim(visibility=60)
    assert t is not None
    q.nack(t)  # dead at once (max_attempts=1)
    q.claim(visibility=300)
    leases = [alice.grant_lease(300), other.grant_lease(300)]
    alice.join(NS, lease=leases[0].id, info={"role": "planner", "notes": _blob("plan")})
    other.join(NS, lease=leases[1].id, info={"role": "retriever"})
    try:
        _open_page(page, site, site.admin, f"#/ns/{NS}/coordination", "coordination")
        page.wait_for_selector("#live-state:text('live')")
        expect(page.locator("#locks tbody tr")).to_have_count(4)
        page.get_by_role("button", name=f"Dead letters of {name}").click()
        expect(page.locator("#dead-letters tbody tr")).to_have_count(1)
        assert_layout(page)
        if size[0] > 1000 and scheme == "light":
            shot(page, "coordination")
    finally:
        for lk in held:
            if lk is not None:
                (alice if lk.holder == "alice" else other).unlock(lk)
        alice.revoke_lease(leases[0].id)
        other.revoke_lease(leases[1].id)


def test_tabs_link_entries_and_coordination(page: Page, site: Site, coord: dict[str, str]) -> None:
    """The namespace's tabs move between its entries and its coordination page (keyboard)."""
    _open_page(page, site, site.writer, f"#/ns/{NS}", "namespace")
    tab = page.get_by_role("link", name="Locks, queues, presence")
    tab.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("main[data-view=coordination]")
    expect(page.get_by_role("link", name="Locks, queues, presence")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("link", name="Entries", exact=True).click()
    page.wait_for_selector("main[data-view=namespace]")


# ---------------------------------------------------------------------- webhooks


class _Receiver(BaseHTTPRequestHandler):
    """A local webhook target: ``/ok`` answers 204, ``/fail`` 500."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204 if self.path == "/ok" else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hooks(ui_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """An app that allows loopback targets, its delivery worker, and a local receiver."""
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    path = tmp_path_factory.mktemp("ui-hooks") / "store.db"
    core = _open(f"sqlite:///{path}", None, None, {"cleanup_interval": 0})
    app = create_app(core, ServerConfig(auth=True, allow_webhook_hosts="127.0.0.1"))
    url = ui_server.mount(app)
    tokens = app.state.hub.tokens
    admin, _ = tokens.create("root", "admin")
    writer, _ = tokens.create("alice", "agent")
    reader, _ = tokens.create("rita", "agent")
    s = Site(url, app, admin, writer, reader)
    s.receiver = f"http://127.0.0.1:{receiver.server_address[1]}"  # type: ignore[attr-defined]
    # The worker a server runs in its lifespan (a mounted app has none): its own loop, in
    # a thread, stopped by cancelling its task.
    worker = Deliverer(core.backend, allow=Allow(["127.0.0.1"]), max_failures=0, poll=0.05,
                       backoff=0.05, backoff_cap=0.2)  # fmt: skip
    loop = asyncio.new_event_loop()
    task = loop.create_task(worker.run())

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield s
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()
        for mem in s.clients:
            mem.close()
        ui_server.unmount(url)
        core.close()
        receiver.shutdown()
        receiver.server_close()


def test_webhooks_page_lists_deliveries(page: Page, hooks: Site, console: Console) -> None:
    """Two webhooks to a local receiver: one's deliveries succeed (204), the other's fail (500)."""
    root = hooks.client()
    target: str = hooks.receiver  # type: ignore[attr-defined]
    root.create_namespace("team")
    ok = root.add_webhook(target + "/ok", ["team"], events=["memory:*"])
    bad = root.add_webhook(target + "/fail", ["team"], events=["memory:write"])
    key = "notes/" + "k" * 194
    for i in range(3):
        root.write("team", key, _blob(f"v{i}"))

    def logged(hook_id: str, n: int) -> bool:
        return len(root.webhook_deliveries(hook_id)) >= n

    deadline = 200
    while deadline and not (logged(ok.id, 1) and logged(bad.id, 3)):
        page.wait_for_timeout(100)
        deadline -= 1
    assert logged(ok.id, 1) and logged(bad.id, 3)
    _open_page(page, hooks, hooks.admin, "#/webhooks", "webhooks")
    good = page.locator(f"article.hook[data-hook='{ok.id}']")
    failing = page.locator(f"article.hook[data-hook='{bad.id}']")
    expect(good.locator("h2")).to_have_text(target + "/ok")
    first = good.locator("table.deliveries tbody tr").first
    expect(first.locator("td.status-code")).to_have_text("204")
    assert first.get_attribute("data-ok") == "true"
    assert "delivered" in first.inner_text() and "team" in first.inner_text()
    rows = failing.locator("table.deliveries tbody tr")
    assert rows.count() >= 3
    for i in range(min(rows.count(), 5)):
        assert rows.nth(i).locator("td.status-code").inner_text() == "500"
        assert rows.nth(i).get_attribute("data-ok") == "false"
    assert "failed" in rows.first.inner_text()
    # Attempts count up on the retries of one batch (newest first).
    attempts = [int(rows.nth(i).locator("td").nth(4).inner_text()) for i in range(3)]
    assert attempts == sorted(attempts, reverse=True) and attempts[0] >= 3
    assert_layout(page)
    shot(page, "webhooks")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_layout(page)
    # An agent that administers no namespace of theirs sees none of them.
    page.evaluate(
        "t => { sessionStorage.clear(); sessionStorage.setItem('hivemem.token', t); }",
        hooks.reader,
    )
    page.reload()
    page.wait_for_selector("main[data-view=webhooks]")
    page.wait_for_selector("body[data-ready]")
    assert page.inner_text("#who") == "rita · agent"
    expect(page.locator("#webhooks")).to_have_text("No webhook you administer.")
    assert console.unexpected() == []
