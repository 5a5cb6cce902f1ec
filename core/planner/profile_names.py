"""The prompt profiles' names, importing nothing: what `planner.prompt` (besides `auto`), `--profile`
and a manifest entry's `prompt:` may say.

Settings are checked below the planner (core/config.py must not import the profiles, which
import the example pool, which reads the config), so the names live here and the table of
profile objects in core/planner/profiles.py is keyed by exactly these (tests/unit/test_profiles.py).
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ProfileName = Literal["tinyagent", "compact", "tuned"]  # the config's type for `planner.prompt` too
PROFILE_NAMES: tuple[str, ...] = get_args(ProfileName)
TINYAGENT: Final = "tinyagent"
COMPACT: Final = "compact"
TUNED: Final = "tuned"
