from tinyagent.core.cli import run

run()
