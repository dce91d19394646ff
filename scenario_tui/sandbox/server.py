"""The sandbox as a local HTTP server on the loopback interface (stdlib ``http.server``)."""

from __future__ import annotations

import ipaddress
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from scenario_tui.sandbox.config import SandboxConfig
from scenario_tui.sandbox.state import Sandbox

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


def make_server(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A server relaying every request to ``sandbox.handle``; ``port=0`` picks a free port."""
    try:
        loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox only listens on an IPv4 loopback address, not {host}")

    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "scenario-tui-sandbox"

        def _relay(self) -> None:
            length = self.headers.get("Content-Length", "")
            body = self.rfile.read(int(length)) if length.isdigit() else b""
            host_header = self.headers.get("Host") or default_host
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
            request = httpx.Request(self.command, f"http://{host_header}{self.path}", headers=headers, content=body)
            if sandbox.config.latency > 0:
                time.sleep(sandbox.config.latency)
            answer = sandbox.handle(request)
            if answer.delay > 0:
                time.sleep(answer.delay)
            response = answer.response
            if response is None:  # close the connection without a word
                self.close_connection = True
                return
            content = response.read()
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: no line per request."""

    server = ThreadingHTTPServer((host, port), Relay)
    default_host = f"{host}:{server.server_port}"  # for HTTP/1.0 clients that send no Host
    return server


def serve(port: int, config: SandboxConfig) -> None:
    """Run the sandbox on 127.0.0.1:``port`` until interrupted (Ctrl-C raises ``KeyboardInterrupt``)."""
    with make_server(Sandbox(config), port=port) as server:
        actual = server.server_address[1]
        accepted = "the configured API key and secret" if config.credentials else "any API key and secret"
        print(f"Scenario API sandbox at http://127.0.0.1:{actual}/v1 ({accepted}; Ctrl-C stops)",
              file=sys.stderr, flush=True)
        server.serve_forever()
