"""The contract suite every provider plugin's tests subclass.

A plugin's tests provide a :class:`StoreHarness` through a ``harness``
fixture and inherit the tests of :class:`StoreContract`::

    from secretstores.testing import StoreContract, StoreHarness

    class MyHarness(StoreHarness):
        type = "my_store"
        def definition(self): return {"type": "my_store", "configuration": {...}}
        def seed(self, identifier, value): ...   # write through the SDK
        def missing_identifier(self): return "does-not-exist"

    class TestMyStore(StoreContract):
        @pytest.fixture
        def harness(self, my_server):
            return MyHarness(my_server)
"""

from secretstores.testing.contract import (
    CANARY,
    StoreContract,
    StoreHarness,
    count_fetch_calls,
    record_events,
)
from secretstores.testing.leaks import (
    ERROR_TEMPLATES,
    error_templates,
    exception_texts,
    leaked_forms,
)
from secretstores.testing.stores import one_store_stores

__all__ = ["CANARY", "ERROR_TEMPLATES", "StoreContract", "StoreHarness", "count_fetch_calls",
           "error_templates", "exception_texts", "leaked_forms", "one_store_stores",
           "record_events"]
