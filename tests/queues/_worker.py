"""A queue worker process for the drain tests: ``python _worker.py SPEC_JSON``.

It claims from one queue until the queue holds nothing but dead letters, and appends one
JSON line per outcome to its log (flushed at once, so a ``kill -9`` loses nothing logged):
``{"ev": "ack"|"abandon"|"nack"|"lost", "id", "token", "attempts", "visible_at"}``. A task
whose value has ``"poison": true`` is always nacked; other claims are abandoned with
probability ``abandon`` (no ack: the task must come back after its visibility). With
``hold_after`` set, after that many claims the worker claims once more, logs ``"hold"``,
touches ``<log>.holding`` and sleeps: the test kills it with SIGKILL mid-claim.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import hivemem


def main() -> None:
    spec = json.loads(sys.argv[1])
    log_path = Path(spec["log"])
    rng = random.Random(spec["seed"])
    options = dict(spec.get("options") or {})
    with (
        # (with a token, the token's agent acts: workers differ by their claims' tokens)
        hivemem.connect(
            spec["url"], agent=None if "token" in options else spec["agent"], **options
        ) as mem,
        log_path.open("a") as log,
    ):
        q = mem.queue(spec["ns"], spec["queue"], max_attempts=spec["max_attempts"])
        vis = spec["visibility"]

        def note(ev: str, t: hivemem.Task) -> None:
            record = {"ev": ev, "id": t.id, "token": t.token, "attempts": t.attempts}
            record["visible_at"] = t.visible_at
            log.write(json.dumps(record) + "\n")
            log.flush()

        claims = 0
        while True:
            t = q.claim(worker=spec["agent"], visibility=vis, wait=0.2)
            if t is None:
                s = q.stats()
                if s["ready"] == s["claimed"] == s["delayed"] == 0:
                    return
                continue
            claims += 1
            if spec.get("hold_after") and claims > spec["hold_after"]:
                note("hold", t)
                Path(f"{log_path}.holding").touch()
                time.sleep(3600)
            if not t.value.get("poison") and rng.random() < spec["abandon"]:
                note("abandon", t)
                continue
            try:
                if t.value.get("poison"):
                    q.nack(t)
                else:
                    q.ack(t)
            except hivemem.ConflictError as exc:
                assert exc.reason == "claim_lost", exc
                note("lost", t)  # (we were too slow: the task came back to another)
            else:
                note("nack" if t.value.get("poison") else "ack", t)


if __name__ == "__main__":
    main()
