#!/usr/bin/env python3
"""Self-tests for the Propolis test fakes: fake_propolis_server.py, the fake
illumos tools in fake-tools/ and the nebula-vm brand hooks (run against the
fake zonecfg).  Standard library unittest; only loopback traffic; every
process started here is stopped here."""

import base64
import hashlib
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "fake_propolis_server.py")
TOOLS = os.path.join(HERE, "fake-tools")
BRAND = os.path.normpath(os.path.join(HERE, "..", "..", "brand", "nebula-vm"))
VERSION = "5.0.0"
UUID1 = "0f4c5e43-6d1f-4f5e-9a43-2d7a3c1b9e01"
UUID2 = "1f4c5e43-6d1f-4f5e-9a43-2d7a3c1b9e02"


def ensure_body(disk_path, instance_id=UUID1, name="vm-one"):
    """A complete InstanceEnsureRequest: board, com1, a boot disk (virtio +
    file backend), a NIC (virtio + viona backend), a cloud-init seed (virtio
    + blob backend) and boot settings."""
    seed = base64.b64encode(b"#cloud-config\nhostname: vm-one\n").decode()
    return {
        "properties": {
            "id": instance_id,
            "name": name,
            "description": "vmctl VM vm-one",
            "metadata": {
                "project_id": UUID2, "silo_id": UUID2, "sled_id": UUID2,
                "sled_model": "vmctl", "sled_revision": 0, "sled_serial": "localhost",
            },
        },
        "init": {
            "method": "Spec",
            "value": {
                "spec": {
                    "board": {
                        "cpus": 2,
                        "memory_mb": 1024,
                        "chipset": {"type": "i440_fx", "value": {"enable_pcie": False}},
                    },
                    "components": {
                        "com1": {"type": "serial_port", "component": {"num": "com1"}},
                        "boot-disk": {"type": "virtio_disk", "component": {
                            "backend_id": "boot-disk-backend",
                            "pci_path": {"bus": 0, "device": 4, "function": 0}}},
                        "boot-disk-backend": {"type": "file_storage_backend", "component": {
                            "path": disk_path, "readonly": False, "block_size": 512}},
                        "net0": {"type": "virtio_nic", "component": {
                            "backend_id": "net0-backend", "interface_id": UUID2,
                            "pci_path": {"bus": 0, "device": 8, "function": 0}}},
                        "net0-backend": {"type": "virtio_network_backend", "component": {
                            "vnic_name": "vmctl0"}},
                        "cloud-init": {"type": "virtio_disk", "component": {
                            "backend_id": "cloud-init-backend",
                            "pci_path": {"bus": 0, "device": 24, "function": 0}}},
                        "cloud-init-backend": {"type": "blob_storage_backend", "component": {
                            "base64": seed, "readonly": True}},
                        "boot-settings": {"type": "boot_settings", "component": {
                            "order": [{"id": "boot-disk"}]}},
                    },
                },
            },
        },
    }


class Client:
    def __init__(self, port, host="127.0.0.1"):
        self.port = port
        self.host = host

    def request(self, method, path, body=None, version=VERSION, headers=None, raw=None, timeout=10):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if version is not None:
            h["api-version"] = version
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            resp = conn.getresponse()
            text = resp.read()
            obj = json.loads(text) if text else None
            return resp.status, obj, resp
        finally:
            conn.close()


class WsClient:
    """A small RFC 6455 client (masked frames)."""

    def __init__(self, port, path, version=VERSION):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"api-version: {version}\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        self.accept_ok = self.headers.get("sec-websocket-accept", "").encode() == want

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_frame(self):
        b1, b2 = self._read(2)
        n = b2 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read(8), "big")
        assert not b2 & 0x80, "server frames must not be masked"
        return b1 & 0x0F, self._read(n)

    def send(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def read_until(self, needle, timeout=5):
        got = b""
        deadline = time.monotonic() + timeout
        while needle not in got:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not received; got {got!r}")
            op, payload = self.recv_frame()
            if op == 2:
                got += payload
            elif op == 8:
                raise AssertionError(f"closed before {needle!r}; got {got!r}")
        return got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ServerCase(unittest.TestCase):
    extra_args = []

    def history(self):
        """Every (gen, state) the VM published, from the fake's own record."""
        return self.c.request("GET", "/__fake/state", version=None)[1]["vm"]["published"]

    def start_server(self, *args):
        d = tempfile.mkdtemp(prefix="fake-propolis-test-")
        self.addCleanup(shutil.rmtree, d, True)
        port_file = os.path.join(d, "port")
        state = os.path.join(d, "state")
        proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--port-file", port_file,
                                 "--state-dir", state, *args], stderr=subprocess.PIPE)
        self.addCleanup(self.stop_process, proc)
        deadline = time.monotonic() + 15
        while not os.path.exists(port_file):
            if proc.poll() is not None:
                self.fail("fake server exited: " + proc.stderr.read().decode())
            if time.monotonic() > deadline:
                self.fail("fake server did not write its port file")
            time.sleep(0.02)
        with open(port_file) as f:
            port = int(f.read())
        disk = os.path.join(d, "disk.raw")
        with open(disk, "wb") as f:
            f.truncate(1 << 20)
        return proc, Client(port), state, disk

    @staticmethod
    def stop_process(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()

    def setUp(self):
        self.proc, self.c, self.state_dir, self.disk = self.start_server(*self.extra_args)

    def requests_log(self):
        with open(os.path.join(self.state_dir, "requests.jsonl")) as f:
            return [json.loads(l) for l in f]

    def ensure(self, body=None):
        return self.c.request("PUT", "/instance", body or ensure_body(self.disk))

    def monitor(self, gen, timeout=10):
        return self.c.request("GET", "/instance/state-monitor", {"gen": gen}, timeout=timeout)

    def wait_state(self, state, timeout=5):
        deadline = time.monotonic() + timeout
        gen = 0
        while time.monotonic() < deadline:
            status, obj, _ = self.monitor(gen + 1, timeout=timeout)
            if status != 200:
                self.fail(f"state monitor answered {status} {obj}")
            if obj["state"] == state:
                return obj
            gen = obj["gen"]
        self.fail(f"state {state} not reached")

    def states_until(self, final, start_gen=1, timeout=5):
        seen = []
        gen = start_gen
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, obj, _ = self.monitor(gen)
            self.assertEqual(status, 200, obj)
            if obj["gen"] >= gen:
                seen.append((obj["gen"], obj["state"]))
                if obj["state"] == final:
                    return seen
                gen = obj["gen"] + 1
        self.fail(f"{final} not reached: {seen}")

    def assert_error(self, result, status, message=None, error_code=None):
        st, obj, resp = result
        self.assertEqual(st, status, obj)
        self.assertIn("request_id", obj)
        self.assertEqual(resp.getheader("x-request-id"), obj["request_id"])
        if message is not None:
            self.assertIn(message, obj["message"])
        if error_code is not None:
            self.assertEqual(obj.get("error_code"), error_code)
        return obj


class VersionAndValidationTest(ServerCase):
    def test_version_header(self):
        self.assert_error(self.c.request("GET", "/instance", version=None), 400,
                          'missing expected header "api-version"')
        self.assert_error(self.c.request("GET", "/instance", version="five"), 400,
                          'bad value for header "api-version"')
        self.assert_error(self.c.request("GET", "/instance", version="6.0.0"), 400,
                          "server does not support this API version: 6.0.0")
        self.assert_error(self.c.request("GET", "/instance"), 424,
                          "Server not initialized (no instance)", "NoInstance")
        self.assert_error(self.c.request("GET", "/nope"), 404, "Not Found")
        self.assert_error(self.c.request("DELETE", "/instance"), 405, "Method Not Allowed")

    def test_full_valid_ensure_is_recorded_and_served(self):
        body = ensure_body(self.disk)
        status, obj, _ = self.ensure(body)
        self.assertEqual((status, obj), (201, {"migrate": None}))
        status, obj, _ = self.c.request("GET", "/instance")
        self.assertEqual(status, 200)
        self.assertEqual(obj["instance"]["properties"], body["properties"])
        self.assertEqual(obj["instance"]["state"], "Creating")
        status, obj, _ = self.c.request("GET", "/instance/spec")
        self.assertEqual(obj["spec"], {"type": "Present", "value": body["init"]["value"]["spec"]})
        log = [r for r in self.requests_log() if r["method"] == "PUT"]
        self.assertEqual(log[0]["path"], "/instance")
        self.assertEqual(log[0]["body"], body)
        self.assertEqual(log[0]["headers"]["api-version"], VERSION)
        self.assertEqual(log[0]["headers"]["content-type"], "application/json")

    def test_unknown_fields_and_bad_values_rejected(self):
        cases = []
        b = ensure_body(self.disk)
        b["init"]["value"]["spec"]["board"]["turbo"] = True
        cases.append((b, "init.value.spec.board: unknown field `turbo`"))
        b = ensure_body(self.disk)
        b["init"]["value"]["spec"]["components"]["com1"]["component"]["baud"] = 9600
        cases.append((b, "unknown field `baud`"))
        b = ensure_body(self.disk)
        b["init"]["value"]["spec"]["components"]["com1"]["type"] = "serial"
        cases.append((b, "unknown variant `serial`"))
        b = ensure_body(self.disk)
        b["init"]["value"]["spec"]["board"]["cpus"] = 256
        cases.append((b, "invalid value: integer `256`, expected u8"))
        b = ensure_body(self.disk)
        del b["init"]["value"]["spec"]["board"]["memory_mb"]
        cases.append((b, "missing field `memory_mb`"))
        b = ensure_body(self.disk)
        b["properties"]["id"] = "not-a-uuid"
        cases.append((b, "properties.id"))
        b = ensure_body(self.disk)
        b["init"]["method"] = "Magic"
        cases.append((b, "unknown variant `Magic`"))
        for body, message in cases:
            obj = self.assert_error(self.ensure(body), 400, "unable to parse JSON body: ")
            self.assertIn(message, obj["message"])
        self.assert_error(self.c.request("PUT", "/instance", raw=b"{not json"), 400,
                          "unable to parse JSON body")
        # Nothing was created.
        self.assert_error(self.c.request("GET", "/instance"), 424)

    def test_spec_semantics(self):
        def variant(edit):
            b = ensure_body(self.disk)
            edit(b["init"]["value"]["spec"]["components"])
            return b

        def twice(c):  # the seed disk also uses the boot disk's backend
            c["cloud-init"]["component"]["backend_id"] = "boot-disk-backend"

        obj = self.assert_error(self.ensure(variant(twice)), 400,
                                "failed to generate internal instance spec: ")
        self.assertRegex(obj["message"], r"storage backend boot-disk-backend not found for device "
                                         r"(cloud-init|boot-disk)")
        self.assert_error(self.ensure(variant(lambda c: c.pop("net0"))), 400,
                          "backend net0-backend not used by any device")
        self.assert_error(self.ensure(variant(lambda c: c.pop("net0-backend"))), 400,
                          "network backend net0-backend not found for device net0")

        def same_slot(c):
            c["net0"]["component"]["pci_path"]["device"] = 4
        self.assert_error(self.ensure(variant(same_slot)), 400,
                          "a PCI device is already attached at PciPath { bus: 0, device: 4, function: 0 }")

        def boot_missing(c):
            c["boot-settings"]["component"]["order"] = [{"id": "cdrom"}]
        self.assert_error(self.ensure(variant(boot_missing)), 400,
                          "boot option cdrom is not an attached device")

        def two_com1(c):
            c["com1-again"] = {"type": "serial_port", "component": {"num": "com1"}}
        self.assert_error(self.ensure(variant(two_com1)), 400, "serial port Com1 is already specified")
        self.assert_error(self.c.request("GET", "/instance"), 424)

    def test_missing_com1_fails_initialization(self):
        b = ensure_body(self.disk)
        del b["init"]["value"]["spec"]["components"]["com1"]
        self.assert_error(self.ensure(b), 500, "Internal Server Error", "Internal")
        status, obj, _ = self.c.request("GET", "/instance")
        self.assertEqual(obj["instance"]["state"], "Failed")
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 424, error_code="NoInstance")
        # A failed VM can be replaced.
        self.assertEqual(self.ensure()[0], 201)

    def test_missing_disk_file_fails_initialization(self):
        self.assert_error(self.ensure(ensure_body("/nonexistent/disk.raw")), 500, error_code="Internal")

    def test_body_limit(self):
        b = ensure_body(self.disk)
        b["init"]["value"]["spec"]["components"]["cloud-init-backend"]["component"]["base64"] = \
            "A" * (1024 * 1024)
        self.assert_error(self.ensure(b), 400, "request body exceeded maximum size of 1048576 bytes")
        # Just under the limit is fine.
        b2 = ensure_body(self.disk)
        size = len(json.dumps(b2).encode())
        b2["init"]["value"]["spec"]["components"]["cloud-init-backend"]["component"]["base64"] = \
            "A" * ((1024 * 1024 - size - 100) // 4 * 4)
        self.assertEqual(self.ensure(b2)[0], 201)
        log = self.requests_log()
        self.assertGreater(log[0]["body_size"], 1024 * 1024)
        self.assertIsNone(log[0]["body"])

    def test_content_type_and_empty_body(self):
        self.assert_error(self.c.request("PUT", "/instance/state", raw=b'"Run"',
                                         headers={"Content-Type": "text/plain"}), 400,
                          'expected content type "application/json"')
        self.assert_error(self.c.request("GET", "/instance/state-monitor"), 400, "EOF while parsing")


class LifecycleTest(ServerCase):
    extra_args = ["--start-delay", "0.3", "--stop-delay", "0.3", "--reboot-delay", "0.2"]

    def test_states_and_generations(self):
        self.assertEqual(self.ensure()[0], 201)
        status, obj, _ = self.monitor(0)
        self.assertEqual(obj, {"gen": 1, "state": "Creating",
                               "migration": {"migration_in": None, "migration_out": None}})
        t0 = time.monotonic()
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        status, obj, _ = self.monitor(3)
        self.assertGreaterEqual(time.monotonic() - t0, 0.2, "the long poll should have waited")
        self.assertEqual((obj["gen"], obj["state"]), (3, "Running"))
        # propolis master (state_driver.rs start_vm): Starting on an explicit
        # Run, Running once the VM has started.
        self.assertEqual(self.history(), [[1, "Creating"], [2, "Starting"], [3, "Running"]])
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)  # ignored
        self.assertEqual(self.c.request("PUT", "/instance/state", "Reboot")[0], 204)
        self.assertEqual(self.states_until("Running", 4), [(4, "Rebooting"), (5, "Running")])
        self.assertEqual(self.c.request("PUT", "/instance/state", "Stop")[0], 204)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Stop")[0], 204)  # idempotent
        self.assertEqual(self.states_until("Destroyed", 6),
                         [(6, "Stopping"), (7, "Stopped"), (8, "Destroyed")])
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 424,
                          "Server not initialized (no instance)", "NoInstance")
        self.assert_error(self.monitor(9), 410, "will never reach generation 9", "NoInstance")
        self.assertEqual(self.monitor(8)[1]["state"], "Destroyed")
        self.assertEqual(self.c.request("GET", "/instance")[1]["instance"]["state"], "Destroyed")
        self.assert_error(self.c.request("GET", "/instance/serial/history?most_recent=10"), 424)
        # A new VM can be created once the old one is gone: generations restart.
        self.assertEqual(self.ensure(ensure_body(self.disk, UUID2, "vm-two"))[0], 201)
        self.assertEqual(self.monitor(0)[1]["gen"], 1)

    def test_forbidden_transitions_and_conflicts(self):
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 424, error_code="NoInstance")
        self.assertEqual(self.ensure()[0], 201)
        self.assert_error(self.ensure(), 409, "instance already initialized", "AlreadyInitialized")
        self.assert_error(self.ensure(ensure_body(self.disk, UUID2)), 409, error_code="AlreadyInitialized")
        self.assert_error(self.c.request("PUT", "/instance/state", "Reboot"), 403, "Forbidden",
                          "instance state change not allowed: Operation requires an active instance")
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.assert_error(self.c.request("PUT", "/instance/state", "Reboot"), 403,
                          error_code="instance state change not allowed: Instance is currently starting")
        self.wait_state("Running")
        self.assertEqual(self.c.request("PUT", "/instance/state", "Stop")[0], 204)
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 403,
                          error_code="instance state change not allowed: Instance is preparing to stop")
        self.assert_error(self.c.request("PUT", "/instance/state", "Reboot"), 403,
                          error_code="instance state change not allowed: Instance is preparing to stop")
        self.assert_error(self.c.request("PUT", "/instance/state", "Pause"), 400, "unknown variant `Pause`")
        self.assert_error(self.ensure(), 409)  # running down
        self.wait_state("Destroyed")

    def test_stop_before_run(self):
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Stop")[0], 204)
        self.assertEqual(self.states_until("Destroyed", 2),
                         [(2, "Stopping"), (3, "Stopped"), (4, "Destroyed")])

    def test_long_poll_wakes_on_change(self):
        self.assertEqual(self.ensure()[0], 201)
        result = {}

        def poll():
            result["r"] = self.monitor(3)  # 2 is Starting, published at once
            result["t"] = time.monotonic()

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.4)
        self.assertNotIn("r", result, "monitor answered before the state changed")
        t_run = time.monotonic()
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        t.join(5)
        self.assertEqual(result["r"][1]["state"], "Running")
        self.assertGreaterEqual(result["t"] - t_run, 0.25)

    def test_other_endpoints(self):
        self.assert_error(self.c.request("GET", "/instance/migration-status"), 424)
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("GET", "/instance/migration-status")[1],
                         {"migration_in": None, "migration_out": None})
        self.assertEqual(self.c.request("POST", "/instance/nmi")[:2], (200, None))
        self.assert_error(self.c.request("GET", "/instance/disk/boot-disk/status"), 404, "Not Found",
                          "No crucible backend for id boot-disk")


class NoPublishStartingTest(ServerCase):
    """--no-publish-starting: older servers went from Creating to Running."""
    extra_args = ["--no-publish-starting", "--start-delay", "0.1"]

    def test_starting_is_not_published(self):
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Running")
        self.assertEqual(self.history(), [[1, "Creating"], [2, "Running"]])


class CompatPublishStartingTest(ServerCase):
    """--publish-starting, once needed for Starting, is still accepted."""
    extra_args = ["--publish-starting", "--start-delay", "0.1"]

    def test_starting_is_published(self):
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Running")
        self.assertEqual(self.history(), [[1, "Creating"], [2, "Starting"], [3, "Running"]])


class WebSocketAcceptTest(unittest.TestCase):
    def test_rfc6455_sample_handshake(self):
        # The worked example of RFC 6455 section 1.3, so a wrong GUID cannot
        # hide behind a client that shares it.
        sys.path.insert(0, HERE)
        try:
            import fake_propolis_server
        finally:
            sys.path.remove(HERE)
        self.assertEqual(fake_propolis_server.websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
                         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")


class SerialTest(ServerCase):
    extra_args = ["--start-delay", "0.05"]

    def running(self):
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Running")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            st, obj, _ = self.c.request("GET", "/instance/serial/history?most_recent=100")
            if bytes(obj["data"]).endswith(b"login: "):
                return obj
            time.sleep(0.05)
        self.fail("no login prompt")

    def test_websocket_and_history(self):
        self.assert_error(self.c.request("GET", "/instance/serial/history?most_recent=5"), 424)
        hist = self.running()
        full = self.c.request("GET", "/instance/serial/history?from_start=0")[1]
        data = bytes(full["data"])
        self.assertIn(b"vm-one login: ", data)
        self.assertEqual(full["last_byte_offset"], len(data))
        part = self.c.request("GET", "/instance/serial/history?from_start=5&max_bytes=10")[1]
        self.assertEqual((bytes(part["data"]), part["last_byte_offset"]), (data[5:15], 15))
        self.assertEqual(self.c.request("GET", "/instance/serial/history?from_start=100000")[1],
                         {"data": [], "last_byte_offset": len(data)})
        self.assert_error(self.c.request("GET", "/instance/serial/history"), 400,
                          "Exactly one of 'from_start' or 'most_recent' must be specified.")
        self.assert_error(self.c.request("GET", "/instance/serial/history?from_start=0&most_recent=1"), 400)
        self.assertTrue(hist)

        ws = WsClient(self.c.port, "/instance/serial?most_recent=7")
        self.addCleanup(ws.close)
        self.assertEqual(ws.status, 101)
        self.assertTrue(ws.accept_ok)
        op, payload = ws.recv_frame()
        self.assertEqual((op, payload), (2, data[-7:]))
        ws.send(2, b"hel")
        ws.send(2, b"lo\r")
        got = ws.read_until(b"vm-one login: ")
        self.assertIn(b"hello\r\nfake-guest: got 'hello'\r\n", got)
        ws.send(1, b"text frames are ignored\r")
        ws.send(9, b"are you there")
        op, payload = ws.recv_frame()
        self.assertEqual((op, payload), (10, b"are you there"))
        inp = self.c.request("GET", "/__fake/serial/input", version=None)[1]
        self.assertEqual(inp["text"], "hello\r")
        # A second client sees live output too.
        ws2 = WsClient(self.c.port, "/instance/serial")
        self.addCleanup(ws2.close)
        self.c.request("POST", "/__fake/serial/output", {"text": "kernel: hi\r\n"}, version=None)
        self.assertIn(b"kernel: hi", ws2.read_until(b"kernel: hi"))
        self.assertIn(b"kernel: hi", ws.read_until(b"kernel: hi"))
        ws.send(8, (1000).to_bytes(2, "big"))
        op, payload = ws.recv_frame()
        self.assertEqual((op, payload[:2]), (8, (1000).to_bytes(2, "big")))
        # The websocket endpoint also needs the version header.
        bad = WsClient(self.c.port, "/instance/serial", version="9.9.9")
        self.addCleanup(bad.close)
        self.assertEqual(bad.status, 400)

    def test_websocket_closed_when_vm_stops(self):
        self.running()
        ws = WsClient(self.c.port, "/instance/serial?from_start=0")
        self.addCleanup(ws.close)
        ws.read_until(b"login: ")
        self.assertEqual(self.c.request("PUT", "/instance/state", "Stop")[0], 204)
        while True:
            op, payload = ws.recv_frame()
            if op == 8:
                break
        self.assertEqual(int.from_bytes(payload[:2], "big"), 1001)
        self.assertEqual(payload[2:], b"VM stopped")

    def test_guest_poweroff_from_console(self):
        self.running()
        ws = WsClient(self.c.port, "/instance/serial")
        self.addCleanup(ws.close)
        ws.send(2, b"poweroff\n")
        self.wait_state("Destroyed")

    def test_serial_needs_a_vm(self):
        ws = WsClient(self.c.port, "/instance/serial")
        self.addCleanup(ws.close)
        self.assertEqual(ws.status, 424)

    def test_expired_history(self):
        self.stop_process(self.proc)
        self.proc, self.c, self.state_dir, self.disk = self.start_server("--serial-buffer-size", "100")
        self.running()
        self.c.request("POST", "/__fake/serial/output", {"text": "x" * 500}, version=None)
        self.assert_error(self.c.request("GET", "/instance/serial/history?from_start=100"), 400,
                          "is no longer cached")
        obj = self.c.request("GET", "/instance/serial/history?most_recent=10")[1]
        self.assertEqual(bytes(obj["data"]), b"x" * 10)


class FaultInjectionTest(ServerCase):
    def ctl(self, path, body=None):
        st, obj, _ = self.c.request("POST", path, body or {}, version=None)
        self.assertEqual(st, 200, obj)
        return obj

    def test_fail_hang_drop(self):
        self.ctl("/__fake/fail", {"method": "GET", "path": "/instance", "status": 503,
                                  "error_code": "ServiceNotAvailable", "message": "try later"})
        self.assert_error(self.c.request("GET", "/instance"), 503, "try later", "ServiceNotAvailable")
        self.assert_error(self.c.request("GET", "/instance"), 424)  # only once
        self.ctl("/__fake/hang", {"method": "GET", "path": "/instance", "seconds": 0.5})
        t0 = time.monotonic()
        self.assert_error(self.c.request("GET", "/instance"), 424)
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)
        self.ctl("/__fake/hang", {"method": "GET", "path": "/instance", "seconds": None})
        with self.assertRaises(socket.timeout):
            self.c.request("GET", "/instance", timeout=0.5)
        self.ctl("/__fake/drop", {"method": "PUT", "path": "/instance"})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.ensure()
        self.assertEqual(self.ensure()[0], 201)

    def test_instance_faults(self):
        self.ctl("/__fake/fail-init", {"message": "no memory"})
        self.assert_error(self.ensure(), 500, error_code="Internal")
        self.assertEqual(self.c.request("GET", "/instance")[1]["instance"]["state"], "Failed")
        self.assertEqual(self.ensure()[0], 201)
        self.ctl("/__fake/fail-start")
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Failed")
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 424)
        self.ctl("/__fake/reset")
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Running")
        self.ctl("/__fake/fail-instance")
        self.wait_state("Failed")
        self.assertEqual(self.c.request("GET", "/__fake/state", version=None)[1]["vm"]["state"], "Failed")

    def test_guest_events(self):
        self.assertEqual(self.ensure()[0], 201)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.wait_state("Running")
        self.ctl("/__fake/guest", {"action": "reboot"})
        self.wait_state("Rebooting")
        self.wait_state("Running")
        self.ctl("/__fake/guest", {"action": "halt"})
        self.wait_state("Destroyed")

    def test_cli_faults_and_delays(self):
        self.stop_process(self.proc)
        self.proc, self.c, self.state_dir, self.disk = self.start_server(
            "--fail", "PUT:/instance/state:500:2", "--create-delay", "0.3")
        t0 = time.monotonic()
        result = {}
        th = threading.Thread(target=lambda: result.setdefault("r", self.ensure()))
        th.start()
        time.sleep(0.1)
        # While the VM is being created: Creating, 409 for another ensure, 424 for state changes.
        self.assertEqual(self.c.request("GET", "/instance")[1]["instance"]["state"], "Creating")
        self.assert_error(self.ensure(), 409)
        th.join(5)
        self.assertEqual(result["r"][0], 201)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 500, "Internal Server Error")
        self.assert_error(self.c.request("PUT", "/instance/state", "Run"), 500)
        self.assertEqual(self.c.request("PUT", "/instance/state", "Run")[0], 204)
        self.ctl("/__fake/delays", {"stop": 0.0})

    def test_sigterm_with_pending_long_poll(self):
        self.assertEqual(self.ensure()[0], 201)
        th = threading.Thread(target=lambda: self._ignore(lambda: self.monitor(99, timeout=10)))
        th.start()
        time.sleep(0.2)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(10), 0)
        th.join(10)

    @staticmethod
    def _ignore(fn):
        try:
            fn()
        except (OSError, http.client.HTTPException):
            pass


class OlderServerTest(ServerCase):
    """--api-version 4.0.0: a propolis-server older than the 5.0.0 vmctl
    speaks answers as dropshot's ClientSpecifiesVersionInHeader does."""
    extra_args = ["--api-version", "4.0.0"]

    def test_newer_client_version_refused(self):
        self.assert_error(self.c.request("GET", "/instance"), 400,
                          "server does not support this API version: 5.0.0")
        self.assert_error(self.ensure(), 400, "server does not support this API version: 5.0.0")
        self.assert_error(self.c.request("GET", "/instance", version=None), 400,
                          'missing expected header "api-version"')


class VcpuLimitTest(ServerCase):
    """VM_MAXCPU (32): build_instance fails "failed to set max cpus", ensure
    answers 500 and the instance is Failed."""

    def with_cpus(self, n, instance_id=UUID1):
        body = ensure_body(self.disk, instance_id)
        body["init"]["value"]["spec"]["board"]["cpus"] = n
        return body

    def test_more_than_32_vcpus_fail_the_instance(self):
        self.assert_error(self.ensure(self.with_cpus(33)), 500, "Internal Server Error", "Internal")
        obj = self.c.request("GET", "/instance")[1]
        self.assertEqual(obj["instance"]["state"], "Failed")
        self.assertEqual(self.ensure(self.with_cpus(32, UUID2))[0], 201)


def write(path, text="", mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class RunModeCase(unittest.TestCase):
    """The fake as propolis-server: its real argv, knobs from
    FAKE_PROPOLIS_OPTIONS, a simulated zone under --sim-root (no chroot)."""

    ZONE = "vmctl-web"
    BOOTROM = "/opt/oxide/propolis-server/firmware/OVMF_CODE.fd"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fake-propolis-run-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.root = os.path.join(self.dir, "root")
        for dev in ("dtrace/helper", "vmmctl", "viona", "dld", "null"):
            write(self.sim("/dev/" + dev), mode=0o666)
        write(self.sim(self.BOOTROM), "\0" * 8192)
        write(self.sim("/var/tmp/disk.raw"), "\0" * 4096)
        self.port_file = os.path.join(self.dir, "port")
        self.knobs = ["--sim-root", self.root, "--listen-delay", "0", "--port-file", self.port_file,
                      "--start-delay", "0.05", "--stop-delay", "0.05"]

    def sim(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def make_zone(self, addresses=(("127.0.0.1", True),), links=("vmctl_web_0",), vnics=("vmctl_web_0",)):
        write(self.sim("/.zone-sim/zone.json"), json.dumps({
            "zonename": self.ZONE, "zoneid": 3, "brand": "nebula-vm", "ip_type": "exclusive",
            "privileges": ["proc_exec", "sys_ip_config"], "links": list(links)}))
        self.set_addresses(addresses, vnics)

    def set_addresses(self, addresses, vnics=("vmctl_web_0",)):
        state = {"zones": {self.ZONE: {"addresses": [
            {"link": "vmctl_web_api0", "family": "inet6" if ":" in a else "inet", "address": a,
             "prefix": 8, "up": up} for a, up in addresses]}},
            "vnics": {v: {"over": "net0", "mac": "2:8:20:aa:bb:cc"} for v in vnics}}
        write(self.sim("/.zone-sim/tools-state/state.json"), json.dumps(state))

    def records(self, name):
        path = self.sim(f"/.zone-sim/tools-state/propolis-server/{self.ZONE}/{name}")
        with open(path) as f:
            return [json.loads(line) for line in f]

    def start(self, *argv, knobs=(), env=None, path=None):
        e = dict(os.environ, FAKE_PROPOLIS_OPTIONS=shlex.join([*self.knobs, *knobs]))
        e.update(env or {})
        if path is None:
            e.pop("PATH", None)
        else:
            e["PATH"] = path
        # As bin/propolis-server (install-fake-propolis.sh) runs it.
        proc = subprocess.Popen([sys.executable, SERVER, "--as-propolis-server", *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=e, cwd=self.dir)
        self.addCleanup(self.kill, proc)
        return proc

    @staticmethod
    def kill(proc):
        if proc.poll() is None:
            proc.kill()
        try:
            proc.communicate(timeout=30)
        except ValueError:  # already collected
            pass

    def dladm(self, path, status=0, mac="2:8:20:aa:bb:cc"):
        """A dladm that logs its argv and knows every VNIC but vmctl_bad*."""
        log = os.path.join(self.dir, "dladm.log")
        write(self.sim(path), f"""#!/bin/sh
echo "$*" >> {shlex.quote(log)}
case "$1 $5" in "show-vnic vmctl_bad"*) exit 1;; "show-vnic "*) echo {mac};; esac
exit {status}
""", 0o755)
        return log

    def finish(self, proc):
        """Waits for a server that must exit; (status, stdout, stderr)."""
        out, err = proc.communicate(timeout=30)
        return proc.returncode, out.decode(), err.decode()

    def listening(self, proc):
        """Waits for the port file; a Client for it."""
        deadline = time.monotonic() + 30
        while not os.path.exists(self.port_file):
            if proc.poll() is not None:
                self.fail("the server exited: " + proc.communicate()[1].decode())
            if time.monotonic() > deadline:
                self.fail("the server did not listen")
            time.sleep(0.02)
        with open(self.port_file) as f:
            return Client(int(f.read()))

    def run_ok(self, *extra, **kw):
        return self.start("run", self.BOOTROM, "127.0.0.1:0", *extra, **kw)


class RunArgvTest(RunModeCase):
    """propolis-server's argv, as main.rs's clap derive reads it.  A command
    line that parses gets as far as the device checks (no /dev/vmmctl here)."""

    def setUp(self):
        super().setUp()
        os.remove(self.sim("/dev/vmmctl"))

    def outcome(self, *argv):
        status, out, err = self.finish(self.start(*argv))
        return status, out + err

    def assert_parses(self, *argv):
        status, text = self.outcome(*argv)
        self.assertEqual(status, 1, text)
        self.assertIn("checking version of vmm", text)

    def assert_usage_error(self, want, *argv):
        status, text = self.outcome(*argv)
        self.assertEqual(status, 2, text)
        self.assertIn(want, text)
        self.assertIn("For more information, try '--help'.", text)

    def test_accepted_forms(self):
        B = self.BOOTROM
        self.assert_parses("run", B, "127.0.0.1:12400")
        self.assert_parses("run", B, "127.0.0.1:12400", "127.0.0.1:5900")
        self.assert_parses("run", B, "[::1]:12400")
        self.assert_parses("run", B, "[fd00::5]:12400", "--metric-addr", "dns")
        self.assert_parses("run", "--log-level=debug", B, "127.0.0.1:12400", "--bootrom-version", "v1")
        self.assert_parses("run", B, "127.0.0.1:12400", "--metric-addr=127.0.0.1:9000", "--log-level", "WARN")
        self.assert_parses("run", "--", B, "127.0.0.1:12400")
        for level in ("i", "inf", "INFO", "warn", "debg", "CRIT", "erro", "trace", "t"):
            self.assert_parses("run", B, "127.0.0.1:12400", "--log-level", level)

    def test_refused_forms(self):
        B = self.BOOTROM
        status, text = self.outcome()
        self.assertEqual(status, 2, text)
        self.assertIn(f"Usage: propolis-server <COMMAND>", text)
        self.assert_usage_error("unrecognized subcommand 'serve'", "serve", B, "127.0.0.1:1")
        self.assert_usage_error("the following required arguments were not provided:\n  <BOOTROM_PATH>\n"
                                "  <PROPOLIS_IP:PORT>", "run")
        self.assert_usage_error("the following required arguments were not provided:\n  <PROPOLIS_IP:PORT>",
                                "run", B)
        self.assert_usage_error("unexpected argument '--port' found", "run", B, "127.0.0.1:1", "--port", "1")
        self.assert_usage_error("unexpected argument '--sim-root' found", "run", B, "127.0.0.1:1",
                                "--sim-root=/tmp")
        self.assert_usage_error("unexpected argument '-v' found", "run", B, "127.0.0.1:1", "-v")
        self.assert_usage_error("unexpected argument 'extra' found", "run", B, "127.0.0.1:1", "127.0.0.1:2",
                                "extra")
        for addr in ("::1:12400", "fd00::5:12400", "localhost:12400", "127.0.0.1", "127.0.0.01:1",
                     "127.0.0.256:1", "127.0.0.1:65536", "[::1]", "[zz::1]:1"):
            self.assert_usage_error(f"invalid value '{addr}' for '<PROPOLIS_IP:PORT>': invalid socket "
                                    "address syntax", "run", B, addr)
        for level in ("off", "infor", " info", "info ", "verbose", ""):
            self.assert_usage_error(f"invalid value '{level}' for '--log-level <LOG_LEVEL>': Invalid log level",
                                    "run", B, "127.0.0.1:1", f"--log-level={level}")
        self.assert_usage_error("a value is required for '--log-level <LOG_LEVEL>' but none was supplied",
                                "run", B, "127.0.0.1:1", "--log-level")
        self.assert_usage_error("the argument '--log-level <LOG_LEVEL>' cannot be used multiple times",
                                "run", B, "127.0.0.1:1", "--log-level", "info", "--log-level", "debug")
        self.assert_usage_error("invalid value 'nexus' for '--metric-addr <METRIC_ADDR>': Metric registration "
                                "must be 'disable', 'dns', or an explicit socket address", "run", B,
                                "127.0.0.1:1", "--metric-addr", "nexus")

    def test_help(self):
        status, out, _ = self.finish(self.start("run", "--help"))
        self.assertEqual(status, 0)
        self.assertIn("Usage: propolis-server run [OPTIONS] <BOOTROM_PATH> <PROPOLIS_IP:PORT> [VNC_IP:PORT]", out)

    def test_metric_dns_needs_a_non_localhost_ipv6_address(self):
        # main.rs build_metric_configuration, after argv and before the devices.
        for addr in ("127.0.0.1:12400", "[::1]:12400"):
            status, text = self.outcome("run", self.BOOTROM, addr, "--metric-addr", "dns")
            self.assertEqual(status, 1, text)
            self.assertIn("Error: Metric registration can only use DNS if the Propolis server is provided a "
                          "non-localhost IPv6 address", text)


class RunStartupTest(RunModeCase):
    """Start-up in main.rs's order: USDT probes, argv, devices, then listen."""

    def setUp(self):
        super().setUp()
        self.dladm("/usr/bin/dladm")  # on every illumos default PATH

    def test_missing_dtrace_helper_panics(self):
        os.remove(self.sim("/dev/dtrace/helper"))
        for argv in ((), ("run", self.BOOTROM, "127.0.0.1:0"), ("--help",)):  # before argv is read
            status, out, err = self.finish(self.start(*argv))
            self.assertEqual(status, -signal.SIGABRT, err)  # release profile: panic = "abort"
            self.assertIn("thread 'main' panicked at bin/propolis-server/src/main.rs:282:23:\n"
                          "called `Result::unwrap()` on an `Err` value: IO(Os { code: 2, kind: NotFound, "
                          'message: "No such file or directory" })', err)
        status, _, err = self.finish(self.start("run", knobs=["--panic", "unwind"]))
        self.assertEqual(status, 101, err)

    def test_missing_devices(self):
        for dev, component in (("vmmctl", "vmm"), ("viona", "viona")):
            os.remove(self.sim("/dev/" + dev))
            status, out, err = self.finish(self.run_ok())
            self.assertEqual(status, 1, err)
            self.assertIn(f"Error: API version checks\n\nCaused by:\n    0: checking version of {component}\n"
                          "    1: IO Error\n    2: No such file or directory (os error 2)", err)
            self.assertIn(f'"msg": "Failed to open /dev/{dev}"', out)  # bunyan, on stdout
            write(self.sim("/dev/" + dev), mode=0o666)

    def test_listens_after_the_listen_delay(self):
        self.knobs[self.knobs.index("--listen-delay") + 1] = "1.5"
        t0 = time.monotonic()
        c = self.listening(self.run_ok())
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.assertEqual(c.request("GET", "/instance")[0], 424)

    def test_missing_bootrom_aborts_at_the_first_ensure(self):
        # propolis-server does not open the bootrom until ensure, where
        # initialize_rom panics (and panic = "abort" ends the server).
        os.remove(self.sim(self.BOOTROM))
        proc = self.run_ok()
        c = self.listening(proc)
        self.assertEqual(c.request("GET", "/instance")[0], 424)
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            c.request("PUT", "/instance", ensure_body("/var/tmp/disk.raw"))
        status, _, err = self.finish(proc)
        self.assertEqual(status, -signal.SIGABRT, err)
        self.assertIn("thread 'tokio-rt-api' panicked at bin/propolis-server/src/lib/initializer.rs:258:33:\n"
                      f'Cannot open bootrom: failed to open bootrom "{self.BOOTROM}"', err)

    def test_unaligned_bootrom_fails_the_instance(self):
        write(self.sim(self.BOOTROM), "x" * 100)
        c = self.listening(self.run_ok())
        st, obj, _ = c.request("PUT", "/instance", ensure_body("/var/tmp/disk.raw"))
        self.assertEqual(st, 500, obj)
        self.assertEqual(c.request("GET", "/instance")[1]["instance"]["state"], "Failed")

    def test_fresh_state_at_every_start(self):
        c = self.listening(self.run_ok())
        self.assert_no_instance(c)
        self.assertEqual(c.request("PUT", "/instance", ensure_body("/var/tmp/disk.raw"))[0], 201)
        self.assertEqual(c.request("PUT", "/instance/state", "Run")[0], 204)
        self.assertEqual(c.request("PUT", "/instance/state", "Stop")[0], 204)
        deadline = time.monotonic() + 30
        while c.request("GET", "/instance")[1]["instance"]["state"] != "Destroyed":
            self.assertLess(time.monotonic(), deadline, "the VM did not stop")
            time.sleep(0.05)
        # A stopped VM is still described (200) until a new ensure.
        self.assertEqual(c.request("GET", "/instance")[0], 200)
        os.remove(self.port_file)
        proc = self.run_ok()
        self.assert_no_instance(self.listening(proc))
        proc.terminate()  # no handler, as the real server: SIGTERM ends it
        self.assertEqual(proc.wait(30), -signal.SIGTERM)

    def test_ipv6_listen_address_looks_for_nexus_at_every_ensure(self):
        proc = self.start("run", self.BOOTROM, "[::1]:0", knobs=["--ipv6-nexus-delay", "1.0"])
        port = self.listening(proc).port
        c = Client(port, "::1")
        self.assert_no_instance(c)
        t0 = time.monotonic()
        self.assertEqual(c.request("PUT", "/instance", ensure_body("/var/tmp/disk.raw"))[0], 201)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        proc.kill()
        _, out, _ = self.finish(proc)
        self.assertIn('"msg": "Failed to resolve Nexus endpoint"', out)
        os.remove(self.port_file)
        proc = self.run_ok()
        self.assertEqual(self.listening(proc).request("PUT", "/instance", ensure_body("/var/tmp/disk.raw"))[0], 201)
        proc.kill()
        _, out, _ = self.finish(proc)
        self.assertIn('"msg": "Unable to determine Nexus endpoint for IPv4 addresses"', out)

    def assert_no_instance(self, c):
        st, obj, _ = c.request("GET", "/instance")
        self.assertEqual((st, obj["error_code"], obj["message"]),
                         (424, "NoInstance", "Server not initialized (no instance)"))


class RunZoneTest(RunModeCase):
    """In a zone: the listen address must be up (fake ifconfig's state),
    knobs and records live in /.zone-sim/tools-state, NICs go through the
    zone's dladm."""

    def ensure_nic(self, c, vnic="vmctl_web_0"):
        body = ensure_body("/var/tmp/disk.raw")
        body["init"]["value"]["spec"]["components"]["net0-backend"]["component"]["vnic_name"] = vnic
        return c.request("PUT", "/instance", body)

    def test_listen_address_must_be_up_in_the_zone(self):
        self.make_zone(addresses=[("127.0.0.1", False)])
        status, out, err = self.finish(self.run_ok())
        self.assertEqual(status, 1, err)
        self.assertIn("Error: Failed to start server: failed to bind to 127.0.0.1:0", err)
        self.assertIn("Cannot assign requested address", err)
        self.set_addresses([("127.0.0.1", True)])
        c = self.listening(self.run_ok())
        self.assertEqual(c.request("GET", "/instance")[0], 424)
        events = [e["event"] for e in self.records("events.jsonl")]
        self.assertEqual(events, ["start", "exit", "start", "listening"])
        self.assertEqual(self.records("requests.jsonl")[0]["path"], "/instance")

    def test_vnc_address_must_be_up_too(self):
        self.make_zone(addresses=[("127.0.0.1", True)])
        status, _, err = self.finish(self.run_ok("127.0.0.2:0"))
        self.assertEqual(status, 1, err)
        self.assertIn("Error: Cannot assign requested address (os error 126)", err)

    def test_options_file_in_the_zone(self):
        self.make_zone()
        write(self.sim("/.zone-sim/tools-state/propolis-options"), "--api-version 4.0.0\n")
        c = self.listening(self.run_ok())
        st, obj, _ = c.request("GET", "/instance")
        self.assertEqual((st, obj["message"]), (400, "server does not support this API version: 5.0.0"))
        write(self.sim("/.zone-sim/tools-state/propolis-options"), f"--sim-root {self.dir}\n")
        status, _, err = self.finish(self.run_ok())
        self.assertEqual(status, 2, err)
        self.assertIn("--sim-root is only read from FAKE_PROPOLIS_OPTIONS", err)

    def test_dladm_by_bare_name_on_illumos_default_path(self):
        self.make_zone()
        log = self.dladm("/usr/sbin/dladm")
        c = self.listening(self.run_ok())
        expected = os.geteuid() == 0  # root's default PATH has /usr/sbin; a user's has not
        st, obj, _ = self.ensure_nic(c)
        self.assertEqual(st, 201 if expected else 500, obj)
        if expected:
            with open(log) as f:
                self.assertEqual(f.read().splitlines(), ["show-vnic -p -o macaddress vmctl_web_0",
                                                         "show-linkprop -c -o value -p mtu vmctl_web_0"])

    def test_dladm_loop_fails_the_instance(self):
        # The nebula-vm zone before issue 14: /sbin -> usr/sbin, and
        # /usr/sbin/dladm -> ../../sbin/dladm (SUNWcs.mf): ELOOP.
        self.make_zone()
        os.makedirs(self.sim("/usr/sbin"))
        os.symlink("usr/sbin", self.sim("/sbin"))
        os.symlink("../../sbin/dladm", self.sim("/usr/sbin/dladm"))
        proc = self.run_ok()
        c = self.listening(proc)
        self.assert_instance_failed(c, self.ensure_nic(c))
        proc.kill()
        _, out, _ = self.finish(proc)
        self.assertIn('failed to create viona device \\"net0\\"', out)

    def test_dladm_failure_or_absence_fails_the_instance(self):
        self.make_zone()
        self.dladm("/sbin/dladm", status=1)
        c = self.listening(self.run_ok(path="/sbin:/usr/bin"))
        self.assert_instance_failed(c, self.ensure_nic(c))
        os.remove(self.port_file)
        c = self.listening(self.run_ok(path="/nowhere"))
        self.assert_instance_failed(c, self.ensure_nic(c))

    def test_dladm_on_path_and_links_of_the_zone(self):
        self.make_zone(links=("vmctl_web_0", "net9"), vnics=("vmctl_web_0",))
        log = self.dladm("/sbin/dladm")
        c = self.listening(self.run_ok(path="/nowhere::/sbin"))
        self.assertEqual(self.ensure_nic(c)[0], 201)
        with open(log) as f:
            calls = f.read().splitlines()
        # A link the zone does not have, or that is no VNIC: libdladm refuses
        # it before dladm runs.
        for vnic in ("vmctl_other_0", "net9"):
            os.remove(self.port_file)
            c = self.listening(self.run_ok(path="/sbin"))
            self.assert_instance_failed(c, self.ensure_nic(c, vnic))
        with open(log) as f:
            self.assertEqual(f.read().splitlines(), calls)

    def test_dladm_script_without_interpreter_line_and_unexecutable_dladm(self):
        # execvp.c: ENOEXEC runs the file with /bin/sh; EACCES skips it.
        self.make_zone()
        write(self.sim("/sbin/dladm"), "echo 2:8:20:aa:bb:cc\n", 0o755)
        c = self.listening(self.run_ok(path="/sbin"))
        self.assertEqual(self.ensure_nic(c)[0], 201)
        os.chmod(self.sim("/sbin/dladm"), 0o644)
        os.remove(self.port_file)
        c = self.listening(self.run_ok(path="/sbin"))
        self.assert_instance_failed(c, self.ensure_nic(c))

    def test_dladm_with_a_bad_mac_fails_the_instance(self):
        self.make_zone()
        self.dladm("/sbin/dladm", mac="2:8:20:aa:bb")
        c = self.listening(self.run_ok(path="/sbin"))
        self.assert_instance_failed(c, self.ensure_nic(c))

    def assert_instance_failed(self, c, result):
        st, obj, _ = result
        self.assertEqual((st, obj["error_code"]), (500, "Internal"), obj)
        self.assertEqual(c.request("GET", "/instance")[1]["instance"]["state"], "Failed")


class InstallerTest(unittest.TestCase):
    """install-fake-propolis.sh DIR: DIR/bin/propolis-server and the
    firmware, as a test's propolis dir holds them."""

    def test_installed_server_runs_as_propolis_server(self):
        d = tempfile.mkdtemp(prefix="fake-propolis-install-")
        self.addCleanup(shutil.rmtree, d, True)
        subprocess.run([os.path.join(HERE, "install-fake-propolis.sh"), d], check=True, timeout=60)
        fw = os.path.join(d, "firmware", "OVMF_CODE.fd")
        self.assertEqual(os.path.getsize(fw) % 4096, 0)
        server = os.path.join(d, "bin", "propolis-server")
        self.assertTrue(os.access(server, os.X_OK))
        root = d  # the zone would see the propolis dir elsewhere; here it is the sim root
        for dev in ("dtrace/helper", "vmmctl", "viona", "dld"):
            write(os.path.join(root, "dev", dev), mode=0o666)
        fw = "/firmware/OVMF_CODE.fd"
        env = dict(os.environ, FAKE_PROPOLIS_OPTIONS=shlex.join(["--sim-root", root, "--listen-delay", "0",
                                                                 "--port-file", os.path.join(d, "port")]))
        no_args = subprocess.run([server], env=env, capture_output=True, timeout=60)
        self.assertEqual(no_args.returncode, 2, no_args.stderr)
        self.assertIn(b"Usage: propolis-server <COMMAND>", no_args.stderr)
        proc = subprocess.Popen([server, "run", fw, "127.0.0.1:0"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.addCleanup(RunModeCase.kill, proc)
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(d, "port")):
            self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        with open(os.path.join(d, "port")) as f:
            c = Client(int(f.read()))
        self.assertEqual(c.request("GET", "/instance")[0], 424)
        body = ensure_body(fw)
        del body["init"]["value"]["spec"]["components"]["net0"]
        del body["init"]["value"]["spec"]["components"]["net0-backend"]
        self.assertEqual(c.request("PUT", "/instance", body)[0], 201)


class FakeToolsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fake-tools-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        # A booted zone runs the brand's init in the zone simulator: its
        # processes are killed by pid whatever the test did.
        self.addCleanup(subprocess.run, [sys.executable, os.path.join(TOOLS, "zone_sim.py"), "kill-all",
                                         os.path.join(self.dir, "state")], timeout=90)
        self.env = dict(os.environ, VMCTL_FAKE_TOOLS_STATE=os.path.join(self.dir, "state"),
                        VMCTL_FAKE_TOOLS_LOG=os.path.join(self.dir, "log"),
                        PATH=TOOLS + os.pathsep + os.environ.get("PATH", ""))

    def run_tool(self, *argv, fail=None, stdin=None):
        env = dict(self.env)
        if fail:
            env["VMCTL_FAKE_TOOLS_FAIL"] = fail
        p = subprocess.run([os.path.join(TOOLS, argv[0]), *argv[1:]], env=env, input=stdin,
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *argv, **kw):
        rc, out, err = self.run_tool(*argv, **kw)
        self.assertEqual(rc, 0, f"{argv}: {err}")
        return out

    def test_zfs_sequence(self):
        self.ok("zfs", "create", "-p", "rpool/vmctl/images")
        self.ok("zfs", "create", "-V", "10G", "rpool/vmctl/images/debian")
        rc, out, err = self.run_tool("zfs", "create", "rpool/vmctl/images/debian")
        self.assertEqual((rc, err), (1, "cannot create 'rpool/vmctl/images/debian': dataset already exists\n"))
        rc, _, err = self.run_tool("zfs", "create", "rpool/a/b")
        self.assertEqual((rc, err), (1, "cannot create 'rpool/a/b': parent does not exist\n"))
        self.ok("zfs", "snapshot", "rpool/vmctl/images/debian@base")
        rc, _, err = self.run_tool("zfs", "clone", "rpool/vmctl/images/debian@nope", "rpool/vmctl/vm1")
        self.assertEqual((rc, err), (1, "cannot open 'rpool/vmctl/images/debian@nope': dataset does not exist\n"))
        self.ok("zfs", "clone", "-p", "rpool/vmctl/images/debian@base", "rpool/vmctl/vms/vm1/disk")
        out = self.ok("zfs", "list", "-H", "-p", "-o", "name,type,volsize,origin", "-t", "volume", "-r", "rpool/vmctl")
        self.assertEqual(out, "rpool/vmctl/images/debian\tvolume\t10737418240\t-\n"
                              "rpool/vmctl/vms/vm1/disk\tvolume\t10737418240\trpool/vmctl/images/debian@base\n")
        rc, _, err = self.run_tool("zfs", "list", "-H", "rpool/none")
        self.assertEqual((rc, err), (1, "cannot open 'rpool/none': dataset does not exist\n"))
        rc, _, err = self.run_tool("zfs", "destroy", "rpool/vmctl/images/debian@base")
        self.assertEqual(rc, 1)
        self.assertIn("snapshot has dependent clones", err)
        rc, _, err = self.run_tool("zfs", "destroy", "rpool/vmctl/vms")
        self.assertIn("filesystem has children", err)
        self.ok("zfs", "destroy", "-r", "rpool/vmctl/vms")
        self.ok("zfs", "destroy", "rpool/vmctl/images/debian@base")
        out = self.ok("zfs", "list", "-H", "-o", "name", "-t", "all", "-r", "rpool/vmctl")
        self.assertEqual(out, "rpool/vmctl\nrpool/vmctl/images\nrpool/vmctl/images/debian\n")
        with open(self.env["VMCTL_FAKE_TOOLS_LOG"]) as f:
            log = [json.loads(l) for l in f]
        self.assertEqual(log[0], ["zfs", "create", "-p", "rpool/vmctl/images"])
        self.assertEqual(len(log), 14)

    def zvol(self, name):
        return os.path.join(self.dir, "state", "zvol", "rdsk", name)

    def write_at(self, name, offset, data):
        with open(self.zvol(name), "r+b") as f:
            f.seek(offset)
            f.write(data)

    def read_at(self, name, offset, n):
        with open(self.zvol(name), "rb") as f:
            f.seek(offset)
            return f.read(n)

    def test_zfs_snapshots_and_rollback(self):
        self.ok("zfs", "create", "-p", "-s", "-V", "1G", "rpool/vms/a")
        self.ok("zfs", "create", "-p", "-s", "-V", "2G", "rpool/vm-disks/a/d1")
        self.write_at("rpool/vms/a", 4096, b"first")
        # One call, several datasets: all or nothing.
        self.ok("zfs", "snapshot", "rpool/vms/a@s1", "rpool/vm-disks/a/d1@s1")
        rc, _, err = self.run_tool("zfs", "snapshot", "rpool/vms/a@s2", "rpool/vm-disks/a/d1@s1")
        self.assertEqual((rc, err), (1, "cannot create snapshot 'rpool/vm-disks/a/d1@s1': dataset already exists\n"))
        rc, _, err = self.run_tool("zfs", "list", "-H", "rpool/vms/a@s2")
        self.assertEqual((rc, err), (1, "cannot open 'rpool/vms/a@s2': dataset does not exist\n"))
        self.write_at("rpool/vms/a", 4096, b"later")
        self.ok("zfs", "set", "volsize=3G", "rpool/vms/a")
        self.ok("zfs", "snapshot", "rpool/vms/a@s2")
        out = self.ok("zfs", "list", "-H", "-p", "-t", "snapshot", "-o", "name,volsize", "-d", "1", "rpool/vms/a")
        self.assertEqual(out, "rpool/vms/a@s1\t1073741824\nrpool/vms/a@s2\t3221225472\n")
        out = self.ok("zfs", "get", "-Hp", "-o", "value", "volsize", "rpool/vms/a@s1")
        self.assertEqual(out, "1073741824\n")
        rc, _, err = self.run_tool("zfs", "set", "volsize=1G", "rpool/vms/a@s1")
        self.assertEqual((rc, err), (1, "cannot set property for 'rpool/vms/a@s1': "
                                        "this property can not be modified for snapshots\n"))
        # Without -r, later snapshots stop a rollback (zfs_main.c rollback_check).
        rc, _, err = self.run_tool("zfs", "rollback", "rpool/vms/a@s1")
        self.assertEqual((rc, err), (1, "cannot rollback to 'rpool/vms/a@s1': more recent snapshots or bookmarks "
                                        "exist\nuse '-r' to force deletion of the following snapshots and "
                                        "bookmarks:\nrpool/vms/a@s2\n"))
        self.assertEqual(self.read_at("rpool/vms/a", 4096, 5), b"later")
        self.ok("zfs", "rollback", "-r", "rpool/vms/a@s1")
        self.assertEqual(self.read_at("rpool/vms/a", 4096, 5), b"first")
        self.assertEqual(os.path.getsize(self.zvol("rpool/vms/a")), 1 << 30)
        out = self.ok("zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", "rpool")
        self.assertEqual(out, "rpool/vm-disks/a/d1@s1\nrpool/vms/a@s1\n")
        rc, _, err = self.run_tool("zfs", "rollback", "rpool/vms/a@s2")
        self.assertEqual((rc, err), (1, "cannot open 'rpool/vms/a@s2': dataset does not exist\n"))
        # A later snapshot with a clone needs -R (zfs_main.c rollback_check_dependent).
        self.ok("zfs", "snapshot", "rpool/vms/a@s3")
        self.ok("zfs", "clone", "rpool/vms/a@s3", "rpool/c")
        rc, _, err = self.run_tool("zfs", "rollback", "-r", "rpool/vms/a@s1")
        self.assertEqual((rc, err), (1, "cannot rollback to 'rpool/vms/a@s1': clones of previous snapshots exist\n"
                                        "use '-R' to force deletion of the following clones and dependents:\n"
                                        "rpool/c\n"))
        self.ok("zfs", "rollback", "-R", "rpool/vms/a@s1")
        rc, _, _ = self.run_tool("zfs", "list", "rpool/c")
        self.assertEqual(rc, 1)
        rc, _, err = self.run_tool("zfs", "rollback", "rpool/vms/a")
        self.assertEqual(rc, 1)
        self.assertIn("operation not applicable to datasets of this type", err)
        rc, _, err = self.run_tool("zfs", "destroy", "rpool/vms/a@nope")
        self.assertEqual((rc, err), (1, "could not find any snapshots to destroy; check snapshot names.\n"))
        self.ok("zfs", "destroy", "rpool/vms/a@s1")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "state", "zvol", "snap", "rpool/vms/a@s1")))
        self.ok("zfs", "destroy", "-r", "rpool/vm-disks/a")
        out = self.ok("zfs", "list", "-H", "-t", "all", "-o", "name", "-r", "rpool")
        self.assertEqual(out, "rpool\nrpool/vm-disks\nrpool/vms\nrpool/vms/a\n")

    def write_zonecfg(self, name="vm1"):
        path = os.path.join(self.dir, f"{name}.zonecfg")
        with open(path, "w") as f:
            f.write(f"""create -b
set brand=nebula-vm
set zonepath={self.dir}/zones/{name}
set ip-type=exclusive
set autoboot=false
add net
    set physical={name}g0
end
add net
    set physical={name}a0
    set allowed-address=10.9.0.2/24
end
add device
    set match=/dev/zvol/rdsk/rpool/vmctl/{name}/disk
end
add attr
    set name=bootrom
    set type=string
    set value=/opt/oxide/propolis-server/OVMF_CODE.fd
end
add attr
    set name=api-address
    set type=string
    set value=10.9.0.2:12400
end
add attr
    set name=api-vnic
    set type=string
    set value={name}a0
end
commit
""")
        return path

    def test_zones_and_vnics(self):
        cfg = self.write_zonecfg()
        self.ok("zonecfg", "-z", "vm1", "-f", cfg)
        rc, _, err = self.run_tool("zonecfg", "-z", "vm1", "-f", cfg)
        self.assertEqual(rc, 1)
        self.assertIn("already exists", err)
        out = self.ok("zoneadm", "-z", "vm1", "list", "-p")
        self.assertEqual(out, f"-:vm1:configured:{self.dir}/zones/vm1::nebula-vm:exclusive\n")
        rc, _, err = self.run_tool("zoneadm", "-z", "vm1", "boot")
        self.assertEqual((rc, err), (1, "zoneadm: zone 'vm1': must be installed before boot.\n"))
        self.ok("zoneadm", "-z", "vm1", "install")
        rc, _, err = self.run_tool("zoneadm", "-z", "vm1", "boot")
        self.assertEqual(rc, 1)
        self.assertIn("could not find link vm1g0", err)
        self.ok("dladm", "create-vnic", "-t", "-l", "net0", "-m", "02:08:20:0a:0b:0c", "vm1g0")
        self.ok("dladm", "create-vnic", "-t", "-l", "net0", "vm1a0")
        rc, _, err = self.run_tool("dladm", "create-vnic", "-l", "net0", "vm1a0")
        self.assertEqual((rc, err), (1, "dladm: vnic creation failed: object already exists\n"))
        # The zone's init execs propolis-server: the simulator's stand-in.
        opt = os.path.join(self.dir, "zones/vm1/root/opt/oxide/propolis-server")
        os.makedirs(os.path.join(opt, "bin"))
        shutil.copy(os.path.join(HERE, "sim-testdata/propolis-server"), os.path.join(opt, "bin"))
        open(os.path.join(opt, "OVMF_CODE.fd"), "w").close()
        self.ok("zoneadm", "-z", "vm1", "boot")
        out = self.ok("zoneadm", "list", "-p")
        lines = out.splitlines()
        self.assertEqual(lines[0], "0:global:running:/::ipkg:shared")
        self.assertRegex(lines[1], rf"^1:vm1:running:{self.dir}/zones/vm1:[0-9a-f-]{{36}}:nebula-vm:exclusive$")
        out = self.ok("dladm", "show-vnic", "-p", "-o", "link,over,macaddress,zone", "vm1g0")
        self.assertEqual(out, "vm1g0:net0:2\\:8\\:20\\:a\\:b\\:c:vm1\n")
        self.assertEqual(self.ok("dladm", "show-vnic", "-p", "-o", "macaddress", "vm1g0"), "2:8:20:a:b:c\n")
        rc, _, err = self.run_tool("dladm", "delete-vnic", "vm1g0")
        self.assertEqual(rc, 1)
        rc, _, err = self.run_tool("zoneadm", "-z", "vm1", "install")
        self.assertEqual(err, "zoneadm: zone 'vm1': install operation is invalid for running zones.\n")
        info = self.ok("zonecfg", "-z", "vm1", "info", "attr", "name=api-address")
        self.assertIn("value: 10.9.0.2:12400", info)
        self.ok("zoneadm", "-z", "vm1", "halt")
        self.ok("zoneadm", "-z", "vm1", "uninstall", "-F")
        self.ok("zonecfg", "-z", "vm1", "delete", "-F")
        rc, _, err = self.run_tool("zoneadm", "-z", "vm1", "list", "-p")
        self.assertEqual((rc, err), (1, "zoneadm: vm1: No such zone configured\n"))
        self.ok("dladm", "delete-vnic", "vm1g0")
        self.assertEqual(self.ok("dladm", "show-vnic", "-p", "-o", "link"), "vm1a0\n")

    def test_failure_injection(self):
        self.ok("zfs", "create", "-V", "1G", "rpool/img")
        self.ok("zfs", "snapshot", "rpool/img@s")
        spec = "zfs:clone:2,dladm:create-vnic"
        self.ok("zfs", "clone", "rpool/img@s", "rpool/c1", fail=spec)
        rc, _, err = self.run_tool("zfs", "clone", "rpool/img@s", "rpool/c2", fail=spec)
        self.assertEqual(rc, 1)
        self.assertIn("cannot create 'rpool/c2'", err)
        self.ok("zfs", "clone", "rpool/img@s", "rpool/c3", fail=spec)
        out = self.ok("zfs", "list", "-H", "-o", "name", "-r", "rpool")
        self.assertNotIn("rpool/c2", out)
        rc, _, err = self.run_tool("dladm", "create-vnic", "-l", "net0", "v0", fail=spec)
        self.assertEqual(rc, 1)
        self.assertTrue(err.startswith("dladm: vnic creation failed"), err)
        rc, _, _ = self.run_tool("dladm", "show-vnic", "-p", "-o", "link", "v0")
        self.assertEqual(rc, 1)
        cfg = os.path.join(self.dir, "z.cfg")
        with open(cfg, "w") as f:
            f.write("create -b\nset zonepath=/z/z1\nset brand=nebula-vm\ncommit\n")
        rc, _, _ = self.run_tool("zonecfg", "-z", "z1", "-f", cfg, fail="zonecfg:-f")
        self.assertEqual(rc, 1)
        self.ok("zonecfg", "-z", "z1", "-f", cfg)
        self.ok("zoneadm", "-z", "z1", "install")
        rc, _, err = self.run_tool("zoneadm", "-z", "z1", "boot", fail="zoneadm:boot:1")
        self.assertEqual(rc, 1)
        self.assertIn("zoneadm: zone 'z1': boot failed", err)
        self.assertEqual(self.ok("zoneadm", "-z", "z1", "list", "-p").split(":")[2], "installed")
        with open(self.env["VMCTL_FAKE_TOOLS_LOG"]) as f:
            log = [json.loads(l) for l in f]
        self.assertIn(["zfs", "clone", "rpool/img@s", "rpool/c2"], log)
        self.assertIn(["zoneadm", "-z", "z1", "boot"], log)

    def test_uninstall_asks_without_F(self):
        cfg = os.path.join(self.dir, "z.cfg")
        with open(cfg, "w") as f:
            f.write("create -b\nset zonepath=/z/z1\nset brand=nebula-vm\ncommit\n")
        self.ok("zonecfg", "-z", "z1", "-f", cfg)
        self.ok("zoneadm", "-z", "z1", "install")
        out = self.ok("zoneadm", "-z", "z1", "uninstall", stdin="n\n")
        self.assertIn("Are you sure you want to uninstall zone z1 (y/[n])?", out)
        self.assertEqual(self.ok("zoneadm", "-z", "z1", "list", "-p").split(":")[2], "installed")
        self.ok("zoneadm", "-z", "z1", "uninstall", stdin="y\n")
        self.assertEqual(self.ok("zoneadm", "-z", "z1", "list", "-p").split(":")[2], "configured")


class BrandHooksTest(FakeToolsTest):
    """Runs the brand's hooks on Linux with the fake zonecfg."""

    def hook(self, name, *args):
        env = dict(self.env, ZONECFG=os.path.join(TOOLS, "zonecfg"))
        return subprocess.run(["sh", os.path.join(BRAND, name), *args], env=env,
                              capture_output=True, text=True, timeout=30)

    def test_install_boot_halt_uninstall(self):
        zp = os.path.join(self.dir, "zones", "vm1")
        os.makedirs(zp)
        self.ok("zonecfg", "-z", "vm1", "-f", self.write_zonecfg())
        p = self.hook("install", "-z", "vm1", "-R", zp)
        self.assertEqual(p.returncode, 0, p.stderr)
        root = os.path.join(zp, "root")
        for d in ("dev", "etc", "usr", "lib", "tmp", "var/run", "etc/svc/volatile"):
            self.assertTrue(os.path.isdir(os.path.join(root, d)), d)
        self.assertEqual(os.readlink(os.path.join(root, "bin")), "usr/bin")
        p = self.hook("boot", "vm1", zp)
        self.assertEqual(p.returncode, 1)
        self.assertIn("propolis-server /opt/oxide/propolis-server/bin/propolis-server is not an executable "
                      "file in the zone", p.stderr)
        binary = os.path.join(root, "opt/oxide/propolis-server/bin/propolis-server")
        os.makedirs(os.path.dirname(binary))
        with open(binary, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(binary, 0o755)
        with open(os.path.join(root, "opt/oxide/propolis-server/OVMF_CODE.fd"), "wb") as f:
            f.write(b"\0" * 16)
        p = self.hook("boot", "vm1", zp)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout + p.stderr, "")
        conf = os.path.join(root, "etc/nebula-vm.conf")
        values = subprocess.run(["sh", "-c", f". '{conf}'; printf '%s|' \"$PROPOLIS\" \"$BOOTROM\" "
                                 "\"$API_ADDRESS\" \"$API_IP\" \"$API_PREFIX\" \"$API_VNIC\" \"$LOG_LEVEL\""],
                                capture_output=True, text=True).stdout
        self.assertEqual(values, "/opt/oxide/propolis-server/bin/propolis-server|"
                                 "/opt/oxide/propolis-server/OVMF_CODE.fd|10.9.0.2:12400|10.9.0.2|24|vm1a0|info|")
        # A wrong API address is refused.
        self.ok("zonecfg", "-z", "vm1", "remove attr name=api-address; add attr; set name=api-address; "
                "set type=string; set value=10.9.0.3:12400; end")
        p = self.hook("boot", "vm1", zp)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is not the allowed-address", p.stderr)
        for _ in range(2):  # idempotent
            p = self.hook("halt", "vm1", zp)
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(conf))
        p = self.hook("uninstall", "-z", "vm1", "-R", zp, "-F")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(root))
        self.assertTrue(os.path.isdir(zp))
        p = self.hook("uninstall", "-z", "vm1", "-R", "/")
        self.assertEqual(p.returncode, 1)

    # The inherited tool tests already ran in FakeToolsTest.
    test_zfs_sequence = test_zfs_snapshots_and_rollback = test_zones_and_vnics = test_failure_injection = None
    test_uninstall_asks_without_F = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
