"""What the bus plugs into agents and hosts to trace them (the agents package itself imports no
telemetry): a hook object with two methods, both optional in effect (``NO_HOOKS`` does nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

__all__ = ["NO_HOOKS", "AgentHooks", "PromptFinish"]

#: Called once when a prompt's stream ends: the error that ended it (None: the terminator or an
#: early close) and how many chunks were read.
PromptFinish = Callable[[BaseException | None, int], None]


class AgentHooks(Protocol):
    def start_prompt(self, subject: str, size: int, agent: str) -> tuple[dict[str, str], PromptFinish]:
        """A prompt is about to be sent: the headers to send with it, and what to call at its end."""
        ...

    def serve_prompt(
        self, subject: str, headers: Mapping[str, str] | None, size: int, agent: str
    ) -> AbstractContextManager[None]:
        """Around one prompt's handler, on its thread (a context manager's generator)."""
        ...


class _NoHooks:
    def start_prompt(self, subject: str, size: int, agent: str) -> tuple[dict[str, str], PromptFinish]:
        return {}, _nothing

    @contextmanager
    def serve_prompt(self, subject: str, headers: Mapping[str, str] | None, size: int, agent: str) -> Iterator[None]:
        yield


def _nothing(error: BaseException | None, chunks: int) -> None:
    return None


NO_HOOKS = _NoHooks()
