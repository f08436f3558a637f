"""The ``hivemem`` command line (also ``python -m hivemem``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every command group."""
    from hivemem.cli import (
        bench,
        completion,
        coordination,
        data,
        demo,
        mcp,
        observe,
        queue,
        serve,
        token,
        transfer,
        webhook,
    )

    parser = argparse.ArgumentParser(
        prog="hivemem",
        description="hivemem: shared memory for multi-agent AI systems.",
    )
    parser.add_argument("--version", action="version", version=f"hivemem {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.register(sub)
    token.register(sub)
    webhook.register(sub)
    data.register(sub)
    queue.register(sub)
    observe.register(sub)
    transfer.register(sub)
    bench.register(sub)
    mcp.register(sub)
    demo.register(sub)
    coordination.register(sub)
    completion.register(sub, parser)
    return parser


def _version() -> str:
    from hivemem import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    from hivemem.cli._config import apply_settings

    parser = build_parser()
    apply_settings(parser)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
