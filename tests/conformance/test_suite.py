"""Runs the conformance suite (``hivemem/testing``) against every backend of the conftest."""

from hivemem.testing.test_async import *  # noqa: F403
from hivemem.testing.test_audit import *  # noqa: F403
from hivemem.testing.test_conflicts import *  # noqa: F403
from hivemem.testing.test_contract import *  # noqa: F403
from hivemem.testing.test_conversations import *  # noqa: F403
from hivemem.testing.test_coordination import *  # noqa: F403
from hivemem.testing.test_entries import *  # noqa: F403
from hivemem.testing.test_errors import *  # noqa: F403
from hivemem.testing.test_events import *  # noqa: F403
from hivemem.testing.test_history import *  # noqa: F403
from hivemem.testing.test_lifecycle import *  # noqa: F403
from hivemem.testing.test_lists import *  # noqa: F403
from hivemem.testing.test_memories import *  # noqa: F403
from hivemem.testing.test_memory_expand import *  # noqa: F403
from hivemem.testing.test_memory_forgetting import *  # noqa: F403
from hivemem.testing.test_memory_validity import *  # noqa: F403
from hivemem.testing.test_namespaces import *  # noqa: F403
from hivemem.testing.test_permissions import *  # noqa: F403
from hivemem.testing.test_queues import *  # noqa: F403
from hivemem.testing.test_quotas import *  # noqa: F403
from hivemem.testing.test_records import *  # noqa: F403
from hivemem.testing.test_transactions import *  # noqa: F403
from hivemem.testing.test_ttl import *  # noqa: F403
from hivemem.testing.test_webhooks import *  # noqa: F403
from hivemem.testing.test_writes import *  # noqa: F403
