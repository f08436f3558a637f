"""A layout check for any page of the web UI: what a user would see as broken, measured.

:func:`layout_problems` runs in the page and answers a list of sentences, empty when the
layout holds:

- **overlap**: no two visible controls (links, buttons, form fields, summaries) or panels
  (header, tables, asides, fieldsets, notices, code blocks, cards, messages, headings, pager)
  intersect unless one holds the other. Boxes are cut by the ancestors that clip their
  overflow, and an inline element that wraps is measured line by line.
- **columns**: every table header fits on one line within its column, and no cell's
  content spills out of its column (a cell that clips on purpose, with an ellipsis, may).
- **keys**: text named by ``key_selector`` that wraps keeps at least ``min_chars``
  characters per line (a key squeezed to three characters a line fails).
- **overflow**: the page itself never scrolls sideways; wide content scrolls inside its
  own container.
- **reachable**: every control, once scrolled into view (the page and its own scrolling
  container), is the element hit at its centre: nothing covers it and it is on screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

CONTROLS = "a[href], button, input, select, textarea, summary"
PANELS = "header, aside, fieldset, table, pre, .notice, .status, .card, .msg, h1, h2, .pager, dl"

_SCRIPT = (Path(__file__).parent / "_layout.js").read_text()


def layout_problems(
    page: Page,
    *,
    key_selector: str = "td.key, .name, .feed li a",
    min_chars: int = 16,
    ignore: str = ".skip",
) -> list[str]:
    """What is wrong with the layout of the page as it stands (see the module docstring).

    Args:
        page: A page whose view has rendered.
        key_selector: The elements holding keys and names, whose lines must not be squeezed.
        min_chars: The fewest characters a wrapped line of such text may hold.
        ignore: Elements left out (the skip link lives off screen until focused).

    Returns:
        One sentence per problem; empty when the layout holds.
    """
    found = page.evaluate(
        _SCRIPT,
        {
            "controls": CONTROLS,
            "panels": PANELS,
            "keySelector": key_selector,
            "minChars": min_chars,
            "ignore": ignore,
        },
    )
    assert found["controls"] + found["panels"] > 0, "nothing on the page to check"
    return list(found["problems"])


def assert_layout(page: Page, **kwargs: object) -> None:
    """Fail with every layout problem of the page (see :func:`layout_problems`)."""
    problems = layout_problems(page, **kwargs)  # type: ignore[arg-type]
    assert problems == [], "\n".join(problems[:40])
