"""Compatibility layers: other clients' APIs built on :class:`beluga_nats_sync.Client`.

- :mod:`beluga_nats_sync.compat.pynats2`: a drop-in replacement for ``pynats2`` (``NATSClient``,
  ``NATSNoSubscribeClient``, ``NATSMessage``, ``NATSSubscription`` and its exceptions).
"""

from __future__ import annotations

__all__: list[str] = []
