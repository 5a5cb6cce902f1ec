"""The model-format converters by the name a manifest entry's `convert:` gives them.

They live with the code that reads their output (the whisper one in core/voice), above the
model store, so the store never imports them: callers of `modelstore.pull` hand this in.
"""

from __future__ import annotations

from tinyagent.core.modelstore import Converter
from tinyagent.core.voice.ct2ggml import convert_ct2_whisper

CONVERTERS: dict[str, Converter] = {"ct2-whisper": convert_ct2_whisper}
