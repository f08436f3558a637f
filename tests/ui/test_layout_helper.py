"""The layout check itself (tests/ui/_layout.py): each rule fails on a page that breaks it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _layout import layout_problems

if TYPE_CHECKING:
    from playwright.sync_api import Page

_BASE = "<style>body{margin:0;font:14px sans-serif} th,td{padding:4px}</style>"
_KEY = "notes/00000-" + "window-dataset-evidence-" * 7


def _problems(page: Page, body: str, width: int = 800) -> list[str]:
    page.set_viewport_size({"width": width, "height": 600})
    page.set_content(_BASE + body)
    return layout_problems(page)


def test_a_sound_page_has_no_problem(page: Page) -> None:
    body = f"""
      <header><a href="#a">Home</a> <button>Log out</button></header>
      <h1>A title</h1>
      <div style="overflow-x:auto"><table style="width:1200px"><thead><tr>
        <th>Key</th><th>Action</th></tr></thead>
        <tbody><tr><td class="key"><a href="#k">{_KEY}</a></td>
        <td style="width:100px"><button>Delete</button></td></tr></tbody></table></div>
      <aside>a panel</aside>"""
    assert _problems(page, body, 390) == []


@pytest.mark.parametrize(
    ("body", "width", "expected"),
    [
        (
            '<button style="position:absolute;left:10px;top:10px">One</button>'
            '<button style="position:absolute;left:30px;top:12px">Two</button>',
            800,
            ("overlap: ", 'button "One"', 'button "Two"'),
        ),
        (
            '<div style="display:flex"><div style="width:200px"><table style="width:400px">'
            '<tbody><tr><td style="width:300px">x</td><td><button>Delete</button></td></tr>'
            '</tbody></table></div><aside style="width:300px"><h2 style="margin:0">Live events'
            "</h2></aside></div>",
            800,
            ("overlap: ", 'button "Delete"', 'h2 "Live events"'),
        ),
        (
            '<table style="table-layout:fixed;width:200px"><thead><tr>'
            '<th style="width:30px">Max entries</th><th>Name</th></tr></thead></table>',
            800,
            ("column narrower than its header: ", '"Max entries"'),
        ),
        (
            '<table style="table-layout:fixed;width:300px"><tbody><tr>'
            '<td style="width:60px"><span style="white-space:nowrap">a long value here</span>'
            "</td><td>x</td></tr></tbody></table>",
            800,
            ("cell wider than its column",),
        ),
        (
            f'<table><tbody><tr><td class="key" style="width:3ch;max-width:3ch">{_KEY}</td>'
            "</tr></tbody></table>",
            800,
            ("text squeezed to", "td.key"),
        ),
        ('<h1>t</h1><div style="width:1000px">wide</div>', 390, ("page scrolls sideways", "div")),
        (
            '<button id="b">Save</button>'
            '<div style="position:fixed;left:0;top:0;width:200px;height:200px;background:red">'
            "</div>",
            800,
            ("not reachable: ", 'button#b "Save"', "covered by div"),
        ),
    ],
    ids=["controls", "panel", "header", "cell", "key", "sideways", "covered"],
)
def test_each_rule_fails_a_page_that_breaks_it(
    page: Page, body: str, width: int, expected: tuple[str, ...]
) -> None:
    problems = _problems(page, body, width)
    assert any(all(part in p for part in expected) for p in problems), problems
