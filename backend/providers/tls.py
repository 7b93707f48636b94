"""One TLS context for every provider client.

Building an ``ssl.SSLContext`` (loading the CA bundle) costs ~25 ms of CPU, and a provider client
is built per chat request; sharing one context makes that ~0.3 ms. The context is read-only after
creation, so sharing it between clients and tasks is safe.
"""

from __future__ import annotations

import functools
import ssl

import certifi


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    # The SDKs' own trust (certifi) plus the system's defaults, which honour SSL_CERT_FILE/DIR.
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_default_certs()
    return context
