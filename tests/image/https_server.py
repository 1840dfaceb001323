#!/usr/bin/env python3
"""A static HTTPS file server for the TLS tests (127.0.0.x only).

  https_server.py --root DIR --cert PEM --key PEM --bind 127.0.0.x --port-file F --log F

Serves the files of --root over TLS with the given certificate; anything else
is a 404. Each request is appended to --log as "METHOD PATH". The port
(chosen by the system) is written to --port-file once the server listens.
A client that refuses the certificate ends its handshake; the server goes on.
"""
import argparse
import http.server
import os
import ssl
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    if not args.bind.startswith("127."):
        sys.exit("https_server.py serves loopback addresses only")

    class Handler(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def __init__(self, *a, **kw):
            super().__init__(*a, directory=args.root, **kw)

        def log_message(self, fmt, *a):
            pass

        def send_head(self):
            with open(args.log, "a") as log:
                log.write(f"{self.command} {self.path}\n")
            return super().send_head()

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a refused handshake is what some tests are about

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server = Server((args.bind, 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
