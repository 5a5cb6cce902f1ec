"""The plan tokens that decide a plan's graph, weighed in training (core/planner/graph_tokens.py)."""

from tinyagent.core.planner.graph_tokens import graph_spans, token_weights

PLAN = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "Late — $5 off")\n3. join()<END_OF_PLAN>'


def _texts(text: str, spans):
    raw = text.encode("utf-8")
    return [raw[a:b].decode("utf-8") for a, b in spans]


def test_tool_names_and_references_are_the_graph_spans():
    # "$5 off" in a message is text the graph never sees, but it reads like a reference: the
    # weight errs toward the graph there, which costs nothing but a heavier token.
    assert _texts(PLAN, graph_spans(PLAN)) == ["get_phone_number", "send_sms", "$1", "$5", "join"]


def test_spans_are_bytes_after_multibyte_text():
    text = '1. send_sms(["é"], "—")\n2. notify(["$1"])'
    assert _texts(text, graph_spans(text)) == ["send_sms", "notify", "$1"]


def test_a_token_overlapping_a_span_gets_the_weight():
    text = '1. get_phone_number("Ana")\n2. join()'
    pieces = [b"1", b".", b" get", b"_phone", b"_number", b'("', b"Ana", b'")\n', b"2", b".", b" join", b"()", b""]
    assert b"".join(pieces) == text.encode()
    weights = token_weights(pieces, graph_spans(text), 3.0)
    heavy = [p for p, w in zip(pieces, weights) if w == 3.0]
    assert heavy == [b" get", b"_phone", b"_number", b" join"]
    assert all(w == 1.0 for p, w in zip(pieces, weights) if p not in heavy)  # the empty end token too
