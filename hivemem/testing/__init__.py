"""The hivemem conformance suite: the rules of SPEC §1-§6 and §11 as tests.

Every backend runs these tests unchanged; a backend is done when it passes them all.
The tests are plain functions grouped by topic:

========================  ==================================================================
``test_namespaces``       create/get/list/update/clear/delete, the ``default`` namespace,
                          auto-creation on write and broadcast
``test_permissions``      every level (``None``, read, write, admin) x every operation,
                          overrides, default deny
``test_entries``          write/read/get_entry/delete/get_keys/get_all/list_entries, paging,
                          owner/version/revision/timestamps
``test_writes``           write_many/read_many all-or-nothing, ``max_entries``, idempotency
``test_conflicts``        latest-wins, first-wins, merge, version, custom (callables and the
                          built-in ``max``/``min``/``sum``/``union``), compare-and-set
``test_ttl``              namespace and per-write TTL, invisibility from the instant of
                          expiry, ``cleanup()`` and the background sweeper
``test_events``           revisions, ``on``, ``subscribe``, ``watch`` (replay, live,
                          ``RevisionCompacted``), broadcast, failing callbacks
``test_audit``            ``access_log`` filters and bounds, ``stats``
``test_lifecycle``        ``close``, context manager, default agent, ``as_agent``,
                          ``namespace()`` views, ``connect`` options
``test_errors``           the exception tree and bad input (each refused, nothing stored)
``test_async``            a representative subset through ``AsyncMemory``
``test_quotas``           operator quotas: namespaces per agent, entries per namespace,
                          bytes per store (``quota_exceeded``, nothing changed)
========================  ==================================================================

Each test states its rule in its docstring and asserts exact values. Fixtures come from the
conftest of the project that runs the suite (``tests/conformance/conftest.py`` here):

``mem``
    A fresh :class:`hivemem.Memory` on the backend under test, opened with the ``clock``
    fixture and ``cleanup_interval=0`` (no background sweeper unless a test asks).
``clock``
    The :class:`hivemem.testing.clock.FakeClock` that ``mem`` reads the time from.
``make_mem(**options)``
    Opens another fresh store on the same backend with ``connect()`` options (e.g.
    ``event_retention=5``, ``max_log_size=10``); defaults are ``clock`` and
    ``cleanup_interval=0``. Every store it opens is closed after the test.
``amem`` / ``make_amem(**options)``
    The same for :class:`hivemem.AsyncMemory` (``connect_async``).

To run the suite against another backend, parametrize those fixtures over its URL and
import the modules into a test file, e.g.::

    from hivemem.testing.test_entries import *  # noqa: F403

Test names are unique across the modules, so star-imports never shadow one another.
"""
