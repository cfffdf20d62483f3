"""The one "unknown keyword, did you mean" check, used by Client() and NATSMessageBus()."""

from __future__ import annotations

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync._core.options import refuse_unknown_keywords

KNOWN = ["max_retries", "name", "timeout"]


def test_known_keywords_pass() -> None:
    refuse_unknown_keywords({"name": 1, "timeout": 2}, KNOWN, unknown="unknown option", accepted="see Options")


def test_the_first_unknown_is_named_with_the_closest_known() -> None:
    with pytest.raises(TypeError) as info:
        refuse_unknown_keywords(["timout", "nmae"], KNOWN, unknown="unknown option", accepted="see Options")
    assert str(info.value) == "unknown option 'nmae'; did you mean 'name'? see Options"


def test_no_hint_when_nothing_is_close() -> None:
    with pytest.raises(TypeError) as info:
        refuse_unknown_keywords(["zzz"], KNOWN, unknown="unknown option", accepted="see Options")
    assert str(info.value) == "unknown option 'zzz'; see Options"


def test_the_client_and_the_bus_say_it_alike() -> None:
    with pytest.raises(TypeError) as client:
        bns.Client("nats://127.0.0.1:1", timout=1.0)
    with pytest.raises(TypeError) as bus:
        bns.NATSMessageBus("nats://127.0.0.1:1", timout=1.0)
    assert str(client.value).startswith("unknown client option 'timout'; did you mean 'timeout'? ")
    bus_text = "NATSMessageBus() got an unknown keyword argument 'timout'; did you mean 'timeout'? "
    assert str(bus.value).startswith(bus_text)
