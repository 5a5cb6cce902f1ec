"""The tools, one ToolSpec each, grouped by the app they drive; tools/registry.py lists them.

A tool's module holds all of it: its signature and prompt hint, its effect and companions,
its argument checks, its approval summary, the text it has written, and its handler on each
backend. Adding a tool is a ToolSpec here, one line in the registry, and (for macOS) its
script in applescripts/.
"""
