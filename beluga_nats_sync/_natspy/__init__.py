"""The seam to nats-py: the only code in this package that imports nats-py or names its privates.

:func:`create_transport` gives the core a :class:`~beluga_nats_sync._core.transport.Transport`;
:mod:`.contract` checks, before the first connection, every private this subpackage relies on;
:mod:`.errors` holds every translation of nats-py's errors into ours.
"""

from __future__ import annotations

from .._core.options import Options
from .._core.transport import Transport, TransportEvents
from .contract import SUPPORTED, NatsPyContractError, check

__all__ = ["SUPPORTED", "NatsPyContractError", "create_transport"]


def create_transport(options: Options, events: TransportEvents) -> Transport:
    """A nats-py connection for ``options`` reporting to ``events``; refuses (with
    :class:`NatsPyContractError`) a nats-py this seam cannot drive safely."""
    check()
    from .transport import NatsPyTransport

    return NatsPyTransport(options, events)
