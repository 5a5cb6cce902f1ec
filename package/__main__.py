"""`python -m tinyagent`: the `tinyagent` program."""

from tinyagent.core.cli import run

run()
