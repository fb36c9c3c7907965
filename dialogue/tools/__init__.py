"""Tools the model can call: built-ins, MCP servers' tools (wired in by `hark`), and the guard around them."""
