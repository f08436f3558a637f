"""SPEC §20 through a server: ``hivemem export|import`` against ``http://`` with an admin token."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _api_site import mount

import hivemem
from hivemem.cli import main
from hivemem.errors import PermissionDenied
from hivemem.testing.embedders import HashEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from test_export_faithful import _export, _fill, _import

if TYPE_CHECKING:
    from hivemem.testing.server import ServerThread


def test_round_trip_through_a_server(
    api_server: ServerThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Restored over HTTP, exported over HTTP: the same bytes; an agent token may not restore."""
    embedder = HashEmbedder()
    with hivemem.connect("memory://", agent="planner", embedder=embedder) as source:
        _fill(source)
        first = _export(source)
    api = mount(api_server, tmp_path)
    try:
        with hivemem.connect(api.url, token=api.agent) as worker, pytest.raises(PermissionDenied):
            _import(worker, first[:1])
        with hivemem.connect(api.url, token=api.admin) as mem:
            _import(mem, first)
            assert _export(mem) == first
            assert mem.write("locks", "deploy", "c", expected_version=2).version == 3
            served = _export(mem)
        # The CLI does the same over HTTP, into a fresh SQLite file.
        dump = tmp_path / "dump.jsonl"
        url = f"sqlite:///{tmp_path}/copy.db"
        assert main(["export", "--url", api.url, "--token", api.admin, "--out", str(dump)]) == 0
        assert main(["import", str(dump), "--url", url]) == 0
        capsys.readouterr()
        with hivemem.connect(url) as copy:
            entry = copy.get_entry("locks", "deploy")
            assert entry is not None and (entry.value, entry.version) == ("c", 3)
            assert _export(copy) == served
    finally:
        api_server.unmount(api.url)
        api.core.close()
