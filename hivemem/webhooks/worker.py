"""The delivery worker: one asyncio task per store process, one coroutine per webhook.

Driven by the event log: for each namespace of a webhook, the events after its cursor
(``EventsAfter``, at most ``batch`` at a time) are filtered by the webhook's patterns and
POSTed as one signed message; a 2xx moves the cursor past them (``RecordDelivery``), any
other answer, a timeout or a refused target is logged and the *same* message (same
``webhook-id``) is sent again after an exponential backoff (``backoff * 2**n``, capped,
with jitter). Hence per namespace: revision order, at least once, nothing skipped after a
restart (the cursor lives in the store). After ``max_failures`` failures in a row the store
disables the webhook.

One worker at a time delivers a webhook: it first takes the webhook's claim
(``ClaimWebhook``, a compare-and-set with an expiry, renewed while it works); a worker
that loses it (it paused longer than ``claim_ttl``) finds out at its next record
(``claim_lost``) and stops; the new holder resends from the stored cursor. A stopping
worker releases its claims, so a restarted server resumes at once; a killed one's claims
expire after ``claim_ttl``.

Bounded: one request in flight per webhook, ``timeout`` seconds per request, at most
:data:`MAX_RESPONSE` bytes of a response body read, at most ``batch`` events per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import logging
import os
import random
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from hivemem._validate import SYSTEM_AGENT
from hivemem.engine import ops as o
from hivemem.errors import HivememError, NamespaceNotFound, NotFound, RevisionCompacted
from hivemem.webhooks.guard import Allow, resolve
from hivemem.webhooks.sign import headers

if TYPE_CHECKING:
    from hivemem.backends.base import Backend
    from hivemem.types import Event, Webhook

__all__ = ["MAX_RESPONSE", "Deliverer", "payload"]

log = logging.getLogger("hivemem.webhooks")

#: Bytes of a target's response body read at most (the status is what counts).
MAX_RESPONSE = 4096


def payload(hook_id: str, ns: str, events: list[Event], now: float) -> bytes:
    """The body of one message: ``{"type", "timestamp", "data": {webhook, namespace, events}}``."""
    stamp = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
    data = {"webhook": hook_id, "namespace": ns, "events": [e.to_dict() for e in events]}
    return orjson.dumps({"type": "hivemem.events", "timestamp": stamp, "data": data})


def _message_id(hook_id: str, ns: str, first: int, last: int) -> str:
    """The same id for every attempt of one batch (receivers deduplicate by it)."""
    digest = hashlib.sha256(f"{hook_id}\x00{ns}\x00{first}\x00{last}".encode()).hexdigest()
    return "msg_" + digest[:32]


def _matches(patterns: tuple[str, ...], type_: str) -> bool:
    return any(fnmatch.fnmatchcase(type_, p) for p in patterns)


class Deliverer:
    """Deliver every webhook of a store (run :meth:`run` as a task; cancel it to stop).

    Args:
        backend: The store (an embedded backend: memory, sqlite, redis, postgres; not
            ``http://``, whose server delivers).
        allow: Targets allowed despite a non-public address (see :mod:`.guard`).
        max_failures: Failures in a row that disable a webhook (0: never).
        batch: Most events per message.
        timeout: Seconds per request.
        poll: Seconds between looks at the webhook list and at idle namespaces.
        claim_ttl: Seconds a claim lasts without renewal.
        backoff: First retry delay; doubled per failure up to ``backoff_cap``.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        allow: Allow | None = None,
        max_failures: int = 20,
        batch: int = 100,
        timeout: float = 10.0,
        poll: float = 0.2,
        claim_ttl: float = 30.0,
        backoff: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.backend = backend
        self.allow = allow or Allow()
        self.max_failures = max_failures
        self.batch = batch
        self.timeout = timeout
        self.poll = poll
        self.claim_ttl = claim_ttl
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.delivered = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._renewed: dict[str, float] = {}
        self._client: httpx.AsyncClient | None = None

    async def _op(self, cls: Any, **fields: Any) -> Any:
        op = cls(agent=SYSTEM_AGENT, admin=True, internal=True, **fields)
        return (await self.backend.aexecute(op)).unwrap()

    async def run(self) -> None:
        """Start a coroutine per enabled webhook, forever; on cancel, release the claims."""
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False
        )
        try:
            while True:
                try:
                    hooks = await self._op(o.ListWebhooks)
                except HivememError as exc:
                    log.warning("hivemem: webhooks: cannot list webhooks: %s", exc)
                    hooks = []
                except Exception:  # the worker must survive a failing store (a bug included)
                    log.exception("hivemem: webhooks: listing the webhooks failed")
                    hooks = []
                live = {hook.id for hook in hooks}
                for gone in [i for i, t in self._tasks.items() if t.done() and i not in live]:
                    del self._tasks[gone]  # removed webhooks: the table stays bounded
                    self._renewed.pop(gone, None)
                for hook in hooks:
                    task = self._tasks.get(hook.id)
                    if hook.enabled and (task is None or task.done()):
                        self._tasks[hook.id] = asyncio.create_task(self._serve(hook.id))
                await asyncio.sleep(self.poll)
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self._client.aclose()

    async def _claim(self, hook_id: str, until: float) -> Webhook | None:
        hook: Webhook | None = await self._op(
            o.ClaimWebhook, hook_id=hook_id, holder=self.holder, until=until
        )
        return hook

    async def _serve(self, hook_id: str) -> None:
        """Deliver one webhook while this worker holds its claim."""
        try:
            hook = await self._claim(hook_id, self.backend.settings.clock() + self.claim_ttl)
        except HivememError as exc:
            log.warning("hivemem: webhook %s: cannot claim: %s", hook_id, exc)
            return
        except Exception:
            log.exception("hivemem: webhook %s: claiming failed", hook_id)
            return
        if hook is None:
            return
        self._renewed[hook_id] = time.monotonic()
        cursors = dict(hook.cursors)
        try:
            while True:
                await self._keep(hook_id)
                busy = False
                for ns in hook.namespaces:
                    busy |= await self._namespace(hook, ns, cursors)
                if not busy:
                    await asyncio.sleep(self.poll)
        except (NotFound, _Stop):
            return
        except HivememError as exc:
            if getattr(exc, "reason", None) != "claim_lost":
                log.warning("hivemem: webhook %s stopped: %s", hook_id, exc)
            return
        except Exception:  # a bug must not end the worker: the next look starts it again
            log.exception("hivemem: webhook %s stopped", hook_id)
            return
        finally:
            await self._release(hook_id)

    async def _keep(self, hook_id: str) -> None:
        """Renew the claim once a third of its time has passed; stop if it was lost."""
        if time.monotonic() - self._renewed.get(hook_id, 0.0) <= self.claim_ttl / 3:
            return
        until = self.backend.settings.clock() + self.claim_ttl
        if await self._claim(hook_id, until) is None:
            raise _Stop
        self._renewed[hook_id] = time.monotonic()

    async def _release(self, hook_id: str) -> None:
        """Give the claim up (expire it now), so another worker may resume at once."""
        with contextlib.suppress(Exception):
            await asyncio.shield(
                self._op(
                    o.ClaimWebhook,
                    hook_id=hook_id,
                    holder=self.holder,
                    until=self.backend.settings.clock(),
                )
            )

    async def _namespace(self, hook: Webhook, ns: str, cursors: dict[str, int]) -> bool:
        """Deliver the next batch of ``ns``; return whether there was one."""
        since = cursors.get(ns, 0)
        try:
            events: list[Event] = await self._op(
                o.EventsAfter, ns=ns, since=since, limit=self.batch
            )
        except NamespaceNotFound:
            return False
        except RevisionCompacted as exc:
            # The retained log no longer holds what the target missed: say so in the log
            # and go on from the oldest retained event.
            skip = max(since, exc.oldest_available - 1)
            error = f"gap: revisions {since + 1}-{skip} are no longer retained"
            gap = {"seq": 0, "message_id": "", "namespace": ns, "first_revision": since + 1,
                   "last_revision": skip, "events": 0, "attempt": 0,
                   "at": self.backend.settings.clock(), "ok": False, "status": None,
                   "error": error, "duration": 0.0}  # fmt: skip
            await self._record(hook, ns, skip, ok=False, error=error, delivery=gap)
            cursors[ns] = skip
            return True
        if not events:
            return False
        last = events[-1].revision
        chosen = [e for e in events if _matches(hook.events, e.type)]
        if not chosen:
            await self._record(hook, ns, last, ok=True)
            cursors[ns] = last
            return True
        await self._deliver(hook, ns, chosen, last)
        cursors[ns] = last
        return True

    async def _deliver(self, hook: Webhook, ns: str, events: list[Event], last: int) -> None:
        """POST one batch until a 2xx (or the webhook is disabled, removed, lost)."""
        assert self._client is not None
        first = events[0].revision
        msg_id = _message_id(hook.id, ns, first, events[-1].revision)
        attempt = 0
        while True:
            attempt += 1
            await self._keep(hook.id)
            now = self.backend.settings.clock()
            body = payload(hook.id, ns, events, now)
            started = time.monotonic()
            status, error = await self._post(hook, msg_id, int(now), body)
            ok = status is not None and 200 <= status < 300
            record = {
                "seq": 0,
                "message_id": msg_id,
                "namespace": ns,
                "first_revision": first,
                "last_revision": events[-1].revision,
                "events": len(events),
                "attempt": attempt,
                "at": now,
                "ok": ok,
                "status": status,
                "error": error,
                "duration": round(time.monotonic() - started, 6),
            }
            stored = await self._record(
                hook,
                ns,
                last if ok else None,
                ok=ok,
                error=error or (None if ok else f"HTTP {status}"),
                delivery=record,
            )
            if ok:
                self.delivered += len(events)
                return
            if not stored.enabled:
                log.warning("hivemem: webhook %s disabled after %d failures", hook.id, attempt)
                raise _Stop
            delay = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.5 + random.random() / 2))

    async def _post(
        self, hook: Webhook, msg_id: str, stamp: int, body: bytes
    ) -> tuple[int | None, str | None]:
        """One request: check the target's address now, send, read a bounded answer."""
        assert self._client is not None and hook.secret is not None
        try:
            target = await asyncio.to_thread(resolve, hook.url, self.allow)
        except HivememError as exc:
            return None, f"target refused: {exc.message}"
        head = {
            "content-type": "application/json",
            "user-agent": "hivemem-webhooks",
            "host": target.host_header(),
            **headers(hook.secret, msg_id, stamp, body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.timeout * 2):
                request = self._client.build_request(
                    "POST", target.connect_url(), content=body, headers=head, extensions=extensions
                )
                response = await self._client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_RESPONSE:
                            break
                finally:
                    await response.aclose()
                return response.status_code, None
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]

    async def _record(
        self,
        hook: Webhook,
        ns: str,
        cursor: int | None,
        *,
        ok: bool,
        error: str | None = None,
        delivery: dict[str, Any] | None = None,
    ) -> Webhook:
        result: Webhook = await self._op(
            o.RecordDelivery,
            hook_id=hook.id,
            holder=self.holder,
            namespace=ns,
            cursor=cursor,
            ok=ok,
            error=error,
            delivery_json=None if delivery is None else orjson.dumps(delivery).decode(),
            max_failures=self.max_failures,
        )
        return result


class _Stop(Exception):
    """The webhook was disabled: stop delivering it."""
