"""MCP servers as tool sources, against a real stdio server written with the `mcp` package
(tests/mcp_orders_server.py): discovery, calls, confirmation, and servers that fail, print garbage, hang
or die (reported, restarted with backoff, the conversation goes on)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dialogue.backends.base import ToolCallItem
from dialogue.manager import NOT_DONE, DialogueManager
from dialogue.tools.registry import ToolRegistry
from dialogue.tools.toolbox import Toolbox
from hark.cli import main
from hark.commands.doctor import check_tools
from hark.config import McpServer, load_config
from hark.tools import mcp_client
from hark.tools.mcp_client import connect_servers
from tests.dialogue_fakes import FakeBackend

SERVER = str(Path(__file__).with_name("mcp_orders_server.py"))
START_S = 30.0
"""Generous: starting a Python MCP server on a busy 2-core machine takes seconds."""


def orders(*extra: str, **settings) -> McpServer:
    values = {"timeout_s": START_S} | settings
    return McpServer("orders", (sys.executable, SERVER, *extra), **values)


@pytest.fixture(scope="module")
def toolbox():
    box = Toolbox.with_builtins(None)
    connect_servers(box, (orders(confirm=("cancel_order",)),))
    yield box
    box.close()


def run(box: Toolbox, name: str, arguments: dict):
    pending = box.registry.start(name, arguments)
    return pending.wait(60.0)


def wait_until(condition, seconds: float = 60.0) -> bool:
    tick = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if condition():
            return True
        tick.wait(0.1)
    return condition()


def test_the_servers_tools_are_discovered_with_their_schemas_and_called(toolbox):
    tools = {t.name: t for t in toolbox.registry.tools()}
    assert {"get_order", "cancel_order", "wait", "get_time"} <= set(tools)
    assert tools["get_order"].source == "orders" and tools["get_time"].source == "builtin"
    assert tools["cancel_order"].confirm and not tools["get_order"].confirm
    assert toolbox.registry.problems("get_order", {"order_id": "forty-two"})  # the server's own schema
    result = run(toolbox, "get_order", {"order_id": 42})
    assert result.ok and result.content == "two blue mugs, shipped"
    assert toolbox.status == {}


def test_a_tool_that_hangs_is_abandoned_after_its_timeout_and_the_server_goes_on(toolbox):
    quick = Toolbox(toolbox.registry)
    slow = quick.registry.get("wait")
    quick.registry.add(type(slow)(**{**slow.__dict__, "timeout_s": 1.0}))  # same tool, a short timeout
    result = run(quick, "wait", {"seconds": 20})
    assert not result.ok and "did not answer within 1s" in result.content
    assert run(toolbox, "get_order", {"order_id": 7}).content == "one red kettle, being packed"


@pytest.mark.parametrize(("answer", "done"), [("no", False), ("yes, go ahead", True)])
def test_a_confirmed_tool_acts_only_on_a_yes(toolbox, answer, done):
    def calls(messages, options):
        return (
            [ToolCallItem("cancel_order", {"order_id": 42})]
            if options.tools and messages[-1].role == "user"
            else []
        )

    def reply(messages):
        return next((m.content for m in reversed(messages) if m.role == "tool"), "nothing")

    events = []
    manager = DialogueManager(FakeBackend(reply, calls=calls), toolbox=toolbox, on_tool_event=events.append)
    assert manager.reply("cancel my order 42") == "I'll cancel order with order id 42, shall I?"
    assert events == []  # nothing was called yet
    said = manager.reply(answer)
    assert ("order 42 cancelled" in said) is done
    assert (said == NOT_DONE) is not done
    assert [e.name for e in events] == (["cancel_order", "cancel_order"] if done else [])


def test_a_command_that_does_not_exist_is_reported_and_the_builtins_still_work():
    box = Toolbox.with_builtins(None)
    connect_servers(box, (McpServer("ghost", ("/no/such/program",), timeout_s=5),))
    try:
        assert "ghost failed (the command /no/such/program does not exist)" in box.status["ghost"]
        assert run(box, "calculate", {"expression": "2 + 2"}).content == "2 + 2 = 4"
    finally:
        box.close()


def test_a_server_that_prints_garbage_still_serves_its_tools():
    box = Toolbox(Toolbox.with_builtins(None).registry)
    connect_servers(box, (orders("garbage", allow=("get_order",)),))
    try:
        assert [t.name for t in box.registry.tools() if t.source == "orders"] == ["get_order"]
        assert run(box, "get_order", {"order_id": 42}).ok
    finally:
        box.close()


def test_a_server_that_dies_is_reported_and_restarted_with_backoff(monkeypatch):
    monkeypatch.setattr(mcp_client, "BACKOFF_S", (0.2,))
    box = Toolbox.with_builtins(None)
    (connection,) = connect_servers(box, (orders(),))
    try:
        result = run(box, "crash", {})
        assert not result.ok
        assert wait_until(lambda: connection.restarts >= 1)
        assert wait_until(lambda: box.registry.get("get_order") is not None and not box.status)
        assert run(box, "get_order", {"order_id": 42}).ok  # back after the restart
    finally:
        box.close()


def test_a_streamable_http_server_is_reached_by_its_url(monkeypatch):
    monkeypatch.setattr(mcp_client, "BACKOFF_S", (0.5,))  # the client retries until the server listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, SERVER, "http", str(port)], stderr=subprocess.DEVNULL)
    box = Toolbox(ToolRegistry())
    try:
        connect_servers(box, (McpServer("web", url=f"http://127.0.0.1:{port}/mcp", timeout_s=START_S),))
        assert wait_until(lambda: box.registry.get("get_order") is not None)
        assert run(box, "get_order", {"order_id": 7}).content == "one red kettle, being packed"
    finally:
        box.close()
        process.terminate()
        process.wait(10)


def test_hark_tools_list_names_each_tool_and_its_source(tmp_path, capsys):
    config = tmp_path / "hark.toml"
    config.write_text(
        "[tools]\nbuiltin = false\n\n[[tools.mcp]]\n"
        f'name = "orders"\ncommand = {json.dumps([sys.executable, SERVER])}\nallow = ["get_order"]\n'
        f"timeout_s = {START_S}\n"
    )
    assert main(["tools", "list", "--config", str(config), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        {
            "name": "get_order",
            "description": "Where an order is: what it holds and its status.",
            "source": "orders",
        }
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('name = "x"\n', "tools.mcp[0] (x): give either command = [...] (stdio) or url"),
        ('name = "x"\ncommand = ["a"]\nurl = "http://h/mcp"\n', "give either command"),
        ('command = ["a"]\n', "tools.mcp[0].name: must be text"),
        ('name = "x"\ncommand = ["a"]\ntimeout_s = -1\n', "tools.mcp[0].timeout_s: must be a number"),
        ('name = "x"\ncommand = ["a"]\nretries = 2\n', "tools.mcp[0].retries: unknown key"),
    ],
)
def test_a_bad_server_table_is_one_clear_error(tmp_path, capsys, table, message):
    config = tmp_path / "hark.toml"
    config.write_text("[[tools.mcp]]\n" + table)
    assert main(["tools", "list", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_servers_are_read_from_the_config(tmp_path):
    config = tmp_path / "hark.toml"
    config.write_text('[[tools.mcp]]\nname = "web"\nurl = "http://127.0.0.1:9/mcp"\nconfirm = ["buy"]\n')
    (server,) = load_config(str(config), environ={}).tools.mcp
    assert server == McpServer("web", (), "http://127.0.0.1:9/mcp", (), ("buy",), 10.0)


def test_doctor_reports_each_server(tmp_path):
    config = tmp_path / "hark.toml"
    good = json.dumps([sys.executable, SERVER])
    config.write_text(
        f'[[tools.mcp]]\nname = "orders"\ncommand = {good}\ntimeout_s = {START_S}\n\n'
        '[[tools.mcp]]\nname = "ghost"\ncommand = ["/no/such/program"]\ntimeout_s = 5\n'
    )
    orders_check, ghost_check = check_tools(load_config(str(config), environ={}))
    assert orders_check.ok and "4 tool(s): cancel_order, crash, get_order, wait" in orders_check.detail
    assert not ghost_check.ok and "the command /no/such/program does not exist" in ghost_check.detail
    assert ghost_check.fix == "run it by hand: /no/such/program"
