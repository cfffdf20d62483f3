"""JetStream plumbing shared by the JetStream modules: input checks, configuration building and
the translation of nats-py's JetStream errors into ours.

Everything here runs in the caller's thread (checks, configs) or is pure (translation), so a bad
call is refused before anything reaches the I/O thread.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import nats.errors as nerr
import nats.js.errors as jserr

from .errors import (
    BucketNotFoundError,
    ConsumerNotFoundError,
    JetStreamError,
    JetStreamNotEnabledError,
    KeyNotFoundError,
    NATSTimeoutError,
    StreamNotFoundError,
    WrongRevisionError,
)

__all__ = [
    "ERR_CONSUMER_NOT_FOUND",
    "ERR_STREAM_NOT_FOUND",
    "check_bucket",
    "check_delays",
    "check_key",
    "check_name",
    "check_positive",
    "check_positive_int",
    "make_config",
    "not_enabled",
    "translate",
]

C = TypeVar("C")

# The server's stable error numbers (nats-server's errors.json) that we map to our own classes.
ERR_STREAM_NOT_FOUND = 10059
ERR_CONSUMER_NOT_FOUND = 10014
_ERR_NOT_ENABLED = (10039, 10076)  # not enabled for the account / on the server
_ERR_WRONG_LAST_SEQ = (10071, 10164)

_BAD_NAME_CHARS = frozenset(">*. /\\\t\r\n\x00")
_KEY_RE = re.compile(r"[-/_=.a-zA-Z0-9]+")
_WATCH_KEY_RE = re.compile(r"[-/_=.a-zA-Z0-9*>]+")
_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")

NOT_ENABLED_HINT = "start nats-server with -js (or a `jetstream {}` block in its configuration)"


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
    """Build nats-py's config dataclass ``cls`` from ``base`` and keyword ``fields``.

    Unknown names are refused with the list of accepted ones, before anything is sent.
    """
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - known)
    if unknown:
        raise TypeError(
            f"{what}: unknown setting(s) {', '.join(map(repr, unknown))}; accepted: {', '.join(sorted(known))}"
        )
    if base is not None:
        if not isinstance(base, cls):
            raise TypeError(f"{what}: config must be a {cls.__name__}, got {type(base).__name__}")
        return dataclasses.replace(base, **fields)  # type: ignore[type-var]
    return cls(**fields)


def not_enabled(what: str) -> JetStreamNotEnabledError:
    return JetStreamNotEnabledError(
        f"{what}: JetStream is not enabled on the server (nothing answers on the JetStream API); {NOT_ENABLED_HINT}"
    )


def translate(
    exc: BaseException,
    what: str,
    *,
    stream: str | None = None,
    consumer: str | None = None,
    bucket: str | None = None,
    key: str | None = None,
) -> BaseException:
    """The most specific of our errors for nats-py's JetStream error ``exc`` raised during ``what``."""
    err_code = getattr(exc, "err_code", None)
    if bucket is not None and isinstance(exc, jserr.KeyNotFoundError):
        # nats-py turns every "not found" of a get into KeyNotFoundError; the cause tells whether
        # the key or the whole bucket (its stream) is missing
        cause = exc.__context__
        if getattr(cause, "err_code", None) == ERR_STREAM_NOT_FOUND:
            err_code = ERR_STREAM_NOT_FOUND
    if bucket is not None and isinstance(exc, (nerr.NoRespondersError, jserr.NoStreamResponseError)):
        err_code = ERR_STREAM_NOT_FOUND  # nothing serves the bucket's stream (direct get, publish)
    if isinstance(exc, jserr.BucketNotFoundError) or (bucket is not None and err_code == ERR_STREAM_NOT_FOUND):
        return BucketNotFoundError(
            f"{what}: key-value bucket {bucket!r} does not exist; create it with js.create_key_value({bucket!r})",
            code=404,
        )
    if isinstance(exc, (jserr.KeyNotFoundError, jserr.KeyDeletedError, jserr.NoKeysError)):
        return KeyNotFoundError(f"{what}: key {key!r} has no value in bucket {bucket!r}", code=404)
    if isinstance(exc, jserr.KeyWrongLastSequenceError):
        return WrongRevisionError(
            f"{what}: key {key!r} in bucket {bucket!r} is not at the expected revision "
            f"(server: {exc.description}); another writer came first: read it again and retry",
            code=400,
            err_code=_ERR_WRONG_LAST_SEQ[0],
            description=exc.description,
        )
    if isinstance(exc, jserr.ServiceUnavailableError) and exc.code is None:
        return not_enabled(what)  # no responders on $JS.API: nothing serves JetStream here
    if isinstance(exc, jserr.APIError):
        code, desc = exc.code, exc.description or ""
        detail = f"{desc} (code {code}, err_code {err_code})"
        kw: dict[str, Any] = dict(code=code, err_code=err_code, description=desc)
        if err_code in _ERR_NOT_ENABLED:
            return JetStreamNotEnabledError(f"{what}: {desc}; {NOT_ENABLED_HINT}", **kw)
        if err_code == ERR_STREAM_NOT_FOUND:
            name = f" {stream!r}" if stream else ""
            return StreamNotFoundError(f"{what}: stream{name} does not exist; create it with js.add_stream()", **kw)
        if err_code == ERR_CONSUMER_NOT_FOUND:
            return ConsumerNotFoundError(f"{what}: consumer {consumer!r} does not exist on stream {stream!r}", **kw)
        if err_code in _ERR_WRONG_LAST_SEQ:
            return WrongRevisionError(f"{what}: {detail}", **kw)
        return JetStreamError(f"{what}: {detail}", **kw)
    if isinstance(exc, (nerr.TimeoutError, TimeoutError)) and not isinstance(exc, NATSTimeoutError):
        return NATSTimeoutError(f"{what}: no answer from JetStream in time")
    if isinstance(exc, nerr.Error):
        return JetStreamError(f"{what}: {exc}")
    return exc
