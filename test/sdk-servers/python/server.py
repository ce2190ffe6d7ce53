"""The differential fuzzer's Python MCP server: the official `mcp` SDK (MCPServer, formerly FastMCP),
Streamable HTTP in stateless mode, served by uvicorn. See ../README.md for the contract.

    server.py --port P --log FILE
"""

import argparse
import asyncio
import json
import sys
import threading
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

SDK_NAME = "python"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    return parser.parse_args()


def compact_json(value: Any, ascii_only: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ascii_only, separators=(",", ":"))


def execution_recorder(log_path: str):
    """Appends one JSON line per tool execution and flushes it before the tool answers, so the
    harness never reads a log that lags behind the results the client has seen."""

    def record(tool: str, arguments: dict[str, Any]) -> None:
        # ASCII with \u escapes: should a lone surrogate (valid JSON, not encodable as UTF-8) ever
        # reach a tool, it is still logged; mcp 2.3.0's parser happens to refuse it before that.
        line = compact_json({"sdk": SDK_NAME, "tool": tool, "arguments": arguments}, ascii_only=True)
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
            log.flush()

    return record


def build_server(record) -> MCPServer:
    server = MCPServer(SDK_NAME)

    # structured_output=False: a `str` return would otherwise also be offered as structured content
    # (with an output schema); the contract is one text content, as in the other languages.
    @server.tool(name="echo", description="Echoes text back.", structured_output=False)
    def echo(text: str) -> str:
        record("echo", {"text": text})
        return text

    @server.tool(name="get_invoice", description="Reads one invoice of one customer.", structured_output=False)
    def get_invoice(customer_id: str, invoice_id: str) -> str:
        record("get_invoice", {"customer_id": customer_id, "invoice_id": invoice_id})
        return compact_json({"customer_id": customer_id, "invoice_id": invoice_id})

    @server.tool(
        name="send_email",
        description="Sends an email (pretends to).",
        annotations=ToolAnnotations(destructive_hint=True),
        structured_output=False,
    )
    def send_email(to: str, body: str) -> str:
        record("send_email", {"to": to, "body": body})
        return "sent"

    return server


def exit_when_stdin_closes(loop: asyncio.AbstractEventLoop, http: uvicorn.Server) -> None:
    """The harness holds our stdin; EOF means it is gone, and so must we be (no orphans)."""

    def wait_for_eof() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        loop.call_soon_threadsafe(setattr, http, "should_exit", True)

    threading.Thread(target=wait_for_eof, daemon=True).start()


async def announce_when_started(http: uvicorn.Server, port: int) -> None:
    # uvicorn sets `started` once the app's lifespan (which runs the SDK's session manager) has
    # started and the socket listens: only then can a request be served.
    while not http.started:
        if http.should_exit:
            return
        await asyncio.sleep(0.01)
    sys.stdout.write(json.dumps({"url": f"http://127.0.0.1:{port}/mcp"}) + "\n")
    sys.stdout.flush()


async def main() -> None:
    args = parse_args()
    server = build_server(execution_recorder(args.log))
    app = server.streamable_http_app(
        stateless_http=True,
        # DNS-rebinding protection stays on, allowing what the sidecar's upstream client sends.
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*"],
            allowed_origins=["http://127.0.0.1:*"],
        ),
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        # Access logs would go to stdout, which carries only the ready line.
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    http = uvicorn.Server(config)
    exit_when_stdin_closes(asyncio.get_running_loop(), http)
    announcer = asyncio.create_task(announce_when_started(http, args.port))
    await http.serve()  # handles SIGTERM and SIGINT itself: a graceful stop
    announcer.cancel()


if __name__ == "__main__":
    asyncio.run(main())
