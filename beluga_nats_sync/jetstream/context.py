"""The JetStream context: streams, consumers and key-value buckets (publishing: :mod:`.publish`).

Every call blocks the calling thread, bounded by a timeout, and is safe from any thread."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._core.handlers import check_handler
from .._core.protocol import check_subject, check_timeout
from ..errors import JetStreamError
from ._api import DEFAULT_PREFIX, JsApi, left
from .api import (
    check_bucket,
    check_delays,
    check_name,
    check_positive,
    check_positive_int,
    make_config,
)
from .consume import ConsumeHandle, JsCallback, ensure_consumer
from .kv import KeyValue, kv_stream_config
from .publish import PubAckFuture, Publishing
from .pull import PullSubscription
from .types import ConsumerConfig, ConsumerInfo, KeyValueConfig, StreamConfig, StreamInfo

if TYPE_CHECKING:
    from .._core.surface import FeatureSurface as _Engine

__all__ = ["JetStream"]


class JetStream(Publishing):
    """JetStream on one client connection. Made by :meth:`Client.jetstream`.

    Every call blocks at most its ``timeout`` (default: this context's ``timeout``, which defaults
    to the client's ``Options.timeout``) and raises :class:`NATSTimeoutError` past it; a server
    without JetStream answers :class:`JetStreamNotEnabledError`.
    """

    def __init__(
        self,
        engine: _Engine,
        *,
        timeout: float | None = None,
        domain: str | None = None,
        api_prefix: str | None = None,
        publish_async_max_pending: int = 4000,
    ) -> None:
        self.timeout = check_timeout(timeout, engine.options.timeout, wait=True)
        if domain is not None and api_prefix is not None:
            raise ValueError("give either domain or api_prefix, not both")
        if domain is not None:
            check_name(domain, "domain")
            prefix = f"$JS.{domain}.API"
        elif api_prefix is not None:
            prefix = check_subject(api_prefix, what="api_prefix").rstrip(".")
        else:
            prefix = DEFAULT_PREFIX
        self.api_prefix = prefix
        self.max_pending = check_positive_int(publish_async_max_pending, "publish_async_max_pending")
        self._engine = engine
        self._api = JsApi(engine, prefix, self.timeout)
        self._pending: collections.deque[PubAckFuture] = collections.deque()
        self._pending_lock = threading.Lock()  # held for deque bookkeeping only, never while waiting

    # -- streams ---------------------------------------------------------------------------------------
    def add_stream(
        self,
        name: str | None = None,
        subjects: Sequence[str] | str | None = None,
        *,
        config: StreamConfig | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> StreamInfo:
        """Create a stream (or confirm an identical one exists) and return its info.

        ``fields`` are :class:`StreamConfig` settings: ``storage="file"|"memory"``,
        ``retention="limits"|"interest"|"workqueue"``, ``max_msgs``, ``max_bytes``, ``max_age``
        (seconds), ``duplicate_window`` (seconds), ``num_replicas``... A stream of that name with
        another configuration is an error (:class:`JetStreamError`): use :meth:`update_stream`.
        """
        cfg = self._stream_config(name, subjects, config, fields, "add_stream")
        return self._api.add_stream(cfg, self._t(timeout))

    def update_stream(
        self,
        name: str | None = None,
        subjects: Sequence[str] | str | None = None,
        *,
        config: StreamConfig | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> StreamInfo:
        """Change a stream's settings. Without ``config``, the settings named are applied to the
        stream's current configuration and the rest is kept."""
        t = self._t(timeout)
        if config is not None:
            cfg = self._stream_config(name, subjects, config, fields, "update_stream")
            return self._api.update_stream(cfg, t)
        stream = check_name(name)
        changes = dict(fields)
        if subjects is not None:
            changes["subjects"] = _subjects(subjects)
        make_config(StreamConfig, None, changes, "update_stream")  # refuse unknown names now
        deadline = time.monotonic() + t
        current = self._api.stream_info(stream, t, "update_stream")
        return self._api.update_stream(current.config.evolve(**changes), left(deadline, "update_stream"))

    def delete_stream(self, name: str, *, timeout: float | None = None) -> None:
        """Delete a stream and every message in it. :class:`StreamNotFoundError` if there is none."""
        self._api.delete_stream(check_name(name), self._t(timeout))

    def purge_stream(self, name: str, *, subject: str | None = None, timeout: float | None = None) -> None:
        """Remove the messages of a stream (only those on ``subject`` if given), keeping the stream."""
        stream = check_name(name)
        if subject is not None:
            check_subject(subject, wildcards=True)
        self._api.purge_stream(stream, self._t(timeout), subject=subject)

    def stream_info(self, name: str, *, timeout: float | None = None) -> StreamInfo:
        """The stream's configuration and state (``info.state.messages``, ``first_seq``, ...)."""
        return self._api.stream_info(check_name(name), self._t(timeout))

    def _stream_config(
        self,
        name: str | None,
        subjects: Sequence[str] | str | None,
        config: StreamConfig | None,
        fields: dict[str, Any],
        what: str,
    ) -> StreamConfig:
        fields = dict(fields)
        if name is not None:
            fields["name"] = name
        if subjects is not None:
            fields["subjects"] = _subjects(subjects)
        cfg = make_config(StreamConfig, config, fields, what)
        check_name(cfg.name)
        for s in cfg.subjects or ():
            check_subject(s, what="stream subject", wildcards=True)
        return cfg

    # -- consumers -------------------------------------------------------------------------------------
    def consumer_info(self, stream: str, durable: str, *, timeout: float | None = None) -> ConsumerInfo:
        """A consumer's state: ``num_pending``, ``num_ack_pending``, ``num_redelivered``, ``delivered``..."""
        check_name(stream)
        check_name(durable, "durable name")
        return self._api.consumer_info(stream, durable, self._t(timeout))

    def delete_consumer(self, stream: str, durable: str, *, timeout: float | None = None) -> None:
        """Delete a durable consumer (its position is lost)."""
        check_name(stream)
        check_name(durable, "durable name")
        self._api.delete_consumer(stream, durable, self._t(timeout))

    def pull_subscribe(
        self,
        subject: str,
        *,
        durable: str,
        stream: str | None = None,
        timeout: float | None = None,
        **consumer_config: Any,
    ) -> PullSubscription:
        """Bind to the durable pull consumer ``durable`` on ``subject`` (creating it if needed)
        and return a :class:`PullSubscription` to :meth:`~PullSubscription.fetch` from.

        ``stream`` defaults to the stream that captures ``subject``. ``consumer_config`` are
        :class:`ConsumerConfig` settings (``ack_wait`` in seconds, ``max_deliver``,
        ``max_ack_pending``, ``deliver_policy``...); those named are applied to an existing durable.
        """
        check_subject(subject, wildcards=True)
        check_name(durable, "durable name")
        if stream is not None:
            check_name(stream)
        wanted = _consumer_fields(consumer_config, "pull_subscribe")
        deadline = time.monotonic() + self._t(timeout)
        stream_name, _ = ensure_consumer(self, stream, durable, subject, wanted, "pull_subscribe", deadline)
        return PullSubscription(self, stream_name, durable, subject, left(deadline, "pull_subscribe"))

    def consume(
        self,
        subject: str,
        *,
        durable: str,
        callback: JsCallback,
        stream: str | None = None,
        max_ack_pending: int = 1000,
        ack_wait: float = 30.0,
        max_deliver: int = 5,
        backoff: float | Sequence[float] = (1.0, 5.0, 15.0, 30.0),
        dead_letter_subject: str | None = None,
        batch: int = 100,
        expires: float = 10.0,
        timeout: float | None = None,
        **consumer_config: Any,
    ) -> ConsumeHandle:
        """Run ``callback(msg)`` for each message of the durable consumer ``durable``, on a
        dispatcher thread, until :meth:`ConsumeHandle.stop`.

        - the callback returns: the message is acked (unless the callback answered it itself);
        - it raises: the message is nak'ed and comes back after ``backoff[n-1]`` seconds on its
          n-th delivery (the last delay repeats);
        - it raises on the ``max_deliver``-th delivery: the message is published to
          ``dead_letter_subject`` (if given) with the dead-letter headers of
          ``beluga_nats_sync.deadletter`` (read one with
          :meth:`beluga_nats_sync.DeadLetter.from_msg`), then terminated; the other messages go on.

        ``max_deliver`` is enforced here, not by the server (its consumer has no limit), so a
        message is never dropped without being dead-lettered. ``ack_wait`` (seconds) and
        ``max_ack_pending`` are set on the consumer. At most ``batch`` messages wait locally for
        the callback: keep ``batch`` x (time per message) well under ``ack_wait``, or call
        ``msg.in_progress()`` during long work. ``expires`` is how long one pull request waits on
        the server. ``consumer_config`` are further :class:`ConsumerConfig` settings.
        """
        check_subject(subject, wildcards=True)
        check_name(durable, "durable name")
        if stream is not None:
            check_name(stream)
        check_handler(callback, "callback", "a JetStreamMsg")
        check_positive_int(max_ack_pending, "max_ack_pending")
        check_positive_int(max_deliver, "max_deliver")
        check_positive_int(batch, "batch")
        ack_wait = check_positive(ack_wait, "ack_wait")
        expires = check_positive(expires, "expires")
        delays = check_delays(backoff)
        if dead_letter_subject is not None:
            check_subject(dead_letter_subject, what="dead_letter_subject")
        wanted = _consumer_fields(consumer_config, "consume")
        wanted.update(ack_wait=ack_wait, max_ack_pending=max_ack_pending, max_deliver=-1)
        deadline = time.monotonic() + self._t(timeout)
        stream_name, _ = ensure_consumer(self, stream, durable, subject, wanted, "consume", deadline)
        dlq_stored = False
        if dead_letter_subject is not None:  # a stream to store dead letters in, or plain NATS?
            found = self._api.stream_for_subject(dead_letter_subject, left(deadline, "consume"), "consume")
            dlq_stored = found is not None
        handle = ConsumeHandle(
            self,
            stream=stream_name,
            durable=durable,
            subject=subject,
            callback=callback,
            batch=min(batch, max_ack_pending),
            max_deliver=max_deliver,
            backoff=delays,
            dead_letter_subject=dead_letter_subject,
            dead_letter_stored=dlq_stored,
            expires=expires,
        )
        handle._start(left(deadline, "consume"))
        return handle

    # -- key-value ---------------------------------------------------------------------------------------
    def key_value(self, bucket: str, *, timeout: float | None = None) -> KeyValue:
        """Bind to an existing key-value bucket; :class:`BucketNotFoundError` if there is none."""
        check_bucket(bucket)
        info = self._api.stream_info(f"KV_{bucket}", self._t(timeout), "key_value", bucket=bucket)
        return self._bind(bucket, info, "key_value")

    def create_key_value(
        self,
        bucket: str,
        *,
        config: KeyValueConfig | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> KeyValue:
        """Create a key-value bucket (or bind to an identical one) and return it.

        ``fields`` are :class:`KeyValueConfig` settings: ``history`` (revisions kept per key,
        1-64), ``ttl`` (seconds), ``max_bytes``, ``max_value_size``, ``storage``, ``replicas``...
        """
        check_bucket(bucket)
        cfg = make_config(KeyValueConfig, config, {**fields, "bucket": bucket}, "create_key_value")
        if isinstance(cfg.history, bool) or not isinstance(cfg.history, int) or not 1 <= cfg.history <= 64:
            raise ValueError(f"history must be an int from 1 to 64 (revisions kept per key), got {cfg.history!r}")
        scfg = kv_stream_config(cfg)
        info = self._api.add_stream(scfg, self._t(timeout), "create_key_value", bucket=bucket)
        return self._bind(bucket, info, "create_key_value")

    def delete_key_value(self, bucket: str, *, timeout: float | None = None) -> None:
        """Delete a key-value bucket and everything in it."""
        check_bucket(bucket)
        self._api.delete_stream(f"KV_{bucket}", self._t(timeout), "delete_key_value", bucket=bucket)

    def _bind(self, bucket: str, info: StreamInfo, what: str) -> KeyValue:
        cfg = info.config
        if not cfg.max_msgs_per_subject or cfg.max_msgs_per_subject < 1:
            raise JetStreamError(f"{what}: stream {cfg.name!r} is not a key-value bucket (it keeps no history per key)")
        return KeyValue(self, bucket, direct=bool(cfg.allow_direct))

    def __repr__(self) -> str:
        return f"<JetStream {self.api_prefix!r} timeout={self.timeout:g}>"


def _subjects(subjects: Sequence[str] | str) -> list[str]:
    if isinstance(subjects, str):
        return [subjects]
    if not isinstance(subjects, Sequence) or not subjects:
        raise TypeError(f"subjects must be a non-empty list of subjects, got {subjects!r}")
    return list(subjects)


def _consumer_fields(fields: dict[str, Any], what: str) -> dict[str, Any]:
    for own in ("name", "durable_name", "filter_subject", "filter_subjects", "deliver_subject"):
        if own in fields:
            raise TypeError(f"{what}: {own} is set from the subject and durable arguments; do not pass it")
    make_config(ConsumerConfig, None, fields, what)  # refuse unknown names before anything is sent
    return dict(fields)
