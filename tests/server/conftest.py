"""Fixtures of the OpenAPI, fuzz and malformed-input tests: a real server on a free port."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _api_site import Api, mount, seed

from hivemem.testing.server import ServerThread

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def api_server() -> Iterator[ServerThread]:
    with ServerThread() as thread:
        yield thread


@pytest.fixture(scope="module")
def api(api_server: ServerThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    mounted = mount(api_server, tmp_path_factory.mktemp("store"))
    seed(mounted)
    yield mounted
    api_server.unmount(mounted.url)
    mounted.core.close()
