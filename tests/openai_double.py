"""A scripted OpenAI-compatible server on loopback, for the openai backend's fault tests: a queue of
behaviours per chat request (`ok`, an HTTP status, a hang, a dropped connection); with the queue empty
it answers valid JSON for the request's `response_format`, quoting the request's own text layer
(tests/doubles.py's filler). Every request body is kept for assertions."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.doubles import _Quotes, fill


@dataclass
class Reply:
    """One scripted behaviour: `status` (200 answers), `hang_s` before answering, `drop` the connection."""

    status: int = 200
    hang_s: float = 0.0
    drop: bool = False
    body: str = ""


class OpenAIDouble:
    def __init__(self, served: str = "double", default_hang_s: float = 0.0):
        self.served = served
        self.default_hang_s = default_hang_s  # each unscripted answer takes this long
        self.replies: deque[Reply] = deque()
        self.bodies: list[dict] = []
        self.in_flight = self.most_in_flight = 0  # chat requests being answered now, and the most at once
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OpenAIDouble":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, body: dict) -> dict:
        schema = body["response_format"]["json_schema"]["schema"]
        text = "\n".join(part["text"] for part in body["messages"][1]["content"] if part["type"] == "text")
        content = json.dumps(fill(schema, schema, _Quotes(text)))
        return {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": len(content) // 4}}

    def _handler(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, payload: dict | str) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    self._send(200, {"data": [{"id": double.served}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with double._lock:
                    double.bodies.append(body)
                    reply = double.replies.popleft() if double.replies else Reply(hang_s=double.default_hang_s)
                    double.in_flight += 1
                    double.most_in_flight = max(double.most_in_flight, double.in_flight)
                try:
                    self._reply(reply, body)
                finally:
                    with double._lock:
                        double.in_flight -= 1

            def _reply(self, reply: Reply, body: dict) -> None:
                if reply.hang_s:
                    time.sleep(reply.hang_s)
                if reply.drop:
                    self.connection.close()
                    return
                if reply.status != 200:
                    self._send(reply.status, reply.body or {"error": {"message": f"scripted {reply.status}"}})
                    return
                self._send(200, double.answer(body))

        return Handler
