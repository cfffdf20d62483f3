"""The code in README.md and docs/*.md runs, each in a fresh interpreter, against a real nats-server.

Every ```python block of the README runs alone: it reads ``$NATS_URL`` or starts an
``EmbeddedServer`` itself. A guide's blocks also run alone unless the page says otherwise in an
HTML comment (invisible on the rendered page):

- ``<!-- test: session -->``: the page's blocks build on each other and run in order, in one
  interpreter;
- ``<!-- test: setup`` / ``<!-- test: teardown``, then lines of code, then ``-->``: run before /
  after the page's blocks (stand-ins for what the prose leaves to the reader);
- ``<!-- test: skip: REASON -->`` just before a block: not run, for REASON.

In the guides, ``nats://localhost:4222`` and ``nats://127.0.0.1:4222`` are pointed at the test's
server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from beluga_nats_sync.server import EmbeddedServer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))
RUN_TIMEOUT = 90.0

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_SKIP = re.compile(r"<!--\s*test:\s*skip:\s*((?:(?!-->).)*?)\s*-->\s*\Z", re.S)
_HIDDEN = re.compile(r"<!--\s*test:\s*(setup|teardown)[ \t]*\n(.*?)-->", re.S)
_LOCAL_URL = re.compile(r"nats://(?:localhost|127\.0\.0\.1):4222")

pytestmark = pytest.mark.slow


class Block(NamedTuple):
    path: Path
    line: int
    code: str
    skip: str  # why it is not run, or ''


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in _FENCE.finditer(text):
        before = _SKIP.search(text, 0, m.start())
        found.append(Block(path, text.count("\n", 0, m.start()) + 1, m.group(1), before.group(1) if before else ""))
    return found


def hidden(path: Path, kind: str) -> str:
    return "\n".join(code for k, code in _HIDDEN.findall(path.read_text(encoding="utf-8")) if k == kind)


def is_session(path: Path) -> bool:
    return re.search(r"<!--\s*test:\s*session\s*-->", path.read_text(encoding="utf-8")) is not None


def run(code: str, url: str, tmp_path: Path, what: str) -> None:
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_")}
    env["NATS_URL"] = url
    env["PYTHONPATH"] = str(ROOT)  # this checkout's package, whatever is installed
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    shown = f"--- code\n{code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert proc.returncode == 0, f"{what} failed:\n{shown}"


def _id(block: Block) -> str:
    return f"{block.path.name}:{block.line}"


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


# -- README ----------------------------------------------------------------------------------------


def test_the_readme_has_python_blocks_and_none_is_skipped() -> None:
    found = blocks(README)
    assert len(found) >= 3
    assert [b for b in found if b.skip] == [], "every README block must run alone"


@pytest.mark.parametrize("block", blocks(README), ids=_id)
def test_a_readme_block_runs_alone(block: Block, server: EmbeddedServer, tmp_path: Path) -> None:
    run(block.code, server.url, tmp_path, f"README.md block at line {block.line}")


# -- the guides ------------------------------------------------------------------------------------


def _guide_runs() -> list[pytest.param]:
    runs = []
    for path in GUIDES:
        found = blocks(path)
        if not found:
            continue
        if is_session(path):
            runs.append(pytest.param(path, found, id=f"{path.name} (session)"))
        else:
            runs.extend(pytest.param(path, [b], id=_id(b)) for b in found)
    return runs


@pytest.mark.parametrize(("path", "page_blocks"), _guide_runs())
def test_the_code_of_a_guide_runs(path: Path, page_blocks: list[Block], server: EmbeddedServer, tmp_path: Path) -> None:
    ran = [b for b in page_blocks if not b.skip]
    if not ran:
        pytest.skip("; ".join(f"line {b.line}: {b.skip}" for b in page_blocks))
    parts = [hidden(path, "setup"), *(b.code for b in ran), hidden(path, "teardown")]
    code = _LOCAL_URL.sub(server.url, "\n".join(p for p in parts if p))
    run(code, server.url, tmp_path, f"{path.name} blocks at lines {[b.line for b in ran]}")


def test_skip_markers_give_a_reason_and_mark_a_block() -> None:
    for path in [README, *GUIDES]:
        text = path.read_text(encoding="utf-8")
        marked = len(re.findall(r"<!--\s*test:\s*skip", text))
        assert marked == sum(1 for b in blocks(path) if b.skip), f"{path.name}: a skip marker not right before a block"
