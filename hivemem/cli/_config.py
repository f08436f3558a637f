"""Settings from the environment and ``hivemem.toml``: one convention for every command.

An option marked as a setting (every option of ``serve`` and ``mcp``; ``--url``, ``--token``
and ``--agent`` of the commands that open a store) takes its value from, in order: the
command line, the environment variable ``HIVEMEM_<NAME>``, the key ``<name>`` of the config
file (``$HIVEMEM_CONFIG``, else ``./hivemem.toml`` when it exists), the built-in default.
``<NAME>`` is the long option without its dashes (``--log-level`` -> ``HIVEMEM_LOG_LEVEL``,
``log_level = "info"``). Per-call arguments (``--ttl``, ``--prefix``, ...) are not settings:
an environment variable must never change what one command does to the data unnoticed.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = [
    "CONFIG_FILE",
    "Setting",
    "apply_settings",
    "mark_settings",
    "settings_of",
    "settings_table",
]

PREFIX = "HIVEMEM_"
#: The config file read from the working directory when ``$HIVEMEM_CONFIG`` is not set.
CONFIG_FILE = "hivemem.toml"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: where it applies and how it is named."""

    command: str
    option: str
    name: str
    help: str

    @property
    def env(self) -> str:
        """Its environment variable."""
        return PREFIX + self.name.upper()


def _option(action: argparse.Action) -> str:
    """The first long option names the setting (later ones are aliases)."""
    return next(o for o in action.option_strings if o.startswith("--"))


def _name(action: argparse.Action) -> str:
    return _option(action)[2:].replace("-", "_")


def mark_settings(parser: argparse.ArgumentParser, *options: str) -> None:
    """Mark ``options`` (all of the parser's options when none are given) as settings.

    Their help gains the environment variable's name.
    """
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        if options and not set(action.option_strings) & set(options):
            continue
        action.hivemem_setting = True  # type: ignore[attr-defined]
        env = PREFIX + _name(action).upper()
        action.help = f"{action.help} [env {env}]" if action.help else f"[env {env}]"


def _commands(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, f"{path} {name}".strip())


def _marked(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.Action]]:
    for path, command in _commands(parser):
        for action in command._actions:
            if getattr(action, "hivemem_setting", False):
                yield path, action


def settings_of(parser: argparse.ArgumentParser) -> list[Setting]:
    """Every setting of the command line, in command order."""
    return [Setting(path, _option(a), _name(a), a.help or "") for path, a in _marked(parser)]


def settings_table(parser: argparse.ArgumentParser) -> str:
    """The Markdown table of every setting (docs/configuration.md holds it)."""
    rows: dict[str, list[str]] = {}
    for s in settings_of(parser):
        rows.setdefault(s.name, [s.option, s.env]).append(s.command)
    lines = ["| option | environment | `hivemem.toml` key | commands |", "|---|---|---|---|"]
    for name, (option, env, *commands) in sorted(rows.items()):
        lines.append(f"| `{option}` | `{env}` | `{name}` | {', '.join(commands)} |")
    return "\n".join(lines) + "\n"


def _load_file(environ: Mapping[str, str], known: set[str]) -> dict[str, Any]:
    given = environ.get("HIVEMEM_CONFIG")
    path = Path(given) if given else Path(CONFIG_FILE)
    if not given and not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SystemExit(f"hivemem: error: config file {str(path)!r}: {e}") from None
    unknown = sorted(set(data) - known)
    if unknown:
        raise SystemExit(
            f"hivemem: error: config file {str(path)!r}: unknown setting(s) {', '.join(unknown)}"
            f"; known: {', '.join(sorted(known))}"
        )
    return data


def _default(action: argparse.Action, raw: Any, source: str) -> Any:
    """The default ``raw`` gives ``action``; argparse converts strings with ``action.type``."""
    if action.nargs == 0:  # a flag
        if isinstance(raw, bool):
            return raw if action.const is True else not raw
        text = str(raw).strip().lower()
        if text not in _TRUE | _FALSE:
            raise SystemExit(f"hivemem: error: {source}: expected true or false, got {raw!r}")
        on = text in _TRUE
        return on if action.const is True else not on
    if isinstance(raw, bool | dict | list):
        raise SystemExit(f"hivemem: error: {source}: expected a single value, got {raw!r}")
    text = str(raw)
    if action.choices is not None and text not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise SystemExit(f"hivemem: error: {source}: {text!r} is not one of {choices}")
    return text


def apply_settings(
    parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None
) -> None:
    """Set the defaults of every setting from the environment and the config file."""
    environ = os.environ if environ is None else environ
    marked = list(_marked(parser))
    data = _load_file(environ, {_name(a) for _, a in marked})
    for _, action in marked:
        name = _name(action)
        env = PREFIX + name.upper()
        if env in environ:
            action.default = _default(action, environ[env], f"${env}")
        elif name in data:
            action.default = _default(action, data[name], f"{CONFIG_FILE} key {name!r}")
