"""Settings: command line, then ``HIVEMEM_<NAME>``, then ``hivemem.toml``, then the default."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from hivemem.cli import build_parser
from hivemem.cli._config import apply_settings, settings_of, settings_table
from tests.cli.conftest import DEADLINE, clean_env, hivemem_cmd, run_cli, serving

if TYPE_CHECKING:
    import argparse

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str], environ: dict[str, str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    apply_settings(parser, environ or {})
    return parser.parse_args(argv)


def test_environment_sets_serve_options_with_their_types() -> None:
    args = parse(
        ["serve"],
        {"HIVEMEM_PORT": "7711", "HIVEMEM_HOST": "0.0.0.0", "HIVEMEM_LOG_LEVEL": "info"},
    )
    assert (args.port, args.host, args.log_level) == (7711, "0.0.0.0", "info")


def test_the_server_store_is_hivemem_store_never_the_clients_url() -> None:
    assert parse(["serve"], {"HIVEMEM_URL": "sqlite:///client.db"}).store is None
    assert parse(["serve"], {"HIVEMEM_STORE": "sqlite:///s.db"}).store == "sqlite:///s.db"


def test_a_flag_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "hivemem.toml"
    config.write_text('port = 7801\nlog_level = "debug"\nno_auth = true\n')
    environ = {"HIVEMEM_CONFIG": str(config), "HIVEMEM_PORT": "7802"}
    args = parse(["serve"], environ)
    assert (args.port, args.log_level, args.no_auth) == (7802, "debug", True)
    assert parse(["serve", "--port", "7803"], environ).port == 7803


def test_the_config_file_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hivemem.toml").write_text('url = "sqlite:///here.db"\n')
    monkeypatch.chdir(tmp_path)
    assert parse(["get", "ns", "k"]).url == "sqlite:///here.db"
    assert parse(["token", "list"]).url == "sqlite:///here.db"


def test_boolean_settings_read_words_and_flags_invert_for_store_false() -> None:
    assert parse(["serve"], {"HIVEMEM_NO_AUTH": "yes"}).no_auth is True
    assert parse(["serve"], {"HIVEMEM_NO_AUTH": "0"}).no_auth is False
    assert parse(["serve"], {"HIVEMEM_ACCESS_LOG": "true"}).access_log is True


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"HIVEMEM_NO_AUTH": "maybe"}, "expected true or false"),
        ({"HIVEMEM_LOG_LEVEL": "loud"}, "is not one of"),
    ],
)
def test_bad_setting_values_are_refused_with_their_source(
    environ: dict[str, str], said: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["serve"], environ)
    assert said in str(exc.value)
    assert next(iter(environ)) in str(exc.value)


def test_a_bad_number_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["serve"], {"HIVEMEM_PORT": "many"})
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("colour = 1\n", "unknown setting(s) colour"),
        ("port = [1, 2]\n", "expected a single value"),
        ("port = \n", "config file"),
    ],
)
def test_a_bad_config_file_is_refused(tmp_path: Path, text: str, said: str) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(text)
    with pytest.raises(SystemExit) as exc:
        parse(["serve"], {"HIVEMEM_CONFIG": str(config)})
    assert said in str(exc.value)


def test_a_missing_named_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="config file"):
        parse(["serve"], {"HIVEMEM_CONFIG": str(tmp_path / "absent.toml")})


def test_per_call_arguments_are_not_settings() -> None:
    names = {s.name for s in settings_of(build_parser())}
    assert {"store", "host", "port", "log_level", "url", "token", "agent"} <= names
    assert not names & {"ttl", "expected_version", "prefix", "limit", "since", "cursor"}
    args = parse(["put", "ns", "k", "1"], {"HIVEMEM_TTL": "5"})
    assert args.ttl is None


def test_help_names_each_settings_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for option in ("HIVEMEM_STORE", "HIVEMEM_PORT", "HIVEMEM_LOG_LEVEL", "HIVEMEM_NO_AUTH"):
        assert f"[env {option}]" in out


def test_docs_hold_the_table_of_every_setting() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert settings_table(build_parser()) in text


def test_serve_takes_port_and_store_from_the_environment(tmp_path: Path) -> None:
    from hivemem.testing.server import free_port

    port = free_port()
    env = clean_env(
        HIVEMEM_STORE=f"sqlite:///{tmp_path}/env.db",
        HIVEMEM_PORT=str(port),
        HIVEMEM_URL="sqlite:///must-not-be-served.db",
    )
    proc = subprocess.Popen(
        hivemem_cmd("serve"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"hivemem serving http://127.0.0.1:{port}"), first
        assert (tmp_path / "env.db").exists()
        assert not (tmp_path / "must-not-be-served.db").exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=DEADLINE)


def test_token_list_uses_hivemem_url_for_a_server() -> None:
    with serving("memory://") as server:
        assert server.admin_token is not None
        done = subprocess.run(
            hivemem_cmd("token", "list"),
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env=clean_env(HIVEMEM_URL=server.url, HIVEMEM_TOKEN=server.admin_token),
        )
        assert done.returncode == 0, done.stderr
        assert "admin" in done.stdout


def test_demo_against_a_server_gives_each_agent_its_own_token() -> None:
    with serving("memory://") as server:
        assert server.admin_token is not None
        done = subprocess.run(
            hivemem_cmd("demo"),
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(HIVEMEM_URL=server.url, HIVEMEM_TOKEN=server.admin_token),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "demo finished: ok" in done.stdout
        assert "agent 'observer' needs write permission" in done.stdout  # its own token
        tokens = httpx.get(
            server.url + "/v1/tokens",
            headers={"Authorization": f"Bearer {server.admin_token}"},
            timeout=DEADLINE,
        ).json()["tokens"]
        assert [t["agent"] for t in tokens] == ["admin"]  # the demo's tokens were revoked


def test_demo_against_a_server_without_a_token_says_what_it_needs() -> None:
    with serving("memory://") as server:
        done = run_cli("demo", "--url", server.url)
        assert done.returncode == 1
        assert "needs an admin token in $HIVEMEM_TOKEN" in done.stderr


def test_metrics_access_is_a_setting_checked_against_its_choices() -> None:
    assert parse(["serve"]).metrics is None  # the server picks: open on loopback, else auth
    assert parse(["serve"], {"HIVEMEM_METRICS": "off"}).metrics == "off"
    assert parse(["serve", "--metrics", "auth"], {"HIVEMEM_METRICS": "off"}).metrics == "auth"
    with pytest.raises(SystemExit, match="'public' is not one of open, auth, off"):
        parse(["serve"], {"HIVEMEM_METRICS": "public"})
