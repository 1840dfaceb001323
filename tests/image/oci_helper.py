#!/usr/bin/env python3
"""Helpers for the OCI registry tests (127.0.0.1 only, standard library only).

  wait  --url URL [--timeout S] [--cafile PEM]   until GET URL answers 200 (exit 1 if never)
  push  --registry URL --repo R --tag T --layer FILE --media-type MT [--cafile PEM]
        [--index [--platforms P,P… --layer-platform P]]
        pushes FILE as the only layer of an OCI image manifest (config: the
        empty descriptor) tagged T; with --index, the tag names an image index
        with one manifest per platform of --platforms (default
        linux/arm64,linux/amd64, in that order): FILE is the layer of
        --layer-platform's (default linux/amd64), each other one's layer is
        "disk image for <platform>". Prints JSON: {"manifest": digest,
        "index": digest or null, "layer": digest, "platforms": {P:
        {"manifest": digest, "layer": digest}}}
  proxy --upstream URL --port-file F --log F --mode MODE [--user U --password P] [--tag T]
        [--bind 127.0.0.x] [--token-field token|access_token|both] [--token-uses N]
        [--redirect-blobs 127.0.0.x [--cdn-cert PEM --cdn-key PEM]] [--cut]
        an HTTP server in front of the registry. MODE:
          bearer       /v2/ needs a bearer token from /token (which checks
                       service and scope, and Basic credentials when --user);
                       the token is sent in --token-field, and each token
                       issued is good for --token-uses requests (0: any number),
                       then answered 401 with a fresh challenge, as an expired one
          basic        /v2/ needs Basic credentials --user/--password
          plain        no authentication
          corrupt      blob bodies have one byte flipped
          cut          the first blob download stops halfway (the client resumes);
                       --cut does the same in another mode
          wrong-manifest  manifests asked for by digest are answered with tag T's
        --flaky answers the first GET of every path (token, manifests, blobs)
        with a 503 and Retry-After: 0
        --redirect-blobs answers (authorized) blob GETs with a 307 to a second
        server on that address standing in for a CDN, which serves the blob from
        the registry (over TLS with --cdn-cert/--cdn-key) and logs its requests
        to the same --log as "CDN GET PATH auth=yes|no".
"""
import argparse
import base64
import hashlib
import http.client
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SERVICE = "vmctl-test-registry"
TOKEN = "tok-4f1c2e"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONTEXT = None  # an ssl.SSLContext trusting --cafile, for a registry behind TLS


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30, context=CONTEXT) as resp:
        return resp.status, dict(resp.headers), resp.read()


def push_blob(registry, repo, data):
    digest = sha(data)
    _, headers, _ = request("POST", f"{registry}/v2/{repo}/blobs/uploads/", b"")
    location = urllib.parse.urljoin(registry, headers["Location"])
    sep = "&" if "?" in location else "?"
    request("PUT", f"{location}{sep}digest={digest}", data,
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
    return digest


def push_manifest(registry, repo, ref, doc, media_type):
    body = json.dumps(doc).encode()
    request("PUT", f"{registry}/v2/{repo}/manifests/{ref}", body, {"Content-Type": media_type})
    return sha(body), len(body)


def image_manifest(registry, repo, layer, media_type):
    config = b"{}"
    return {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": push_blob(registry, repo, config), "size": len(config)},
        "layers": [{"mediaType": media_type, "digest": push_blob(registry, repo, layer), "size": len(layer)}],
    }


def push(args):
    with open(args.layer, "rb") as f:
        layer = f.read()
    oci_manifest = "application/vnd.oci.image.manifest.v1+json"
    out = {"manifest": None, "index": None, "layer": sha(layer), "platforms": {}}
    if not args.index:
        manifest = image_manifest(args.registry, args.repo, layer, args.media_type)
        out["manifest"], _ = push_manifest(args.registry, args.repo, args.tag, manifest, oci_manifest)
        print(json.dumps(out))
        return
    entries = []
    for platform in args.platforms.split(","):
        data = layer if platform == args.layer_platform else f"disk image for {platform}".encode()
        manifest = image_manifest(args.registry, args.repo, data, args.media_type)
        body = json.dumps(manifest).encode()
        digest, size = push_manifest(args.registry, args.repo, sha(body), manifest, oci_manifest)
        os_name, arch = platform.split("/")[:2]
        entries.append({"mediaType": oci_manifest, "digest": digest, "size": size,
                        "platform": {"os": os_name, "architecture": arch}})
        out["platforms"][platform] = {"manifest": digest, "layer": sha(data)}
        if platform == args.layer_platform:
            out["manifest"] = digest
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    out["index"], _ = push_manifest(args.registry, args.repo, args.tag, index,
                                    "application/vnd.oci.image.index.v1+json")
    print(json.dumps(out))


def wait(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            if request("GET", args.url)[0] == 200:
                return 0
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    return 1


def proxy(args):
    upstream = urllib.parse.urlsplit(args.upstream)
    expected_basic = None
    cut_done = []
    failed_once = set()  # --flaky: the paths that were answered 503 once
    lock = threading.Lock()
    tokens = {}  # token issued -> requests it was good for so far
    cdn = start_cdn(args) if args.redirect_blobs else None
    if args.user is not None:
        expected_basic = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log(self, line):
            with lock, open(args.log, "a") as f:
                f.write(line + "\n")

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            self.log(f"{self.command} {self.path} auth={'yes' if self.headers.get('Authorization') else 'no'} "
                     f"range={self.headers.get('Range') or '-'}")
            if args.flaky and self.fails_first_time():
                return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try again"}]}',
                                  {"Retry-After": "0", "Content-Type": "application/json"})
            if self.path.startswith("/token"):
                return self.token()
            if not self.authorized():
                return
            path = self.path
            if args.mode == "wrong-manifest" and "/manifests/sha256:" in path:
                path = path.split("/manifests/")[0] + "/manifests/" + args.tag
            if cdn and "/blobs/" in path and self.command == "GET":
                location = f"{cdn}/cdn{path}?signature=s1gn3d"
                return self.reply(307, b"", {"Location": location})
            self.forward(path)

        def fails_first_time(self):
            with lock:
                first = self.path not in failed_once
                failed_once.add(self.path)
                return first

        def token_good(self, auth):
            token = auth[len("Bearer "):] if auth and auth.startswith("Bearer ") else None
            with lock:
                if token not in tokens or (args.token_uses and tokens[token] >= args.token_uses):
                    return False
                tokens[token] += 1
                return True

        def authorized(self):
            auth = self.headers.get("Authorization")
            host, port = self.server.server_address[:2]
            if args.mode == "bearer" and not self.token_good(auth):
                m = re.match(r"/v2/(.+)/(manifests|blobs)/", self.path)
                repo = m.group(1) if m else ""
                challenge = (f'Bearer realm="http://{host}:{port}/token",service="{SERVICE}",'
                             f'scope="repository:{repo}:pull"')
                self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": challenge, "Content-Type": "application/json"})
                return False
            if args.mode == "basic" and auth != expected_basic:
                self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           {"WWW-Authenticate": 'Basic realm="vmctl-test"', "Content-Type": "application/json"})
                return False
            return True

        def token(self):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if query.get("service") != [SERVICE] or len(query.get("scope", [])) != 1 \
                    or not query["scope"][0].startswith("repository:") or not query["scope"][0].endswith(":pull"):
                return self.reply(400, b'{"errors":[{"code":"DENIED","message":"bad service or scope"}]}')
            if expected_basic is not None and self.headers.get("Authorization") != expected_basic:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
            with lock:
                token = f"{TOKEN}-{len(tokens) + 1}"
                tokens[token] = 0
            fields = ["token", "access_token"] if args.token_field == "both" else [args.token_field]
            body = {field: token for field in fields}
            body["expires_in"] = 300
            self.reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def forward(self, path):
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
            conn.request(self.command, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            if args.mode == "corrupt" and "/blobs/" in path and body and self.command == "GET":
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            skip = ("content-length", "transfer-encoding", "connection")
            headers = {k: v for k, v in resp.getheaders() if k.lower() not in skip}
            if (args.mode == "cut" or args.cut) and "/blobs/" in path and resp.status == 200 and not cut_done:
                cut_done.append(path)
                return self.reply_cut(headers, body)
            self.reply(resp.status, body, headers)

        def reply_cut(self, headers, body):
            self.send_response(200)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    server = http.server.ThreadingHTTPServer((args.bind, 0), Handler)
    server.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


def start_cdn(args):
    """The CDN of --redirect-blobs, in a thread; returns its base URL."""
    upstream = urllib.parse.urlsplit(args.upstream)

    class Cdn(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def do_GET(self):
            with open(args.log, "a") as f:
                f.write(f"CDN {self.command} {self.path} auth={'yes' if self.headers.get('Authorization') else 'no'}\n")
            path = urllib.parse.urlsplit(self.path).path
            if not path.startswith("/cdn/v2/"):
                return self.send_error(404)
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "if-range")}
            conn.request("GET", path[len("/cdn"):], headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            conn.close()
            self.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client refusing the certificate is what some tests are about

    server = Server((args.redirect_blobs, 0), Cdn)
    scheme = "http"
    if args.cdn_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cdn_cert, args.cdn_key)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"{scheme}://{args.redirect_blobs}:{server.server_address[1]}"


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("wait")
    p.add_argument("--url", required=True)
    p.add_argument("--timeout", type=float, default=15)
    p.add_argument("--cafile")
    p = sub.add_parser("push")
    p.add_argument("--registry", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--layer", required=True)
    p.add_argument("--media-type", required=True)
    p.add_argument("--index", action="store_true")
    p.add_argument("--platforms", default="linux/arm64,linux/amd64")
    p.add_argument("--layer-platform", default="linux/amd64")
    p.add_argument("--cafile")
    p = sub.add_parser("proxy")
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--mode", required=True, choices=["bearer", "basic", "plain", "corrupt", "cut", "wrong-manifest"])
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--tag")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--token-field", default="token", choices=["token", "access_token", "both"])
    p.add_argument("--token-uses", type=int, default=0)
    p.add_argument("--cut", action="store_true")
    p.add_argument("--flaky", action="store_true")
    p.add_argument("--redirect-blobs")
    p.add_argument("--cdn-cert")
    p.add_argument("--cdn-key")
    args = parser.parse_args()
    for address in (getattr(args, "bind", None), getattr(args, "redirect_blobs", None)):
        if address and not address.startswith("127."):
            sys.exit("oci_helper.py listens on loopback addresses only")
    global CONTEXT
    if getattr(args, "cafile", None):
        CONTEXT = ssl.create_default_context(cafile=args.cafile)
    if args.command == "wait":
        return wait(args)
    if args.command == "push":
        push(args)
        return 0
    proxy(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
