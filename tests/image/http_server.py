#!/usr/bin/env python3
"""A small HTTP server for the image cache tests (127.0.0.1 only).

Serves files from --root. The path may start with mode segments, in any order:
  /redirect/<rest>  302 to /<rest>
  /cut/<rest>       the first request for <rest> sends the full Content-Length
                    but only --cut-after bytes, then drops the connection
  /norange/<rest>   ignores Range headers (always 200 with the whole file)
  /slow/<rest>      sleeps a little before answering
  /trickle/<rest>   sends the body in 10 pieces, 0.1 s apart (about 1 s in all)
  /echo/<anything>  answers any method with JSON of the request: its method,
                    path, headers (as [name, value] pairs) and body
Anything that is not a file is a 404. Every request is appended to --log as
"METHOD PATH RANGE" (RANGE is "-" when absent). The chosen port is printed on
stdout and written to --port-file.
"""
import argparse
import http.server
import json
import os
import re
import sys
import threading
import time

MODES = ("redirect", "cut", "norange", "slow", "trickle", "echo")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--cut-after", type=int, default=1000)
    args = parser.parse_args()

    lock = threading.Lock()
    cut_done = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            self.handle_request(send_body=True)

        def do_HEAD(self):
            self.handle_request(send_body=False)

        do_PUT = do_POST = do_DELETE = do_GET

        def handle_request(self, send_body):
            range_header = self.headers.get("Range")
            with lock:
                with open(args.log, "a") as log:
                    log.write(f"{self.command} {self.path} {range_header or '-'}\n")
            segments = [s for s in self.path.split("?")[0].split("/") if s]
            modes = set()
            while segments and segments[0] in MODES:
                modes.add(segments.pop(0))
            rest = "/".join(segments)
            if "echo" in modes:
                self.echo()
                return
            if "redirect" in modes:
                self.send_response(302)
                self.send_header("Location", "/" + "/".join(
                    [m for m in ("cut", "norange", "slow", "trickle") if m in modes] + [rest]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if "slow" in modes:
                time.sleep(0.5)
            path = os.path.join(args.root, rest)
            if not rest or ".." in segments or not os.path.isfile(path):
                body = b"<html>not found</html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)
                return
            with open(path, "rb") as f:
                data = f.read()
            start, end = 0, len(data) - 1
            status = 200
            if range_header and "norange" not in modes:
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
                if m and m.group(1):
                    start = int(m.group(1))
                    if m.group(2):
                        end = min(int(m.group(2)), len(data) - 1)
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
            body = data[start:end + 1]
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not send_body:
                return
            if "cut" in modes:
                with lock:
                    first = rest not in cut_done
                    cut_done.add(rest)
                if first:
                    self.wfile.write(body[:args.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
            if "trickle" in modes:
                piece = max(1, -(-len(body) // 10))
                for i in range(0, len(body), piece):
                    self.wfile.write(body[i:i + piece])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            self.wfile.write(body)

        def echo(self):
            length = int(self.headers.get("Content-Length") or 0)
            received = self.rfile.read(length).decode("utf-8", "replace")
            body = json.dumps({"method": self.command, "path": self.path,
                               "headers": [[k, v] for k, v in self.headers.items()],
                               "body": received}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, args.port_file)
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
