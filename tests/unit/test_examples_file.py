"""The user's examples file: whatever `examples add` / `import` write, the next `examples list` reads
back as the very same examples; a write that would not is refused and the old file is kept."""

from __future__ import annotations

import json

import pytest

from tinyagent.core.cli import main
from tinyagent.core.toolrag import examples as ex
from tinyagent.core.toolrag.examples import ExampleError, add_user_example, read_examples, user_examples_file

ODD = ["\x85", "\u2028", "\u2029", "\ufeff", "\x7f", "\x9b", "\t", "  ", "'", '\\"', "#", ": ", "- ", "|", "$", "é", "\U0001f600"]


@pytest.mark.parametrize("odd", ODD, ids=[f"U+{ord(o[0]):04X}" for o in ODD])
def test_whatever_is_added_reads_back_the_same(odd):
    plan = f'1. get_phone_number("Ann{odd}Lee")\n2. send_sms(["$1"], "{odd}x $1{odd}")\n3. join()<END_OF_PLAN>'
    example = add_user_example(f"text Ann{odd}Lee", plan)
    assert read_examples(user_examples_file(), "user") == [example]


def test_two_imported_examples_with_u0085_list_afterwards(tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    rows = [{"query": f"call Ann {n}", "plan": f'1. get_phone_number("Ann\x85{n}")\n2. join()<END_OF_PLAN>'} for n in (1, 2)]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert main(["examples", "import", str(data)]) == 0
    capsys.readouterr()
    assert main(["examples", "list", "--json"]) == 0
    listed = [e for e in json.loads(capsys.readouterr().out) if e["source"] == "user"]
    assert [e["plan"].split("\n")[0] for e in listed] == [f'1. get_phone_number("Ann\x85{n}")' for n in (1, 2)]


def test_a_file_that_would_not_read_back_is_refused_and_the_old_one_kept(monkeypatch):
    first = add_user_example("call Ann", '1. get_phone_number("Ann")\n2. join()<END_OF_PLAN>')
    before = user_examples_file().read_bytes()
    # the writer as it was: every plan as a `|` block, where YAML turns U+0085 into a line break
    monkeypatch.setattr(ex, "_dump_user", lambda examples: "".join(
        f"- query: {e.query}\n  plan: |\n" + "".join(f"    {line}\n" for line in e.plan.split("\n")) for e in examples))
    with pytest.raises(ExampleError, match="left as it was: the new file would not read back"):
        add_user_example("call Bo", '1. get_phone_number("B\x85o")\n2. join()<END_OF_PLAN>')
    assert user_examples_file().read_bytes() == before and read_examples(user_examples_file(), "user") == [first]
    assert not list(user_examples_file().parent.glob("*.tmp"))
