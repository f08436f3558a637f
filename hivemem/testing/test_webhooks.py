"""Webhooks (SPEC §19): who may add, see and remove them; what is refused, nothing changed.

Deliveries themselves are tested against a real server and receiver in ``tests/deliveries``;
these rules hold on every backend (the records are the engine's).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest

from hivemem import InvalidArgument, NotFound, PermissionDenied

if TYPE_CHECKING:
    import hivemem

#: A public address literal: the server's guard accepts it without DNS.
URL = "http://93.184.216.34/hook"


def _refused_on_a_cluster(mem: hivemem.Memory, backend: Any) -> bool:
    """Redis Cluster: a webhook op reads its namespaces' configs and writes the reserved
    namespace, two slots, so it is refused with ``cross_slot`` (docs/coordination.md,
    "Webhooks"); there the rule checks that refusal, nothing kept."""
    if backend.name != "redis-cluster":
        return False
    _team(mem)
    with pytest.raises(InvalidArgument) as refused:
        mem.add_webhook(URL, ["team"], agent="alice")
    assert refused.value.details["reason"] == "cross_slot"
    return True


def _team(mem: hivemem.Memory) -> None:
    mem.create_namespace("team", agent="alice", default_permission="write")
    mem.write("team", "k", 1, "alice")


def test_a_namespace_admin_adds_lists_and_removes_a_webhook(
    mem: hivemem.Memory, backend: Any
) -> None:
    """The namespace's admin adds a webhook (secret shown once), sees it, removes it."""
    if _refused_on_a_cluster(mem, backend):
        return
    _team(mem)
    hook = mem.add_webhook(URL, ["team"], agent="alice")
    assert hook.url == URL and hook.namespaces == ("team",) and hook.events == ("memory:*",)
    assert hook.secret is not None and hook.secret.startswith("whsec_")
    assert len(base64.b64decode(hook.secret[6:])) >= 24
    assert hook.enabled and hook.owner == "alice"
    assert hook.cursors == {"team": mem.get_namespace("team").revision}
    listed = {h.id: h for h in mem.webhooks(agent="alice")}
    assert listed[hook.id].secret is None  # never shown again
    assert mem.webhook_deliveries(hook.id, agent="alice") == []
    assert mem.remove_webhook(hook.id, agent="alice") is True
    assert hook.id not in {h.id for h in mem.webhooks(agent="alice")}
    with pytest.raises(NotFound):
        mem.remove_webhook(hook.id, agent="alice")


def test_webhook_a_given_secret_is_kept(mem: hivemem.Memory, backend: Any) -> None:
    """A secret given in the Standard Webhooks form is the webhook's."""
    if _refused_on_a_cluster(mem, backend):
        return
    _team(mem)
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    hook = mem.add_webhook(URL, ["team"], ["memory:write"], secret, agent="alice")
    assert hook.secret == secret and hook.events == ("memory:write",)


def test_webhook_non_admins_are_refused_and_see_nothing(mem: hivemem.Memory, backend: Any) -> None:
    """An agent without admin on every namespace cannot add, see, remove or read the log."""
    if _refused_on_a_cluster(mem, backend):
        return
    _team(mem)
    mem.create_namespace("bobs", agent="bob")
    with pytest.raises(PermissionDenied):
        mem.add_webhook(URL, ["team"], agent="bob")
    with pytest.raises(PermissionDenied):
        mem.add_webhook(URL, ["bobs", "team"], agent="bob")
    hook = mem.add_webhook(URL, ["team"], agent="alice")
    assert hook.id not in {h.id for h in mem.webhooks(agent="bob")}
    with pytest.raises(NotFound):
        mem.remove_webhook(hook.id, agent="bob")
    with pytest.raises(NotFound):
        mem.webhook_deliveries(hook.id, agent="bob")
    assert hook.id in {h.id for h in mem.webhooks(agent="alice")}


def test_webhook_bad_urls_secrets_and_patterns_are_refused(
    mem: hivemem.Memory, backend: Any
) -> None:
    """Not http(s), no host, credentials, a bad secret or pattern: InvalidArgument, nothing kept."""
    if _refused_on_a_cluster(mem, backend):
        return
    _team(mem)
    before = {h.id for h in mem.webhooks(agent="alice")}
    for url in ("ftp://93.184.216.34/x", "file:///etc/passwd", "http://", "gopher://a/b",
                "http://user:pw@93.184.216.34/x", "not a url"):  # fmt: skip
        with pytest.raises(InvalidArgument):
            mem.add_webhook(url, ["team"], agent="alice")
    for secret in ("short", "whsec_!!!", "whsec_" + base64.b64encode(b"x" * 8).decode()):
        with pytest.raises(InvalidArgument):
            mem.add_webhook(URL, ["team"], secret=secret, agent="alice")
    bad_events: list[Any] = [[], "memory:*", ["x" * 101]]
    for events in bad_events:
        with pytest.raises(InvalidArgument):
            mem.add_webhook(URL, ["team"], events, agent="alice")
    with pytest.raises(InvalidArgument):
        mem.add_webhook(URL, [], agent="alice")
    assert {h.id for h in mem.webhooks(agent="alice")} == before


def test_webhook_on_a_missing_namespace_is_refused_to_a_namespace_admin(
    mem: hivemem.Memory,
    backend: Any,
) -> None:
    """Only a server admin may watch a namespace that does not exist yet."""
    if _refused_on_a_cluster(mem, backend):
        return
    from hivemem import NamespaceNotFound

    with pytest.raises(NamespaceNotFound):
        mem.add_webhook(URL, ["nowhere"], agent="alice")
