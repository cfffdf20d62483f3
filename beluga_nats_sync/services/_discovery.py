"""Finding services: PING, INFO or STATS to every instance that answers, through ``request_many``."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ._display import table_html
from ._protocol import VERBS, control_subject
from ._request_many import request_many

if TYPE_CHECKING:
    from ._surface import ServiceClient

__all__ = ["ServiceList", "discover"]

log = logging.getLogger("beluga_nats_sync.services")


class ServiceList(list[dict[str, Any]]):
    """The replies of a discovery: one dict per service instance, as its PING, INFO or STATS
    document says it (``verb``), sorted by name and id. Shows as a table in a notebook."""

    verb: str = "PING"
    subject: str = ""

    def _repr_html_(self) -> str:
        return table_html(self.verb, list(self), f"{self.verb} {self.subject}")


def discover(
    client: ServiceClient,
    verb: str = "PING",
    name: str | None = None,
    service_id: str | None = None,
    *,
    timeout: float = 2.0,
    stall: float | None = 0.5,
    max_messages: int | None = None,
) -> ServiceList:
    """Ask every service (or those named ``name``, or the one instance ``service_id``) for its
    ``verb`` document ("PING", "INFO" or "STATS") and return the replies.

    Waits at most ``timeout`` seconds, and ``stall`` seconds after the last reply (instances
    answer within milliseconds of each other); a reply that is not a v1 document is skipped.
    """
    verb_up = verb.upper() if isinstance(verb, str) else verb
    if verb_up not in VERBS:
        raise ValueError(f"verb must be one of {', '.join(VERBS)}, got {verb!r}")
    subject = control_subject(verb_up, name, service_id)
    if service_id and max_messages is None:
        max_messages = 1
    found = ServiceList()
    found.verb, found.subject = verb_up, subject
    for msg in request_many(client, subject, timeout=timeout, stall=stall, max_messages=max_messages):
        try:
            doc = json.loads(msg.data)
        except ValueError:
            log.debug("skipped a %s reply that is not JSON: %r", verb_up, msg.data[:80])
            continue
        if isinstance(doc, dict) and isinstance(doc.get("name"), str) and isinstance(doc.get("id"), str):
            found.append(doc)
        else:
            log.debug("skipped a %s reply that is not a service document: %r", verb_up, msg.data[:80])
    found.sort(key=lambda d: (d["name"], d["id"]))
    return found
