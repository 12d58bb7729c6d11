"""A scripted OpenAI-shaped chat upstream for agent tests.

It plays a model that uses a tool: asked with tools and a prompt naming a
file (``READ <path>``), it calls the ``Read`` tool on that path; given the
tool's result, it answers ``The file says: <result>``. Anything else (an
agent's side requests: titles, topics, quota checks) gets a short text
answer. Streams (``stream: true``) are answered as OpenAI chunk events with
a usage chunk, as real OpenAI-compatible servers send them.

Run: ``python scripted_upstream.py`` prints ``LISTENING 127.0.0.1:<port>``.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READ = re.compile(r"READ (\S+)")
seen: list[dict] = []


def text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def decide(request: dict) -> dict:
    """The assistant message to answer ``request`` with."""
    messages = request.get("messages", [])
    tools = {t["function"]["name"] for t in request.get("tools", []) if t.get("type") == "function"}
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return {"content": "The file says: " + text_of(last.get("content")).strip()}
    wanted = None
    for m in messages:
        if m.get("role") == "user":
            found = READ.search(text_of(m.get("content")))
            if found:
                wanted = found.group(1)
    if wanted and "Read" in tools:
        args = json.dumps({"file_path": wanted})
        return {"tool_calls": [{"id": "call_read_1", "type": "function",
                                "function": {"name": "Read", "arguments": args}}]}
    return {"content": "ok"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "agent-model", "object": "model"}]}).encode()
        self.reply(200, "application/json", body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        seen.append(request)
        if not self.path.endswith("/chat/completions"):
            self.reply(404, "application/json", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
            return
        message = decide(request)
        finish = "tool_calls" if "tool_calls" in message else "stop"
        usage = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
        if not request.get("stream"):
            body = {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0,
                    "model": request.get("model"),
                    "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                 "finish_reason": finish}],
                    "usage": usage}
            self.reply(200, "application/json", json.dumps(body).encode())
            return
        chunks = [{"role": "assistant", "content": ""}]
        if "content" in message:
            words = message["content"].split(" ")
            chunks += [{"content": w if i == 0 else " " + w} for i, w in enumerate(words)]
        else:
            call = message["tool_calls"][0]
            args = call["function"]["arguments"]
            chunks.append({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                           "function": {"name": "Read", "arguments": ""}}]})
            half = len(args) // 2
            for piece in (args[:half], args[half:]):
                chunks.append({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def event(obj: dict) -> None:
            data = ("data: " + json.dumps(obj) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        base = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0,
                "model": request.get("model")}
        for delta in chunks:
            event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        event({**base, "choices": [], "usage": usage})
        done = b"data: [DONE]\n\n"
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))

    def reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    srv = serve()
    print(f"LISTENING 127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)
