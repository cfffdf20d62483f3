"""The JetStream API over the client's core requests: one helper, :class:`JsApi`.

Every JetStream management call (streams, consumers, key-value buckets, message gets) is a plain
request to ``<prefix>.<op>`` (``$JS.API.STREAM.INFO.ORDERS``, ...) with a JSON body, answered by
the server with a JSON document that either is the result or carries
``{"error": {"code", "err_code", "description"}}``. :class:`JsApi` sends it from the calling
thread through the core's request router (no task on the I/O thread), bounded by a timeout,
and turns an error answer into the most specific of our errors (:mod:`._errors`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core.msg import Msg
from .._core.protocol import check_timeout
from ..errors import ConsumerNotFoundError, JetStreamError, NATSTimeoutError, NoRespondersError
from ._errors import api_error, not_enabled
from .types import ConsumerConfig, ConsumerInfo, StreamConfig, StreamInfo

if TYPE_CHECKING:
    from .._core.surface import FeatureSurface

__all__ = ["DEFAULT_PREFIX", "JsApi", "decode_reply", "left"]

#: the JetStream API of the connection's own account
DEFAULT_PREFIX = "$JS.API"


def decode_reply(data: bytes, what: str, **context: str | None) -> dict[str, Any]:
    """The JSON document of a JetStream API answer; our error if it carries one.

    ``context`` (``stream``, ``consumer``, ``bucket``, ``key``) names what the call was about,
    for the error's message.
    """
    try:
        resp = json.loads(data)
    except ValueError:
        resp = None
    if not isinstance(resp, dict):
        raise JetStreamError(f"{what}: the answer is not a JetStream API response: {bytes(data[:80])!r}")
    err = resp.get("error")
    if err is not None:
        if not isinstance(err, dict):
            err = {"description": str(err)}
        raise api_error(err.get("code"), err.get("err_code"), err.get("description"), what, **context)
    return resp


def left(deadline: float, what: str) -> float:
    """What is left until ``deadline`` (``time.monotonic()``) for the next step of a call made
    of several requests; :class:`NATSTimeoutError` once nothing is."""
    remaining = deadline - time.monotonic()
    if remaining <= 0.001:
        raise NATSTimeoutError(f"{what} did not complete in time")
    return remaining


class JsApi:
    """Requests to one JetStream API (``prefix``: ``$JS.API``, or a domain's or an import's)."""

    __slots__ = ("_engine", "prefix", "timeout")

    def __init__(self, engine: FeatureSurface, prefix: str, timeout: float) -> None:
        self._engine = engine
        self.prefix = prefix
        self.timeout = timeout

    def subject(self, op: str) -> str:
        return f"{self.prefix}.{op}"

    def request(
        self,
        op: str,
        body: Mapping[str, Any] | None,
        timeout: float | None,
        what: str,
        **context: str | None,
    ) -> dict[str, Any]:
        """Send ``body`` (JSON; None: an empty payload) to ``<prefix>.<op>`` and return the decoded
        answer, waiting at most ``timeout`` (default: the context's). Raises our errors only:
        :class:`JetStreamNotEnabledError` when nothing answers the API, :class:`NATSTimeoutError`
        past the timeout, the error class for an error answer."""
        payload = b"" if body is None else json.dumps(body).encode()
        msg = self.request_msg(op, payload, timeout, what)
        return decode_reply(msg.data, what, **context)

    def request_msg(self, op: str, payload: bytes, timeout: float | None, what: str) -> Msg:
        """Send a raw request to ``<prefix>.<op>`` and return the answer as it came (a direct get
        answers with the stored message itself, not JSON)."""
        t = check_timeout(timeout, self.timeout, wait=True)
        engine = self._engine
        if not engine.is_open:
            raise engine.closed_error(what)
        try:
            return engine.request(self.subject(op), payload, t, None)
        except NoRespondersError:
            raise not_enabled(what) from None
        except NATSTimeoutError:
            raise NATSTimeoutError(f"{what}: no answer from JetStream within {t:g} s") from None

    # -- streams ---------------------------------------------------------------------------------
    def add_stream(
        self, cfg: StreamConfig, timeout: float | None, what: str = "add_stream", **context: str
    ) -> StreamInfo:
        """Create a stream (an identical one existing is no error): ``STREAM.CREATE.<name>``."""
        ctx = {"stream": cfg.name} | context
        info: StreamInfo = StreamInfo.from_response(
            self.request(f"STREAM.CREATE.{cfg.name}", cfg.as_dict(), timeout, what, **ctx)
        )
        return info

    def update_stream(self, cfg: StreamConfig, timeout: float | None, what: str = "update_stream") -> StreamInfo:
        resp = self.request(f"STREAM.UPDATE.{cfg.name}", cfg.as_dict(), timeout, what, stream=cfg.name)
        info: StreamInfo = StreamInfo.from_response(resp)
        return info

    def stream_info(self, stream: str, timeout: float | None, what: str = "stream_info", **context: str) -> StreamInfo:
        resp = self.request(f"STREAM.INFO.{stream}", None, timeout, what, **({"stream": stream} | context))
        info: StreamInfo = StreamInfo.from_response(resp)
        return info

    def delete_stream(self, stream: str, timeout: float | None, what: str = "delete_stream", **context: str) -> None:
        self.request(f"STREAM.DELETE.{stream}", None, timeout, what, **({"stream": stream} | context))

    def purge_stream(
        self,
        stream: str,
        timeout: float | None,
        what: str = "purge_stream",
        *,
        subject: str | None = None,
        keep: int | None = None,
        **context: str,
    ) -> None:
        body: dict[str, Any] = {}
        if subject is not None:
            body["filter"] = subject
        if keep is not None:
            body["keep"] = keep
        self.request(f"STREAM.PURGE.{stream}", body, timeout, what, **({"stream": stream} | context))

    def stream_for_subject(self, subject: str, timeout: float | None, what: str) -> str | None:
        """The stream that captures ``subject``, or None."""
        resp = self.request("STREAM.NAMES", {"subject": subject}, timeout, what)
        streams = resp.get("streams") or []
        return str(streams[0]) if streams else None

    # -- consumers -------------------------------------------------------------------------------
    def add_consumer(
        self, stream: str, cfg: ConsumerConfig, timeout: float | None, what: str, **context: str
    ) -> ConsumerInfo:
        """Create (or, for an existing durable, update) a consumer: ``CONSUMER.CREATE.<stream>.<name>``,
        or ``CONSUMER.CREATE.<stream>`` for an ephemeral one without a name."""
        name = cfg.name or cfg.durable_name
        op = f"CONSUMER.CREATE.{stream}.{name}" if name else f"CONSUMER.CREATE.{stream}"
        body = {"stream_name": stream, "config": cfg.as_dict()}
        resp = self.request(op, body, timeout, what, **({"stream": stream, "consumer": name} | context))
        info: ConsumerInfo = ConsumerInfo.from_response(resp)
        return info

    def consumer_info(
        self, stream: str, consumer: str, timeout: float | None, what: str = "consumer_info"
    ) -> ConsumerInfo:
        resp = self.request(f"CONSUMER.INFO.{stream}.{consumer}", None, timeout, what, stream=stream, consumer=consumer)
        info: ConsumerInfo = ConsumerInfo.from_response(resp)
        return info

    def consumer_or_none(self, stream: str, consumer: str, timeout: float | None, what: str) -> ConsumerInfo | None:
        """The consumer's info, or None if the stream has no such consumer."""
        try:
            return self.consumer_info(stream, consumer, timeout, what)
        except ConsumerNotFoundError:
            return None

    def delete_consumer(self, stream: str, consumer: str, timeout: float | None, what: str = "delete_consumer") -> None:
        self.request(f"CONSUMER.DELETE.{stream}.{consumer}", None, timeout, what, stream=stream, consumer=consumer)
