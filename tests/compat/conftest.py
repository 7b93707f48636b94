"""The compat tests use the conformance suite's Node worker with the current client, ``ai@7``."""

from tests.conformance.conftest import node7, node_worker

__all__ = ["node7", "node_worker"]
