"""One subject check and one whitespace set, for the core and for services."""

from __future__ import annotations

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.protocol.checks import WHITESPACE, check_queue, check_subject
from beluga_nats_sync.services._protocol import check_endpoint_subject, check_prefix, check_queue_group


def test_a_token_with_a_star_is_a_name_to_the_core_and_refused_for_an_endpoint() -> None:
    assert check_subject("a.b*", wildcards=True) == "a.b*"
    with pytest.raises(bns.InvalidSubjectError, match="'a.b\\*': '\\*' and '>' are accepted only as whole tokens"):
        check_endpoint_subject("a.b*")
    assert check_endpoint_subject("calc.*.>") == "calc.*.>"


@pytest.mark.parametrize("char", sorted(WHITESPACE))
def test_core_and_services_refuse_the_same_whitespace(char: str) -> None:
    for check in (check_subject, check_endpoint_subject, check_prefix):
        with pytest.raises(bns.InvalidSubjectError, match="whitespace"):
            check(f"a{char}b")
    for check_q in (check_queue, check_queue_group):
        with pytest.raises(bns.InvalidSubjectError, match="whitespace"):
            check_q(f"w{char}q")


def test_each_caller_names_its_value_and_example() -> None:
    with pytest.raises(TypeError, match="endpoint subject must be a str such as 'calc.add', got int"):
        check_endpoint_subject(1)
    with pytest.raises(bns.InvalidSubjectError, match="group name is empty; expected .* such as 'calc.add'"):
        check_prefix("")
    with pytest.raises(bns.InvalidSubjectError, match="e.g. 'workers' \\(or '' for none, None for the parent's\\)$"):
        check_queue_group("a b")
    with pytest.raises(bns.InvalidSubjectError, match="e.g. 'workers'$"):
        check_queue("a b")
