"""Server-Sent Events: an incremental parser of the lines of an event stream."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Frame", "SSEParser"]


@dataclass(slots=True)
class Frame:
    """One dispatched SSE message (``event`` defaults to ``message``); or a comment."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    comment: bool = False


class SSEParser:
    """Feed it lines (without line ends); it returns a :class:`Frame` when one completes."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> Frame | None:
        """Take one line; return the completed frame (or a comment frame), else ``None``."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            frame = Frame(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return frame
        if line.startswith(":"):
            return Frame("comment", line[1:].strip(), None, comment=True)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None
