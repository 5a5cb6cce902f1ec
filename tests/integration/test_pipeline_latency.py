"""Work the pipeline does not repeat per request: the example pool is read again only when it changed."""

from __future__ import annotations

from tinyagent.core.config import Config
from tinyagent.core.pipeline import Pipeline
from tinyagent.core.toolrag.examples import add_user_example, user_examples_file


def test_the_example_pool_is_read_once_until_the_users_file_changes():
    pipeline = Pipeline(Config(backend="sandbox"))
    first = pipeline._user_pool()
    assert first is not None and pipeline._user_pool() is first
    add_user_example("Text Zoe that the cake is ready",
                     '1. get_phone_number("Zoe")\n2. send_sms(["$1"], "The cake is ready")\n3. join()<END_OF_PLAN>')
    assert user_examples_file().exists()
    second = pipeline._user_pool()
    assert second is not first and any(e.query.startswith("Text Zoe") for e in second.examples)
    assert pipeline._user_pool() is second
