"""JetStream plumbing shared by the JetStream modules: input checks and configuration building.

Everything here runs in the caller's thread, so a bad call is refused before anything is sent.
The API-request helper itself is :mod:`._api`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from .._core.surface import FeatureSurface
    from ..protocol.headers import HeadersInput
    from ._api import JsApi
    from .publish import PubAck
    from .types import ConsumerInfo, JsType

__all__ = [
    "JetStreamLike",
    "check_bucket",
    "check_delays",
    "check_key",
    "check_name",
    "check_positive",
    "check_positive_int",
    "make_config",
]

C = TypeVar("C", bound="JsType")


class JetStreamLike(Protocol):
    """What consumers and key-value buckets need of their :class:`~.context.JetStream`."""

    _engine: FeatureSurface
    timeout: float
    api_prefix: str
    _api: JsApi

    def _t(self, timeout: float | None) -> float: ...

    def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        *,
        headers: HeadersInput | None = None,
        msg_id: str | None = None,
        timeout: float | None = None,
    ) -> PubAck: ...

    def consumer_info(self, stream: str, durable: str, *, timeout: float | None = None) -> ConsumerInfo: ...

    def _publish_dead_letter(
        self, subject: str, payload: bytes, headers: HeadersInput, msg_id: str, stored: bool
    ) -> None: ...


_BAD_NAME_CHARS = frozenset(">*. /\\\t\r\n\x00")
_KEY_RE = re.compile(r"[-/_=.a-zA-Z0-9]+")
_WATCH_KEY_RE = re.compile(r"[-/_=.a-zA-Z0-9*>]+")
_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")


def check_name(name: Any, what: str = "stream name") -> str:
    """A stream or consumer name: a non-empty str without '.', '*', '>', '/', '\\' or whitespace."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str such as 'ORDERS', got {type(name).__name__}")
    if not name:
        raise ValueError(f"{what} is empty; use letters, digits, '-' or '_', e.g. 'ORDERS'")
    if not _BAD_NAME_CHARS.isdisjoint(name):
        raise ValueError(
            f"{what} {name!r} contains one of '.', '*', '>', '/', '\\\\' or whitespace, which the server "
            "refuses; use letters, digits, '-' or '_'"
        )
    return name


def check_bucket(bucket: Any) -> str:
    if not isinstance(bucket, str):
        raise TypeError(f"bucket must be a str such as 'agents', got {type(bucket).__name__}")
    if not _BUCKET_RE.fullmatch(bucket):
        raise ValueError(f"bucket name {bucket!r} is not accepted: use letters, digits, '-' or '_'")
    return bucket


def check_key(key: Any, *, wildcards: bool = False) -> str:
    """A key-value key: letters, digits and ``-/_=.``, not starting or ending with '.'.

    With ``wildcards`` (watch), ``*`` and ``>`` are accepted as in subjects.
    """
    if not isinstance(key, str):
        raise TypeError(f"key must be a str such as 'agent.status', got {type(key).__name__}")
    pattern = _WATCH_KEY_RE if wildcards else _KEY_RE
    if not pattern.fullmatch(key) or key.startswith(".") or key.endswith(".") or ".." in key:
        extra = ", or the wildcards '*' and '>'" if wildcards else ""
        raise ValueError(
            f"key {key!r} is not accepted: use letters, digits and '-', '/', '_', '=', '.'{extra}, "
            "without a leading, trailing or double '.'"
        )
    return key


def check_positive(value: Any, what: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{what} must be a finite number of seconds {bound}, got {value!r}")
    return float(value)


def check_positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an int >= 1, got {value!r}")
    return value


def check_delays(value: Any, what: str = "backoff") -> tuple[float, ...]:
    """One delay in seconds, or a non-empty sequence of them (used in turn, the last repeating)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (check_positive(value, what, allow_zero=True),)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) > 0:
        return tuple(check_positive(v, f"{what} item", allow_zero=True) for v in value)
    raise TypeError(f"{what} must be seconds (a number) or a non-empty sequence of them, got {value!r}")


def make_config(cls: type[C], base: C | None, fields: Mapping[str, Any], what: str) -> C:
    """Build the config dataclass ``cls`` (:mod:`.types`) from ``base`` and keyword ``fields``.

    Unknown names are refused with the list of accepted ones, before anything is sent.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(
            f"{what}: unknown setting(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(known))}"
        )
    if base is not None:
        if not isinstance(base, cls) and type(base).__name__ == cls.__name__ and hasattr(base, "as_dict"):
            # nats-py's, read through its wire form, with the settings it keeps off the wire
            own = {name: getattr(base, name) for name in cls._client_only if getattr(base, name, None) is not None}
            base = cls.from_response(base.as_dict()).evolve(**own)
        if not isinstance(base, cls):
            raise TypeError(f"{what}: config must be a {cls.__name__}, got {type(base).__name__}")
        return base.evolve(**fields)
    return cls(**fields)
