"""Fixtures of the web UI tests: a real server, Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``make test``
installs Debian's ``chromium``) with the flags this machine needs (no sandbox as root, no
GPU, no background network traffic). Each test gets a fresh browser context (its own
sessionStorage) and fails if the page logged a console error or threw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from _ui_site import BIG, BIG_SIZE, CHROMIUM, FLAGS, Site
from playwright.sync_api import Browser, Page, sync_playwright

from hivemem._connect import _open
from hivemem.server import ServerConfig, create_app
from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def ui_server() -> Iterator[ServerThread]:
    with ServerThread() as thread:
        yield thread


@pytest.fixture(scope="module")
def site(ui_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    path = tmp_path_factory.mktemp("ui-store") / "store.db"
    core = _open(f"sqlite:///{path}", None, None, {"cleanup_interval": 0})
    app = create_app(core, ServerConfig(auth=True))
    url = ui_server.mount(app)
    tokens = app.state.hub.tokens
    admin, _ = tokens.create("root", "admin")
    writer, _ = tokens.create("alice", "agent")
    reader, _ = tokens.create("rita", "agent")
    s = Site(url, app, admin, writer, reader)
    root = s.client()
    root.create_namespace("team", description="where alice writes and rita reads")
    root.update_permissions("team", {"alice": "write", "rita": "read"})
    root.write("team", "plan", {"step": 1, "owner": "alice"})
    root.create_namespace(BIG, description="1,000 entries")
    for start in range(0, BIG_SIZE, 500):
        items = {f"item-{i:04d}": {"n": i, "tags": ["a", "b"]} for i in range(start, start + 500)}
        root.write_many(BIG, items)
    chat = root.conversation("chat-1")
    chat.add_message("user", "What is in the team namespace?")
    chat.add_message("assistant", "A plan with one step.", {"model": "test"})
    yield s
    for mem in s.clients:
        mem.close()
    ui_server.unmount(url)
    core.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        # Playwright gives each launch a fresh, empty user data dir of its own.
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


#: How Chromium logs an HTTP error answer to a request of the page.
_HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


@dataclass
class Console:
    """What a page logged as an error (console.error, uncaught exceptions, dialogs).

    Chromium also logs every 4xx answer as a console error. A test that provokes refusals
    on purpose (a bad token, a denied write, a conflict) names their statuses in
    ``expected``; any other error fails the test.
    """

    errors: list[str] = field(default_factory=list)
    expected: set[int] = field(default_factory=set)
    #: Whether the test cuts the network on purpose (Chromium logs the failed requests).
    network_errors: bool = False

    def expect(self, *statuses: int) -> None:
        self.expected.update(statuses)

    def unexpected(self) -> list[str]:
        out = []
        for text in self.errors:
            if self.network_errors and text.startswith("Failed to load resource: net::ERR_"):
                continue
            match = _HTTP_ERROR.match(text)
            if match is None or int(match[1]) not in self.expected:
                out.append(text)
        return out


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 820}, color_scheme="light")
    p = context.new_page()
    p.set_default_timeout(5000)
    p.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda exc: console.errors.append(f"uncaught: {exc}"))
    p.on("dialog", lambda d: console.errors.append(f"dialog opened: {d.message}"))
    yield p
    context.close()
    assert console.unexpected() == [], console.errors
