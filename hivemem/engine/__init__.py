"""The engine: hivemem's semantics as functions over a backend transaction.

``ops`` describes every operation as a frozen record; ``apply`` gives each its meaning
(permissions, conflict strategies, TTL, revisions, events, audit) over the primitives of
:class:`hivemem.engine.txn.Txn`, so every backend shares one implementation. ``txn`` is the
contract the backends implement; the engine imports nothing from :mod:`hivemem.backends`.

The op table is complete once this package is imported (as it is before any of its
modules): ``lists``, ``restore``, ``history``, ``queues``, ``webhooks``, ``leases`` and
``locks`` (whose ``Put`` handler adds ``lease=`` and ``fence=``) build on ``apply``, so their
handlers join ``apply``'s table here.
"""

from hivemem.engine import (
    apply,
    history,
    leases,
    lists,
    locks,
    queues,
    restore,
    transactions,
    webhooks,
)

apply.HANDLERS.update(lists.HANDLERS)
apply.HANDLERS.update(restore.HANDLERS)
apply.HANDLERS.update(history.HANDLERS)
apply.HANDLERS.update(queues.HANDLERS)
apply.HANDLERS.update(webhooks.HANDLERS)
apply.HANDLERS.update(leases.HANDLERS)
apply.HANDLERS.update(locks.HANDLERS)
apply.HANDLERS.update(transactions.HANDLERS)
