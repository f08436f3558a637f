"""The engine: hivemem's semantics as functions over a backend transaction.

``ops`` describes every operation as a frozen record; ``apply`` gives each its meaning
(permissions, conflict strategies, TTL, revisions, events, audit) over the primitives of
:class:`hivemem.backends.base.Txn`, so every backend shares one implementation.
"""
