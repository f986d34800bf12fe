#!/usr/bin/env python3
"""A minimal AWS Lambda Runtime API emulator for scripts/measure-foundation (stdlib only).

It serves ONE queued event on GET /2018-06-01/runtime/invocation/next, then records what the function
posts back (/invocation/{id}/response, /invocation/{id}/error or /init/error) to --record as JSON
({"kind", "request_id", "body", "received_at"}). Later /next calls hang, as they do on Lambda while the
environment is frozen, until the emulator exits. It listens on 127.0.0.1 only, writes its port to
--port-file once listening, and exits by itself after --timeout seconds.

Not a general emulator: tests/support/runtime_api.rs is the in-repo one for the test suites.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:apuntador"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event", required=True, help="file holding the event JSON to deliver")
    parser.add_argument("--record", required=True, help="where to write the posted response")
    parser.add_argument("--port-file", required=True, help="where to write the listening port")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--timeout", type=float, default=60.0, help="exit after this many seconds")
    args = parser.parse_args()

    with open(args.event, "rb") as f:
        event = f.read()
    state = {"delivered": False}
    lock = threading.Lock()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # keep the measuring script's output clean
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                self._reply(404, b'{"errorType":"NotFound"}')
                return
            with lock:
                first = not state["delivered"]
                state["delivered"] = True
            if not first:
                # Frozen environment: hold the long poll until the emulator stops.
                stop.wait()
                return
            deadline_ms = int(time.time() * 1000) + 30_000
            self._reply(
                200,
                event,
                {
                    "Lambda-Runtime-Aws-Request-Id": REQUEST_ID,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                },
            )

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path == f"{PREFIX}/init/error":
                kind, request_id = "init_error", None
            elif self.path.startswith(f"{PREFIX}/invocation/") and self.path.endswith("/response"):
                kind, request_id = "response", self.path.split("/")[-2]
            elif self.path.startswith(f"{PREFIX}/invocation/") and self.path.endswith("/error"):
                kind, request_id = "error", self.path.split("/")[-2]
            else:
                self._reply(404, b'{"errorType":"NotFound"}')
                return
            record = {
                "kind": kind,
                "request_id": request_id,
                "body": body.decode("utf-8", "replace"),
                "received_at": time.time(),
            }
            tmp = args.record + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(record, f)
            os.replace(tmp, args.record)  # the script polls for the file: make it appear whole
            self._reply(202, b'{"status":"OK"}')

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)

    timer = threading.Timer(args.timeout, server.shutdown)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
