"""config.yaml's `mcp` section: servers by name, each checked as a whole, every mistake refused
with its key and line like any other key."""

from __future__ import annotations

import pytest

from tinyagent.core.config import Config, ConfigError, McpConfig, McpServerConfig, config_sample, parse_config

FULL = """
mcp:
  max_output: 5000
  servers:
    files:
      command: npx
      args: [-y, "@modelcontextprotocol/server-filesystem", ~/notes, 8080]
      env: {DEBUG: 1, NODE_ENV: production}
      cwd: /tmp
      trusted: true
      read_only: [list_directory]
      startup_timeout: 60
    web:
      url: https://mcp.example.com/mcp
      headers_env: {Authorization: EXAMPLE_TOKEN}
      call_timeout: 5.5
      enabled: false
    quiet:
      command: my-server
"""


def test_servers_are_read_in_order_with_their_settings():
    mcp = parse_config(FULL, "c.yaml").mcp
    assert mcp.max_output == 5000 and list(mcp.servers) == ["files", "web", "quiet"]
    files, web, quiet = mcp.servers.values()
    assert files == McpServerConfig(command="npx", args=["-y", "@modelcontextprotocol/server-filesystem", "~/notes", "8080"],
                                    env={"DEBUG": "1", "NODE_ENV": "production"}, cwd="/tmp", trusted=True,
                                    read_only=["list_directory"], startup_timeout=60.0)
    assert web == McpServerConfig(url="https://mcp.example.com/mcp", headers_env={"Authorization": "EXAMPLE_TOKEN"},
                                  call_timeout=5.5, enabled=False)
    assert quiet == McpServerConfig(command="my-server")
    assert (quiet.enabled, quiet.trusted, quiet.startup_timeout, quiet.call_timeout) == (True, False, 20.0, 60.0)


def test_no_servers_by_default_and_in_the_sample():
    assert Config().mcp == McpConfig(max_output=100_000, servers={})
    assert "mcp:" in config_sample() and "\n  servers: {}  " in config_sample()
    assert parse_config("mcp:\n  servers:\n", "c.yaml").mcp.servers == {}


@pytest.mark.parametrize("text, key, line, message", [
    ("mcp:\n  servers:\n    files:\n      command: x\n      comand: y\n", "mcp.servers.files.comand", 5,
     "unknown key; known keys here: args, call_timeout, command, cwd, enabled, env, headers_env, read_only, "
     "startup_timeout, trusted, url"),
    ("mcp:\n  servers:\n    Files:\n      command: x\n", "mcp.servers.Files", 3,
     "a server's name is 1-32 of a-z, 0-9 and _ (it prefixes its tools' names)"),
    ("mcp:\n  servers:\n    my-files:\n      command: x\n", "mcp.servers.my-files", 3, "a server's name is 1-32"),
    ("mcp:\n  servers:\n    " + "a" * 33 + ":\n      command: x\n", "mcp.servers." + "a" * 33, 3, "a server's name is 1-32"),
    ("mcp:\n  servers:\n    f:\n      command: x\n    f:\n      command: y\n", "mcp.servers.f", 5,
     "this server is named twice"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      url: http://h/mcp\n", "mcp.servers.f", 3,
     "has both a command and a url; a server is one or the other"),
    ("mcp:\n  servers:\n    f:\n      args: [a]\n", "mcp.servers.f", 3,
     "needs a command (a program that speaks MCP on stdin/stdout) or a url (streamable HTTP)"),
    ("mcp:\n  servers:\n    f:\n", "mcp.servers.f", 3, "needs a command"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      startup_timeout: 0\n", "mcp.servers.f.startup_timeout", 5,
     "must be more than 0 and at most 86400 seconds"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      call_timeout: 90000\n", "mcp.servers.f.call_timeout", 5,
     "must be more than 0 and at most 86400 seconds"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      call_timeout: -1\n", "mcp.servers.f.call_timeout", 5,
     "expected a number of 0 or more, got -1.0"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      call_timeout: soon\n", "mcp.servers.f.call_timeout", 5,
     "expected a number, got 'soon'"),
    ("mcp:\n  servers:\n    f:\n      url: ftp://h/mcp\n", "mcp.servers.f.url", 4,
     "'ftp://h/mcp' must start with http:// or https://"),
    ("mcp:\n  servers:\n    f:\n      url: https://me:pw@h/mcp\n", "mcp.servers.f.url", 4,
     "put no credentials in the URL; name the variables holding them in headers_env"),
    ("mcp:\n  servers:\n    f:\n      url: http://h:99999/mcp\n", "mcp.servers.f.url", 4, "is not a usable URL"),
    ("mcp:\n  servers:\n    f:\n      url: http://h/mcp\n      args: [x]\n", "mcp.servers.f.args", 5,
     "is for a server started by a command, not one at a url"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      headers_env: {A: B}\n", "mcp.servers.f.headers_env", 5,
     "is for a server at a url, not one started by a command"),
    ("mcp:\n  servers:\n    f:\n      url: http://h/mcp\n      headers_env: {Authorization: 'a token'}\n",
     "mcp.servers.f.headers_env.Authorization", 5,
     "'a token' is not an environment variable's name (letters, digits and _)"),
    ("mcp:\n  servers:\n    f:\n      url: http://h/mcp\n      headers_env: {'Bad Header': TOKEN}\n",
     "mcp.servers.f.headers_env.Bad Header", 5, "is not an HTTP header name"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      env: [A=1]\n", "mcp.servers.f.env", 5,
     "expected a mapping of names to text, got ['A=1']"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      env: {A: [1]}\n", "mcp.servers.f.env.A", 5,
     "expected text, got [1]"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      env: {A: true}\n", "mcp.servers.f.env.A", 5,
     "expected text, got True"),
    ("mcp:\n  servers:\n    f:\n      command: x\n      args: [-v, [a]]\n", "mcp.servers.f.args", 5,
     "expected a list of text, got ['-v', ['a']]"),
    ("mcp:\n  servers:\n    f:\n      command: \"x\\0y\"\n", "mcp.servers.f.command", 4, "contains a NUL character"),
    ("mcp:\n  servers: [files]\n", "mcp.servers", 2, "expected a mapping of server names to their settings"),
    ("mcp:\n  server: {}\n", "mcp.server", 2, "unknown key; known keys here: max_output, servers"),
    ("mcp:\n  max_output: 0\n", "mcp.max_output", None, "must be at least 1 character"),
])
def test_a_bad_server_is_refused_with_its_key_and_line(text, key, line, message):
    with pytest.raises(ConfigError) as info:
        parse_config(text, "config.yaml")
    assert info.value.key == key and info.value.line == line
    assert message in str(info.value)
    assert "\n" not in str(info.value)
