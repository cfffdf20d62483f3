"""Agents in a notebook: discovered agents show as a table, a prompt's answer streams into the
cell (a real ipykernel, as tests/integration/test_notebook.py runs them); outside a notebook the
answer is printed as it comes."""

from __future__ import annotations

import time

import pytest

import beluga_nats_sync as bns
from beluga_nats_sync.agents import Agents, AgentService
from beluga_nats_sync.server import EmbeddedServer


def test_agents_table_and_printed_stream(client: bns.Client, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"nb{time.monotonic_ns() % 10**9}"
    svc = AgentService(nc=client, agent=name, owner="me", session_name="s", description="<b>bold</b>")

    @svc.on_prompt
    def handler(envelope: bns.Envelope, stream: bns.PromptStream) -> None:
        for word in envelope.prompt.split():
            stream.send(word + " ")

    with svc, Agents(client) as agents:
        found = agents.discover(agent=name)
        html = found._repr_html_()
        assert "<table" in html and name in html and svc.instance_id in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html  # escaped
        stream = found[0].prompt("streams into the cell")
        assert "streaming" in stream._repr_html_()
        assert stream.show() == "streams into the cell "
        assert capsys.readouterr().out == "streams into the cell \n"
        assert "ended" in stream._repr_html_()


def test_in_a_real_kernel(nats_server: EmbeddedServer) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat (dev extra) runs notebooks")
    pytest.importorskip("nbclient", reason="nbclient (dev extra) runs notebooks")
    from test_notebook import run_notebook

    setup = f"""
import beluga_nats_sync as bns
nc = bns.connect({nats_server.url!r})
svc = bns.AgentService(nc=nc, agent="nbkernel", owner="me", session_name="s{time.monotonic_ns() % 10**9}")
svc.on_prompt(lambda envelope, stream: [stream.send(w + " ") for w in envelope.prompt.split()])
svc.start()
agents = bns.Agents(nc)
"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(setup),
        nbformat.v4.new_code_cell("found = agents.discover(session=svc.subject.session_name)\nfound"),
        nbformat.v4.new_code_cell("found[0].prompt('one two three').show()"),
        nbformat.v4.new_code_cell("svc.stop(); agents.close(); nc.close()"),
    ]
    done = run_notebook(nb)
    table = done.cells[1].outputs[0]
    assert "nbkernel" in table["data"]["text/html"] and "<table" in table["data"]["text/html"]
    kinds = [o["output_type"] for o in done.cells[2].outputs]
    assert kinds[0] == "display_data" and "update_display_data" not in kinds  # updates replace it in place
    shown = done.cells[2].outputs[0]["data"]["text/html"]
    assert "one two three" in shown and "ended" in shown
    assert done.cells[2].outputs[-1]["data"]["text/plain"] == "'one two three '"
