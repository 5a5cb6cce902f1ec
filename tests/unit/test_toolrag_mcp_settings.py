"""toolrag.mcp_similarity and toolrag.mcp_max_tools: defaults, and a bad value is one line naming the key."""

from __future__ import annotations

import pytest

from tinyagent.core.config import Config, ConfigError, parse_config


def test_defaults_and_values_read():
    assert (Config().toolrag.mcp_similarity, Config().toolrag.mcp_max_tools) == (0.75, 6)
    cfg = parse_config("toolrag: {mcp_similarity: 0.6, mcp_max_tools: 2}\n", "c.yaml")
    assert (cfg.toolrag.mcp_similarity, cfg.toolrag.mcp_max_tools) == (0.6, 2)
    assert parse_config("toolrag: {mcp_similarity: 1}\n").toolrag.mcp_similarity == 1.0


@pytest.mark.parametrize(("text", "says"), [
    ("toolrag: {mcp_similarity: 1.5}", "toolrag.mcp_similarity: is a cosine similarity: from 0 to 1"),
    ("toolrag: {mcp_similarity: -0.2}", "toolrag.mcp_similarity: expected a number of 0 or more"),
    ("toolrag: {mcp_similarity: high}", "toolrag.mcp_similarity: expected a number"),
    ("toolrag: {mcp_max_tools: 0}", "toolrag.mcp_max_tools: must be at least 1"),
    ("toolrag: {mcp_max_tools: 2.5}", "toolrag.mcp_max_tools: expected a whole number"),
])
def test_a_bad_value_names_the_key(text, says):
    with pytest.raises(ConfigError) as caught:
        parse_config(text + "\n", "c.yaml")
    assert says in str(caught.value) and "\n" not in str(caught.value)
