"""A real MCP server over stdio for the tests, written with the `mcp` package: a small order desk.

`python tests/mcp_orders_server.py [garbage]`: with `garbage` it prints a line that is not JSON-RPC on
stdout before serving, as a broken server would. `... http PORT` serves streamable HTTP on 127.0.0.1:PORT/mcp.
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("orders")
ORDERS = {42: "two blue mugs, shipped", 7: "one red kettle, being packed"}


@server.tool()
def get_order(order_id: int) -> str:
    """Where an order is: what it holds and its status."""
    return ORDERS.get(order_id, f"there is no order {order_id}")


@server.tool()
def cancel_order(order_id: int) -> str:
    """Cancel an order."""
    return f"order {order_id} cancelled"


@server.tool()
def wait(seconds: float) -> str:
    """Wait, then say so (a tool that can hang)."""
    time.sleep(seconds)
    return "waited"


@server.tool()
def crash() -> str:
    """End the server at once, as a server that dies does."""
    os._exit(3)


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        if "garbage" in sys.argv[1:]:
            print("Welcome to the order desk!!! <html>", flush=True)
        server.run("stdio")
