"""The engine: hivemem's semantics as functions over a backend transaction.

``ops`` describes every operation as a frozen record; ``apply`` gives each its meaning
(permissions, conflict strategies, TTL, revisions, events, audit) over the primitives of
:class:`hivemem.engine.txn.Txn`, so every backend shares one implementation. ``txn`` is the
contract the backends implement; the engine imports nothing from :mod:`hivemem.backends`.

The op table is complete once this package is imported (as it is before any of its
modules): ``lists``, ``restore`` and ``history`` build on ``apply``, so their handlers join
``apply``'s table here.
"""

from hivemem.engine import apply, history, lists, restore

apply.HANDLERS.update(lists.HANDLERS)
apply.HANDLERS.update(restore.HANDLERS)
apply.HANDLERS.update(history.HANDLERS)
