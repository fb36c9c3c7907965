"""The example flow's back office: an MCP server (stdio) that books meeting rooms, kept in memory."""

from __future__ import annotations

import itertools

from mcp.server.mcpserver import MCPServer

server = MCPServer("rooms")
_numbers = itertools.count(1)
ROOMS = {4: "Birch", 8: "Cedar", 12: "Oak"}


@server.tool()
def book_room(people: int, day: str, time: str) -> str:
    """Book the smallest free meeting room for `people` on `day` (YYYY-MM-DD) at `time` (HH:MM)."""
    room = next((name for size, name in sorted(ROOMS.items()) if size >= people), None)
    if room is None:
        return f"No room holds {people} people."
    return f"Booked the {room} room for {people} on {day} at {time}; booking number {next(_numbers)}."


if __name__ == "__main__":
    server.run("stdio")
