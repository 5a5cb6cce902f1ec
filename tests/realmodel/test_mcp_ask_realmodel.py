"""`tinyagent ask` with a compact-profile model (Qwen2.5-Coder-0.5B-Instruct, untuned) and the
reference filesystem server on a temp folder: a request that needs the server's write_file.

Whatever the model plans, ToolRAG must offer write_file (by similarity) and the run must end
cleanly. Where the plan calls write_file, the call runs through the gate: with no terminal it
is asked for and declined (nothing written), with --yes the file is written. The untuned 0.5B
does not plan it reliably: on "Save a note file ..." it reached for the built-in create_note
(observed: `1. open_and_get_file_path("todo.txt")` / `2. create_note("Buy milk", ...)`), so
that part is an expected failure that says the plan it saw; tests/integration/test_mcp_planning.py
asserts the same gate path with a scripted model. With the notes and files apps off (a user whose
files live in the server's folder) it planned `write_file("todo.txt", "Buy milk\n\n...")`.
"""

from __future__ import annotations

import json

import pytest

from tests.support.cli import tinyagent
from tests.support.fs_server import files_config
from tests.support.realmodels import real_model

pytestmark = pytest.mark.realmodel
SAVE = "Save a note file called todo.txt in my folder saying buy milk"
ALL_APPS = "[contacts, calendar, files, mail, maps, notes, reminders, messages, zoom]"
NO_NOTES = "[contacts, calendar, mail, maps, reminders, messages, zoom]"  # files go to the server's folder


def ask(config, model, *flags):
    out = tinyagent("ask", SAVE, "--model", str(model), "--json", *flags, config=config, timeout=1200)
    assert "Traceback" not in out.stderr, out.stderr
    return out, [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("apps", [ALL_APPS, NO_NOTES], ids=["every app", "no notes or files app"])
def test_ask_plans_a_call_of_the_servers_tool_and_the_gate_holds_it(tmp_path, apps):
    model = real_model("qwen2.5-coder-0.5b")
    folder = (tmp_path / "home").resolve()
    folder.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(files_config(folder, extra=f"apps: {apps}\nplanner: {{prompt: compact, max_replans: 0, threads: 1}}\n"))

    out, events = ask(config, model)  # no terminal: every step that asks is declined
    assert out.returncode in (0, 1, 2), out.stderr
    chosen = next((e for e in events if e["event"] == "tools_selected"), None)
    assert chosen is not None, f"no tools were chosen (exit {out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "write_file" in chosen["selected"] and chosen["similarities"]["write_file"] >= chosen["similarity_threshold"]
    assert not set(chosen["similarities"]) & set(chosen["probabilities"])
    tasks = [e["task"] for e in events if e["event"] == "task_added"]
    plan = "\n".join(t["text"] for t in tasks)
    writes = [t for t in tasks if t["tool"] == "write_file" and str(t["args"][0]).endswith("todo.txt")]
    if not writes:
        pytest.xfail(f"the untuned 0.5B did not plan write_file(\"...todo.txt\", ...); it planned:\n{plan}")
    asked = [e for e in events if e["event"] == "approval_requested"]
    assert [(e["tool"], e["effect"]) for e in asked if e["tool"] == "write_file"] == [("write_file", "external")]
    assert {e["decision"] for e in events if e["event"] == "approval_resolved"} == {"deny"}
    assert out.returncode == 1 and not (folder / "todo.txt").exists()

    out, events = ask(config, model, "--yes")  # temperature 0: the same plan, now approved
    assert out.returncode == 0, out.stdout + out.stderr
    assert "milk" in (folder / "todo.txt").read_text().lower()
