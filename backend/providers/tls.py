"""One TLS context for every provider client.

Building an ``ssl.SSLContext`` (loading the CA bundle) costs ~25 ms of CPU, and a provider client
is built per chat request; sharing one context makes that ~0.3 ms. The context is read-only after
creation, so sharing it between clients and tasks is safe.
"""

from __future__ import annotations

import functools
import importlib
import ssl

import certifi


def prepare_client_stack() -> None:
    """Do now what the first provider client would do inside a request's event-loop step.

    Called when presets load (a spec's ``load``): building the first client loaded the CA bundle
    (~45 ms) and, in the anthropic and openai SDKs' transports, imported ``httpcore2`` (with
    ``truststore`` and ``h11``, ~50 ms of regular-expression compilation): one stall of every
    open stream on the first chat after a start.
    """
    shared_tls_context()
    importlib.import_module("httpcore2")


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    # The SDKs' own trust (certifi) plus the system's defaults, which honour SSL_CERT_FILE/DIR.
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()
    return context
