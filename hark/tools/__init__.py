"""Tool sources that need more than the dialogue package: MCP servers."""
