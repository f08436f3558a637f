"""An entry's history in the web UI (issue 20): versions, a diff, restore by compare-and-set.

A 200-character key written five times with values of about 2 KB (by two agents); the page
lists the five versions, diffs one against the current value, and restores it as a new
version (checked through the API). A restore after another agent changed the entry is
refused with a conflict and changes nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from _layout import assert_layout
from _ui_site import shot
from playwright.sync_api import expect

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _ui_site import Site
    from conftest import Console
    from playwright.sync_api import Page

NS = "history.team"
#: A fresh 200-character key per test (a key's history outlives its deletion).
_FILL = "retrieval-agents-weekly-summary-" * 7


def _value(i: int) -> dict[str, object]:
    """About 2 KB; versions differ in a few keys and in some lines of a long list."""
    findings = [f"finding {n}: the agents agree on source {n * 7 % 13}" for n in range(40)]
    findings[i * 3] = f"finding {i * 3}: REVISED in version {i + 1}"
    return {
        "title": f"Weekly summary, draft {i + 1}",
        "status": "final" if i == 4 else "draft",
        "findings": findings,
        "reviewers": ["planner", "critic"] + (["editor"] if i >= 2 else []),
        **({"approved_by": "critic"} if i == 4 else {}),
    }


@pytest.fixture
def entry(site: Site, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh key, written five times (versions 1-5) by alice and root."""
    root = site.client()
    if NS not in {n.name for n in root.list_namespaces()}:
        root.create_namespace(NS, description="entries with a history")
        root.update_permissions(NS, {"alice": "write", "rita": "read"})
    key = (f"notes/{request.node.name}/" + _FILL)[:200]
    alice = site.client(site.writer)
    for i in range(5):
        (alice if i % 2 == 0 else root).write(NS, key, _value(i))
    assert len(json.dumps(_value(0))) > 1800 and len(key) == 200
    yield key


def _open_entry(page: Page, site: Site, token: str, key: str) -> None:
    page.context.add_init_script(
        "if (!sessionStorage.getItem('hivemem.token')) "
        f"sessionStorage.setItem('hivemem.token', {json.dumps(token)})"
    )
    page.goto(site.page_url + f"#/ns/{NS}/e/{quote(key, safe='')}")
    page.wait_for_selector("main[data-view=entry]")
    page.wait_for_selector("body[data-ready]")


def _rows(page: Page) -> list[str]:
    return page.locator("#versions tbody tr").evaluate_all("rs => rs.map(r => r.dataset.version)")


@pytest.mark.parametrize("size", [(390, 844), (1440, 900)], ids=["narrow", "wide"])
def test_versions_diff_and_restore(
    page: Page, site: Site, entry: str, size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    api = site.client(site.writer)
    _open_entry(page, site, site.writer, entry)
    expect(page.locator("#versions tbody tr")).to_have_count(5)
    assert _rows(page) == ["5", "4", "3", "2", "1"]
    assert page.inner_text("#history-info") == "5 versions, newest first (all that are retained)."
    # Compare version 2 with the current value (version 5).
    page.get_by_role("button", name="Compare version 2 (revision", exact=False).click()
    expect(page.locator("#diff-h")).to_have_text("Version 2 → current version 5")
    removed = page.locator("#diff .del").all_inner_texts()
    added = page.locator("#diff .add").all_inner_texts()
    assert '-   "status": "draft",\n' in removed and '+   "status": "final",\n' in added
    assert any('"approved_by": "critic"' in line for line in added)
    assert any("REVISED in version 2" in line for line in removed)
    assert any("REVISED in version 5" in line for line in added)
    assert not any('"findings"' in line for line in removed + added)  # unchanged lines stay out
    assert page.locator("#diff .same").count() > 20
    assert_layout(page)
    if size[0] > 1000:
        page.evaluate("document.getElementById('history').scrollIntoView()")
        shot(page, "history")
    # Restore: a new version 6 holding version 2's value, through the API too.
    page.click("#restore")
    expect(page.locator("#status")).to_contain_text(f"Restored version 2 of {entry} as version 6")
    stored = api.get_entry(NS, entry)
    assert stored is not None and stored.version == 6 and stored.value == _value(1)
    expect(page.locator("#entry-version")).to_have_text("6")
    expect(page.locator("#versions tbody tr")).to_have_count(6)
    assert _rows(page)[0] == "6"
    assert json.loads(page.inner_text("#entry-json")) == _value(1)
    assert page.locator("#diff-panel *").count() == 0
    assert_layout(page)


def test_restore_after_a_concurrent_change_is_refused(
    page: Page, site: Site, entry: str, console: Console
) -> None:
    console.expect(409)
    other = site.client()
    _open_entry(page, site, site.admin, entry)
    expect(page.locator("#versions tbody tr")).to_have_count(5)
    page.get_by_role("button", name="Compare version 1 (revision", exact=False).click()
    expect(page.locator("#diff-h")).to_have_text("Version 1 → current version 5")
    # Another agent changes the entry after the comparison was made.
    meanwhile = {"title": "changed meanwhile", "by": "root"}
    other.write(NS, entry, meanwhile)
    expect(page.locator("#history-changed")).to_contain_text("changed this entry to version 6")
    page.click("#restore")
    expect(page.locator("#restore-conflict")).to_contain_text(
        "it was version 5, it is now version 6. Nothing was overwritten."
    )
    stored = other.get_entry(NS, entry)
    assert stored is not None and stored.version == 6 and stored.value == meanwhile
    expect(page.locator("#versions tbody tr")).to_have_count(6)
    assert_layout(page)
    # Compared again, against version 6, the restore goes through.
    page.get_by_role("button", name="Compare version 1 (revision", exact=False).click()
    expect(page.locator("#diff-h")).to_have_text("Version 1 → current version 6")
    page.click("#restore")
    expect(page.locator("#status")).to_contain_text("as version 7")
    stored = other.get_entry(NS, entry)
    assert stored is not None and stored.version == 7 and stored.value == _value(0)


def test_a_reader_sees_history_without_restore(page: Page, site: Site, entry: str) -> None:
    _open_entry(page, site, site.reader, entry)
    expect(page.locator("#versions tbody tr")).to_have_count(5)
    page.locator("#versions button.compare").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#diff-h")).to_have_text("Version 5 → current version 5")
    expect(page.locator("#diff-summary")).to_have_text("Version 5 holds the current value.")
    assert page.locator("#restore").count() == 0
    assert_layout(page)


def test_a_deleted_entry_is_restored_from_its_history(
    page: Page, site: Site, entry: str, console: Console
) -> None:
    """A deleted key's page still lists its versions; a restore creates it again (if absent)."""
    console.expect(404)  # the read of the key, which is gone
    alice = site.client(site.writer)
    assert alice.delete(NS, entry) is True
    _open_entry(page, site, site.writer, entry)
    expect(page.locator("#no-entry")).to_be_visible()
    expect(page.locator("#versions tbody tr")).to_have_count(6)
    assert page.locator("#versions tbody tr").first.inner_text().count("deleted") == 1
    assert page.locator("#versions tbody tr").first.locator("button").is_disabled()
    page.get_by_role("button", name="Compare version 3 (revision", exact=False).click()
    expect(page.locator("#diff-h")).to_have_text("Version 3 → no current value")
    assert page.locator("#diff .same").count() == 0 and page.locator("#diff .del").count() > 40
    assert_layout(page)
    page.click("#restore")
    page.wait_for_selector("main[data-view=entry] #entry-json")
    stored = alice.get_entry(NS, entry)
    assert stored is not None and stored.value == _value(2)
    expect(page.locator("#entry-version")).to_have_text(str(stored.version))
    assert json.loads(page.inner_text("#entry-json")) == _value(2)
    expect(page.locator("#versions tbody tr")).to_have_count(7)
