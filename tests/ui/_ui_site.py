"""What the web UI tests share: the site under test, the browser flags, page helpers."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hivemem

# The userspace TCP proxy of the server tests, which a test can cut (tests/server/_proxy.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

if TYPE_CHECKING:
    from playwright.sync_api import Page
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the tests put their screenshots (linked from README.md).
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
BIG = "big"  # a namespace of 1,000 entries
BIG_SIZE = 1000


@dataclass
class Site:
    """One app on the test server: its URL, tokens and a remote client per agent."""

    url: str
    app: Any
    admin: str  # "root", admin token
    writer: str  # "alice", write access to "team"
    reader: str  # "rita", read-only in "team"
    clients: list[hivemem.Memory] = field(default_factory=list)

    @property
    def page_url(self) -> str:
        return self.url + "/"

    def client(self, token: str | None = None) -> hivemem.Memory:
        mem = hivemem.connect(self.url, token=token or self.admin, cleanup_interval=0)
        self.clients.append(mem)
        return mem


def login(page: Page, site: Site, token: str) -> None:
    """Open the UI and log in with a token; wait for the namespaces view."""
    page.goto(site.page_url)
    page.wait_for_selector("main[data-view=login]")
    page.fill("#token", token)
    page.press("#token", "Enter")
    page.wait_for_selector("main[data-view=namespaces]")


def show(page: Page, hash_: str, view: str) -> None:
    """Navigate within the UI and wait for the view to render."""
    page.evaluate("h => { delete document.body.dataset.ready; location.hash = h; }", hash_)
    page.wait_for_selector(f"main[data-view={view}]")
    page.wait_for_selector("body[data-ready]")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
