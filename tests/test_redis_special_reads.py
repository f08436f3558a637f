"""The Redis backend fetches multi-step reads after the plain ones (``_SPECIAL``): every
kind ``_fetch_special`` serves must be in that set, or it would be queued as a plain read."""

from __future__ import annotations

import inspect
import re

from hivemem.backends import redis as backend


def test_every_special_read_kind_is_fetched_after_the_plain_reads() -> None:
    source = inspect.getsource(backend.RedisBackend._fetch_special)
    served = set(re.findall(r'kind == "([a-z_]+)"', source))
    assert served, "no kinds found: the test no longer reads _fetch_special"
    assert served == set(backend._SPECIAL)
