"""A scripted OpenAI-compatible chat server on 127.0.0.1 for the LLM designer's tests.

Answers are scripted per requested schema (the tool name with ``function_calling``, the
``response_format`` name with ``json_schema``): each entry is a dict (a valid answer), a string
(sent verbatim, e.g. broken JSON), or an int (an HTTP error status, e.g. 429). When a schema's
script runs out, its last entry repeats. Every request is kept for the tests to inspect.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubLLM:
    def __init__(self, script: dict[str, list[Any]], model: str = "stub-model", port: int = 0):
        self.script = {k: list(v) for k, v in script.items()}
        self.model = model
        self.requests: list[dict] = []
        self.served: list[tuple[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                name, tool = stub.schema_name(body)
                answer = stub.next_answer(name)
                stub.served.append((name, answer))
                if isinstance(answer, int):
                    self._send(
                        answer,
                        {"error": {"message": f"scripted {answer}", "type": "rate_limit"}},
                        {"retry-after-ms": "10"},
                    )
                    return
                text = answer if isinstance(answer, str) else json.dumps(answer)
                if tool:
                    message = {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}
                        ],
                    }
                else:
                    message = {"role": "assistant", "content": text}
                self._send(
                    200,
                    {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "created": 0,
                        "model": stub.model,
                        "choices": [
                            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}
                        ],
                        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def schema_name(body: dict) -> tuple[str, bool]:
        if body.get("tools"):
            return body["tools"][0]["function"]["name"], True
        rf = body.get("response_format") or {}
        if rf.get("type") == "json_schema":
            return rf["json_schema"]["name"], False
        return "json_mode", False

    def next_answer(self, name: str) -> Any:
        queue = self.script.get(name) or self.script.get("*") or ["{}"]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def __enter__(self) -> StubLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
