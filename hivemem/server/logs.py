"""The server's logs: plain text or one JSON object per line, each naming its request.

``--log-format json`` writes every line of the server (hivemem's own, uvicorn's errors and,
with ``--access-log``, one line per request) as a JSON object on stderr: ``ts``, ``level``,
``logger``, ``message``, and ``request_id`` when the line belongs to a request (the id the
response carries in ``X-Request-Id``); access lines add ``method``, ``path``, ``status`` and
``client``.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

import orjson

__all__ = ["FORMATS", "REQUEST_ID", "JsonFormatter", "log_config"]

#: The formats ``--log-format`` takes.
FORMATS = ("text", "json")

#: The request being served in this task (set by the guard), for the log lines it causes.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hivemem_request_id", default=None
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _version, status = args
            line["message"] = f"{method} {path} {status}"
            line.update(method=method, path=path, status=status, client=client)
        else:
            line["message"] = record.getMessage()
        request_id = REQUEST_ID.get()
        if request_id is not None:
            line["request_id"] = request_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_config(level: str, fmt: str = "text") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn and hivemem at ``level`` in ``fmt``."""
    if fmt == "json":
        formatters: dict[str, Any] = {
            "default": {"()": JsonFormatter},
            "access": {"()": JsonFormatter},
        }
    else:
        formatters = {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": "%(levelprefix)s %(message)s",
                "use_colors": None,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        }
    stderr = "ext://sys.stderr"
    handler = {"class": "logging.StreamHandler", "stream": stderr}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {
            "default": {**handler, "formatter": "default"},
            "access": {**handler, "formatter": "access"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {
                "handlers": ["access"],
                "level": level.upper(),
                "propagate": False,
            },
            "hivemem": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }
