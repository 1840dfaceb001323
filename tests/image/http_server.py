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
  /change/<rest>    the first request for <rest> is cut as by /cut/; from then
                    on <rest> is served with the content of <rest>.new (the
                    file changed on the server mid-download)
  /stall/<rest>     the first request sends --cut-after bytes, then nothing
                    more for 60 s (a stalled transfer)
  /reset/<rest>     the first request sends --cut-after bytes, then resets the
                    connection (RST)
  /once503/<rest>   the first request is answered 503, the next ones normally
  /once429/<rest>   the first request is answered 429 with "Retry-After: 1"
  /always503/<rest> every request is answered 503
  /expiring/<rest>  needs "Authorization: Bearer first" (good for one request
                    per <rest>: it then expires) or "Bearer second"; else 401
                    with a WWW-Authenticate challenge
  /noetag/<rest>    no ETag, only Last-Modified
  /weaketag/<rest>  a weak ETag (W/"…") and Last-Modified
  /novalidator/<rest>  neither ETag nor Last-Modified
  /ignoreifrange/<rest>  honours Range but ignores If-Range (as some caches do)
  /trailers/<rest>  a chunked body followed by a trailer field
Files are served with a strong ETag (the quoted SHA-256 of the content) and
Last-Modified (the file's mtime), and honour Range with If-Range: an If-Range
that does not match the current version gets 200 with the whole file.
Anything that is not a file is a 404. Every request is appended to --log as
"METHOD PATH RANGE" (RANGE is "-" when absent), and to --detail-log (when
given) as a JSON line with its method, path, range, if_range, authorization
and the server's monotonic time in seconds. The chosen port is printed on
stdout and written to --port-file.
"""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import re
import socket
import struct
import sys
import threading
import time

MODES = ("redirect", "cut", "norange", "slow", "trickle", "echo", "change", "stall", "reset", "once503",
         "once429", "always503", "expiring", "noetag", "weaketag", "novalidator", "ignoreifrange", "trailers")
# Kept in the Location of a redirect.
FORWARDED = [m for m in MODES if m not in ("redirect", "echo")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--cut-after", type=int, default=1000)
    parser.add_argument("--detail-log")
    args = parser.parse_args()

    lock = threading.Lock()
    cut_done = set()
    firsts = set()  # (mode, rest) pairs whose first request was answered

    def first(mode, rest):
        """True for the first request of `mode` on `rest`."""
        with lock:
            seen = (mode, rest) in firsts
            firsts.add((mode, rest))
            return not seen

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
            if_range = self.headers.get("If-Range")
            with lock:
                with open(args.log, "a") as log:
                    log.write(f"{self.command} {self.path} {range_header or '-'}\n")
                if args.detail_log:
                    with open(args.detail_log, "a") as log:
                        log.write(json.dumps({"method": self.command, "path": self.path, "range": range_header,
                                              "if_range": if_range,
                                              "authorization": self.headers.get("Authorization"),
                                              "time": time.monotonic()}) + "\n")
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
                    [m for m in FORWARDED if m in modes] + [rest]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if "expiring" in modes and not self.authorized(rest):
                self.error_page(401, {"WWW-Authenticate": 'Bearer realm="vmctl-test",error="invalid_token"'},
                                send_body)
                return
            if "always503" in modes or ("once503" in modes and first("once503", rest)):
                self.error_page(503, {}, send_body)
                return
            if "once429" in modes and first("once429", rest):
                self.error_page(429, {"Retry-After": "1"}, send_body)
                return
            if "slow" in modes:
                time.sleep(0.5)
            path = os.path.join(args.root, rest)
            if not rest or ".." in segments or not os.path.isfile(path):
                self.error_page(404, {}, send_body)
                return
            if "change" in modes and not first("change", rest):
                path += ".new"
            with open(path, "rb") as f:
                data = f.read()
            etag = '"' + hashlib.sha256(data).hexdigest() + '"'
            if "weaketag" in modes:
                etag = "W/" + etag
            last_modified = email.utils.formatdate(os.stat(path).st_mtime, usegmt=True)
            if "noetag" in modes or "novalidator" in modes:
                etag = None
            if "novalidator" in modes:
                last_modified = None
            start, end = 0, len(data) - 1
            status = 200
            if "ignoreifrange" not in modes and if_range is not None and \
                    (if_range not in (etag, last_modified) or if_range.startswith("W/")):
                range_header = None  # another version (or a weak validator): the whole file
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
            if "trailers" in modes:
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Trailer", "X-Checksum")
            else:
                self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            if last_modified:
                self.send_header("Last-Modified", last_modified)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if not send_body:
                return
            if "trailers" in modes:
                for i in range(0, len(body), 4096):
                    piece = body[i:i + 4096]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\nX-Checksum: " + hashlib.sha256(body).hexdigest().encode() + b"\r\n\r\n")
                self.wfile.flush()
                return
            if "cut" in modes or "change" in modes:
                with lock:
                    first_cut = rest not in cut_done
                    cut_done.add(rest)
                if first_cut:
                    self.wfile.write(body[:args.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
            if "stall" in modes and first("stall", rest):
                self.wfile.write(body[:args.cut_after])
                self.wfile.flush()
                time.sleep(60)
                self.close_connection = True
                return
            if "reset" in modes and first("reset", rest):
                self.wfile.write(body[:args.cut_after])
                self.wfile.flush()
                time.sleep(0.2)  # the bytes reach the client before the reset does
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if "trickle" in modes:
                piece = max(1, -(-len(body) // 10))
                for i in range(0, len(body), piece):
                    self.wfile.write(body[i:i + piece])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            self.wfile.write(body)

        def authorized(self, rest):
            auth = self.headers.get("Authorization")
            if auth == "Bearer second":
                return True
            return auth == "Bearer first" and first("expiring", rest)

        def error_page(self, status, headers, send_body):
            body = b"<html>error</html>" if status != 404 else b"<html>not found</html>"
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
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
