"""The code of docs/testing.md runs as it is shown, each block in a fresh interpreter, with no
nats-server anywhere (``$NATS_URL`` points at a closed port: a block that needed a server fails)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "testing.md"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def page_blocks() -> list[tuple[int, str]]:
    text = PAGE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def test_the_page_is_in_the_navigation_and_has_code() -> None:
    assert "testing.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(page_blocks()) >= 3


@pytest.mark.parametrize(("line", "code"), page_blocks(), ids=[f"line {n}" for n, _ in page_blocks()])
def test_a_block_runs_without_a_server(line: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BELUGA_", "NATS_"))}
    env["NATS_URL"] = "nats://127.0.0.1:1"  # nothing listens there
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, f"docs/testing.md block at line {line} failed:\n{proc.stdout}\n{proc.stderr}"
