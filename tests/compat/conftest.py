"""The compat tests share the conformance suite's ``node`` fixture (Node with the pinned ``ai``)."""

from tests.conformance.test_conformance import node

__all__ = ["node"]
