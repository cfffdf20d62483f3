"""The services protocol v1 on the wire: subjects, response types, headers, and validation.

As nats.go's ``micro`` package (the reference) and nats-py's ``nats.micro`` write it: control
subjects ``$SRV.<VERB>``, ``$SRV.<VERB>.<name>`` and ``$SRV.<VERB>.<name>.<id>``; JSON documents
typed ``io.nats.micro.v1.*_response``; errors in the ``Nats-Service-Error`` and
``Nats-Service-Error-Code`` headers. Names and versions are checked with nats.go's own rules.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidSubjectError
from ..protocol.checks import check_queue, check_subject

__all__ = [
    "API_PREFIX",
    "DEFAULT_QUEUE_GROUP",
    "ERROR_CODE_HEADER",
    "ERROR_HEADER",
    "INFO_RESPONSE_TYPE",
    "PING_RESPONSE_TYPE",
    "STATS_RESPONSE_TYPE",
    "VERBS",
    "check_endpoint_name",
    "check_endpoint_subject",
    "check_metadata",
    "check_prefix",
    "check_queue_group",
    "check_service_id",
    "check_service_name",
    "check_version",
    "control_subject",
    "new_id",
    "rfc3339",
]

API_PREFIX = "$SRV"
DEFAULT_QUEUE_GROUP = "q"
ERROR_HEADER = "Nats-Service-Error"
ERROR_CODE_HEADER = "Nats-Service-Error-Code"
PING_RESPONSE_TYPE = "io.nats.micro.v1.ping_response"
INFO_RESPONSE_TYPE = "io.nats.micro.v1.info_response"
STATS_RESPONSE_TYPE = "io.nats.micro.v1.stats_response"
VERBS = ("PING", "INFO", "STATS")

# nats.go micro/service.go: the semver.org regular expression, and names of letters, digits, - and _
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_NAME = re.compile(r"^[A-Za-z0-9\-_]+$")
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_LENGTH = 22  # as long as a NUID, which nats.go and nats-py use for service ids


def _check_str(value: object, what: str, example: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str such as {example!r}, got {type(value).__name__}")
    return value


def check_service_name(name: object) -> str:
    """A service name: letters, digits, ``-`` and ``_`` (it is a token of the control subjects)."""
    name = _check_str(name, "service name", "calc")
    if not _NAME.match(name):
        raise ValueError(f"service name {name!r} is not accepted: use only letters, digits, '-' and '_' (e.g. 'calc')")
    return name


def check_version(version: object) -> str:
    """A semantic version (https://semver.org), such as ``1.0.0`` or ``2.1.3-alpha.1``."""
    version = _check_str(version, "service version", "1.0.0")
    if not _SEMVER.match(version):
        raise ValueError(
            f"service version {version!r} is not a semantic version: expected MAJOR.MINOR.PATCH with an "
            "optional -prerelease and +build, e.g. '1.0.0' or '2.1.3-alpha.1'"
        )
    return version


def check_endpoint_name(name: object) -> str:
    name = _check_str(name, "endpoint name", "add")
    if not _NAME.match(name):
        raise ValueError(
            f"endpoint name {name!r} is not accepted: use only letters, digits, '-' and '_' (e.g. 'add'); "
            "give a dotted subject with subject=..."
        )
    return name


def check_service_id(service_id: object) -> str:
    """A service instance id: one subject token of letters, digits, ``-`` and ``_``."""
    text = _check_str(service_id, "service id", "MvVucFERWe2f2NPGuhFkZl")
    if not _NAME.match(text):
        raise ValueError(f"service id {text!r} is not accepted: it is one token of letters, digits, '-' and '_'")
    return text


def check_endpoint_subject(subject: object, what: str = "endpoint subject") -> str:
    """An endpoint's subject: the one subject check, with ``*`` and ``>`` as whole tokens only."""
    return check_subject(subject, what=what, wildcards=True, whole_wildcards=True, example="calc.add")


def check_prefix(prefix: object) -> str:
    """A group's subject prefix: a subject without ``>`` (endpoints are appended after it)."""
    prefix = check_endpoint_subject(prefix, "group name")
    if ">" in prefix.split("."):
        raise InvalidSubjectError(f"group name {prefix!r}: '>' cannot start a group, endpoints follow it")
    return prefix


def check_queue_group(queue_group: object) -> str | None:
    """``None`` (inherit), ``''`` (no queue group: every instance gets every request) or a name."""
    if queue_group is None:
        return None
    return check_queue(queue_group, what="queue_group", hint=" (or '' for none, None for the parent's)")


def check_metadata(metadata: Any, what: str = "metadata") -> dict[str, str]:
    """A copy of ``metadata`` as a dict of str to str (Go reads it as ``map[string]string``)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{what} must be a mapping of str to str, got {type(metadata).__name__}")
    out: dict[str, str] = {}
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(
                f"{what} must map str to str (Go reads it as map[string]string), got {k!r}: {type(v).__name__}"
            )
        out[k] = v
    return out


def control_subject(verb: str, name: str | None = None, service_id: str | None = None) -> str:
    """``$SRV.VERB``, ``$SRV.VERB.name`` or ``$SRV.VERB.name.id``."""
    if verb not in VERBS:
        raise ValueError(f"verb must be one of {', '.join(VERBS)}, got {verb!r}")
    if service_id and not name:
        raise ValueError("a service id needs the service name too: $SRV.<VERB>.<name>.<id>")
    parts = [API_PREFIX, verb]
    if name:
        parts.append(check_service_name(name))
        if service_id:
            parts.append(check_service_id(service_id))
    return ".".join(parts)


def new_id() -> str:
    """A random 22-character id of letters and digits, like the NUIDs other implementations use."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def rfc3339(t: datetime) -> str:
    """``2026-12-01T08:22:03.123456Z``: RFC 3339 in UTC, readable by Go's ``time.Time`` and by nats-py."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
