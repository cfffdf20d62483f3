"""NATS services (the "micro" protocol v1) from synchronous code, on the client's public surface.

A service is discoverable (``$SRV.PING``, ``$SRV.INFO``, ``$SRV.STATS``), its endpoints are
load-balanced through a queue group, and its counters can be read by any client, in Go
(``micro``, ``nats micro ls``), in nats-py (``nats.micro``) or here::

    with nc.add_service(name="calc", version="1.0.0", description="adds numbers") as svc:
        svc.add_endpoint("add", lambda req: req.respond(str(sum(json.loads(req.data))).encode()))
        print(discover(nc, "INFO"))
        replies = nc.request_many("add", b"[1, 2]", timeout=1.0)

:func:`request_many` is the scatter-gather behind discovery: one request, every reply in time.
"""

from __future__ import annotations

from ._bus import BusService, BusServiceGroup
from ._discovery import ServiceList, discover
from ._protocol import (
    API_PREFIX,
    DEFAULT_QUEUE_GROUP,
    ERROR_CODE_HEADER,
    ERROR_HEADER,
    INFO_RESPONSE_TYPE,
    PING_RESPONSE_TYPE,
    STATS_RESPONSE_TYPE,
    control_subject,
)
from ._request_many import request_many
from ._service import RequestHandler, Service, ServiceError, ServiceGroup, ServiceRequest

__all__ = [
    "API_PREFIX",
    "DEFAULT_QUEUE_GROUP",
    "ERROR_CODE_HEADER",
    "ERROR_HEADER",
    "INFO_RESPONSE_TYPE",
    "PING_RESPONSE_TYPE",
    "STATS_RESPONSE_TYPE",
    "BusService",
    "BusServiceGroup",
    "RequestHandler",
    "Service",
    "ServiceError",
    "ServiceGroup",
    "ServiceList",
    "ServiceRequest",
    "control_subject",
    "discover",
    "request_many",
]
