"""Settings for the whole suite."""

from __future__ import annotations

import pytest

# The conformance suite lives in the package (hivemem/testing): rewrite its asserts for
# readable failures. This must run before any test module imports hivemem.testing, so it
# lives here, at the root, rather than beside the suite (tests/adversarial, collected
# first, imports its helpers).
pytest.register_assert_rewrite("hivemem.testing")
