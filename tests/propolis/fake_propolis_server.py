#!/usr/bin/env python3
"""A fake propolis-server (API 5.0.0) for testing vmctl's Propolis backend on Linux.

It listens on loopback only, speaks the HTTP API described by
propolis-server-openapi.json (next to this file), records every request, and
simulates one VM: its lifecycle states and generation numbers, the state
monitor long-poll, the serial console (RFC 6455 websocket, written here by
hand) with a fake guest behind it, and the serial history buffer.  Python 3.11
standard library only.

It runs in two modes:
* standalone (the HTTP client and websocket console unit tests, through
  tests/support/fake_propolis.cpp): the command line under "Usage" below.
* as propolis-server (`run` mode, for the zone simulator): see "As
  propolis-server" below.

As propolis-server
------------------
Installing it: `tests/propolis/install-fake-propolis.sh DIR` lays out a
propolis dir (what the zone mounts at /opt/oxide/propolis-server):
DIR/bin/propolis-server (a /bin/sh launcher that execs /usr/bin/python3 on
DIR/lib/fake-propolis/fake_propolis_server.py, copied there with the OpenAPI
document, passing --as-propolis-server and then its own argv) and
DIR/firmware/OVMF_CODE.fd (a page-aligned dummy bootrom).  From C++,
vmctl::test::install_fake_propolis(DIR) runs that script.

Its argv is propolis-server's (bin/propolis-server/src/main.rs, clap 4.5):
    propolis-server run <BOOTROM> <IP:PORT> [VNC_IP:PORT] [--bootrom-version V]
                        [--metric-addr disable|dns|IP:PORT] [--log-level L]
Options as `--x v` or `--x=v`, `--` ends them; unknown or repeated options,
bad addresses (IPv6 must be `[addr]:port`) and bad levels (slog's
Level::from_str: a prefix of CRITICAL ERROR WARN INFO DEBUG TRACE or of CRIT
ERRO WARN INFO DEBG TRCE; not "off") are refused as clap does: a message on
stderr ending "For more information, try '--help'.", exit 2.
`fake_propolis_server.py run ...` is the same without the launcher.

The fake's own knobs (any flag of the standalone list below except --port and
--log-level, plus the ones here) come only from the environment variable
FAKE_PROPOLIS_OPTIONS (shlex-split) and, in a zone, from the one line of
/.zone-sim/tools-state/propolis-options (after the environment's):
    --listen-delay S      wait S seconds before listening (1.0)
    --sim-root DIR        where the zone's "/" is (default "/": in the zone's
                          chroot); FAKE_PROPOLIS_OPTIONS only.  Self-tests use
                          it to build a /dev and /.zone-sim without chroot.
    --panic abort|unwind  how a panic ends the server: abort (SIGABRT, as the
                          release profile's panic = "abort" does; the default)
                          or unwind (a dev build: a start-up panic exits 101)
    --port-file FILE      the bound port is written there once listening
    --ipv6-nexus-delay S  each ensure on an IPv6 listen address first waits S
                          seconds (0), standing in for the Nexus DNS lookup
                          server.rs find_local_nexus_client does (not measured)

Start-up, in main.rs's order (each step cited where it is implemented):
 1. /dev/dtrace/helper opened read-write (usdt register_probes().unwrap(),
    before argv is read): else the Rust panic text
    "called `Result::unwrap()` on an `Err` value: IO(Os { code: 2, ... })"
    and SIGABRT (or exit 101 with --panic unwind).
 2. argv (above).
 3. --metric-addr dns needs a non-localhost IPv6 listen address, else
    "Error: Metric registration can only use DNS ...", exit 1.
 4. /dev/vmmctl, then /dev/viona: else "Error: API version checks" with the
    cause chain, exit 1.
 5. the listen delay; the VNC address, if given, is bound first.
 6. bind: in a zone the address must be in state.json
    zones[<zone>]["addresses"] with "up": true (the fake ifconfig's record),
    else "Error: Failed to start server: failed to bind to IP:PORT", exit 1
    (the real server drops the io::Error there; the fake adds a line of its
    own naming "Cannot assign requested address").  Only loopback addresses
    are ever bound.
The bootrom is not looked at during start-up: the real server opens it at the
first ensure, where a missing bootrom is a panic (initializer.rs
initialize_rom), so the fake prints that panic and aborts in the middle of
the ensure (the client sees its connection closed).  A bootrom whose length is
not a multiple of 4096 fails the instance (500).

At ensure, in ensure.rs initialize_vm_objects' order: more than 32 vCPUs
(VM_MAXCPU) or 0 fail the instance ("failed to set max cpus": 500 Internal,
state Failed -- ensure is synchronous in propolis master, vm/mod.rs ensure
waits for the initializer's answer); the bootrom; com1; each NIC: /dev/dld
opened, the link must be one of zone.json "links" and a VNIC of state.json
"vnics" (libdladm's own view), then `dladm show-vnic -p -o macaddress <vnic>`
(and `dladm show-linkprop -c -o value -p mtu <vnic>`, failure ignored) found
by bare name as illumos execvp finds it: PATH, or when PATH is unset
"/usr/sbin:/usr/ccs/bin:/usr/bin" for root; a missing or looping (ELOOP)
dladm, a non-zero exit or an unreadable MAC fail the instance
("failed to create viona device \"<nic>\"" in the log); then the disks.

Outside a zone (no /.zone-sim/zone.json under the sim root) the zone checks
(addresses, links) are skipped.  In a zone the records (requests.jsonl,
responses.jsonl, events.jsonl) go to
/.zone-sim/tools-state/propolis-server/<zonename>/, appended across boots;
elsewhere to --state-dir if given.  events.jsonl has one line per start,
listen, exit and panic: {"time", "pid", "event", ...}.  Logs are bunyan JSON
lines on stdout, filtered by --log-level; errors go to stderr.  No signal
handler: SIGTERM ends it as it ends the real server.  Every start is a fresh
server: GET /instance answers 424 NoInstance until an ensure.

Usage (standalone)
------------------
    fake_propolis_server.py --port 0 --port-file DIR/port --state-dir DIR [options]

    --port N              port on 127.0.0.1 (0 picks a free one)
    --port-file FILE      the chosen port is written there (atomically) once listening
    --state-dir DIR       requests.jsonl / responses.jsonl are written there
    --api-version V       the version clients must send in `api-version` (5.0.0)
    --openapi FILE        the API document (default: next to this script)
    --create-delay S      PUT /instance blocks this long creating the VM (0.05)
    --start-delay S       Run: Creating -> Running takes this long (0.1)
    --stop-delay S        Stop: Stopping -> Stopped takes this long (0.1)
    --reboot-delay S      Reboot: Rebooting -> Running takes this long (0.1)
    --rundown-delay S     Stopped/Failed -> final state (Destroyed/Failed) (0.05)
    --no-publish-starting  go from Creating straight to Running on Run, as
                          older servers did (propolis master publishes
                          Starting first; --publish-starting, that default
                          now, is still accepted)
    --monitor-timeout S   a state-monitor long-poll answers the current state
                          after S seconds (0 = wait forever, as the real server)
    --serial-buffer-size N  bytes kept at the start and at the end of the serial
                          history (1 MiB, as the real server)
    --guest-name NAME     host name the fake guest prints (default: the
                          instance's properties.name)
    --no-check-paths      do not check that file_storage_backend paths exist
    --fail SPEC           fault injected from the start, repeatable:
                          METHOD:PATH:STATUS[:COUNT]   e.g. PUT:/instance/state:500:1
    --hang SPEC           METHOD:PATH[:SECONDS[:COUNT]]; no SECONDS = forever
    --log-level LEVEL     debug|info|warning (stderr)

SIGTERM / SIGINT shut it down cleanly (exit status 0).

Driving it from a test
----------------------
Start it with `--port 0 --port-file F --state-dir D`, wait for F to exist,
read the port, send requests with header `api-version: 5.0.0`.

requests.jsonl: one JSON object per request, written when the request
arrives (before it is answered):
    {"seq": 1, "time": 1700000000.1, "method": "PUT", "path": "/instance",
     "query": {"most_recent": "10"}, "headers": {"api-version": "5.0.0", ...},
     "body": <parsed JSON or null>, "body_text": <raw text when not JSON, else null>,
     "body_size": 1234}
  Header names are lower case.  Bodies over 1 MiB are not stored (body null,
  body_size given).  Requests to /__fake/ are not recorded.
responses.jsonl: {"seq": 1, "status": 201, "body": <JSON or null>} when the
  answer is sent (101 for a websocket upgrade).

Fault injection and inspection (no api-version needed; never recorded):
    GET  /__fake/state                 internal state (VM, queue, delays, faults;
                                       vm.published: every [gen, state] published)
    POST /__fake/fail   {"method": "PUT", "path": "/instance/state", "status": 500,
                         "error_code": "X", "message": "Y", "count": 1}
         the next COUNT matching requests get that dropshot-shaped error
         (method/path "*" match anything; count -1 = forever)
    POST /__fake/hang   {"method": "GET", "path": "/instance", "seconds": 5, "count": 1}
         matching requests wait SECONDS (null = until shutdown) then are handled
    POST /__fake/drop   {"method": ..., "path": ..., "count": 1}
         matching requests get no answer: the connection is closed
    POST /__fake/fail-init  {"message": "..."}   the next VM creation fails
         (PUT /instance -> 500, state Failed)
    POST /__fake/fail-start {}                   the next Run fails (state Failed)
    POST /__fake/fail-instance {}                the running VM goes Failed now
    POST /__fake/guest  {"action": "halt"|"reboot"|"triple-fault"}
         guest-initiated events (halt: Stopping, Stopped, Destroyed)
    POST /__fake/serial/output {"text": "..."} or {"base64": "..."}
         the guest writes these bytes to com1
    GET  /__fake/serial/input          what the guest received: {"base64", "text"}
    POST /__fake/serial/close {"code": 1011, "reason": "..."}  closes websockets
    POST /__fake/serial/ping {"payload": "x"}  pings every websocket client
    POST /__fake/delays {"start": 1.0, ...}    changes delays (create, start,
         stop, reboot, rundown, monitor_timeout)
    POST /__fake/reset                 forget the VM and all faults
    POST /__fake/shutdown              exit (as SIGTERM)

The fake guest: when the VM runs it prints a boot banner and
"<name> login: " to com1; it echoes every byte it receives; a line (ended by
CR or LF) is answered with "fake-guest: got '<line>'" and a new prompt; the
lines "poweroff" and "reboot" act like the guest asking the chipset to halt or
reset.

Behaviour of the real server this fake reproduces
-------------------------------------------------
Confirmed from source (oxidecomputer/propolis unless noted):
* API version (dropshot/src/versioning.rs ClientSpecifiesVersionInHeader,
  propolis bin/propolis-server/src/main.rs uses it with header
  "api-version"): missing header -> 400 `missing expected header "api-version"`;
  unparsable -> 400 `bad value for header "api-version": <err>: <value>`;
  newer than the server -> 400 `server does not support this API version: V`.
  Checked before routing, on every endpoint (also the websocket).
* Error bodies (dropshot/src/error.rs): {"request_id", "error_code"
  (omitted when none), "message"}, header x-request-id.  500s from
  for_internal_error say error_code "Internal", message "Internal Server
  Error" (the detail stays in the server log).  for_client_error_with_status
  puts its text in error_code and the status's reason phrase in message.
* Body limit (main.rs default_request_body_max_bytes = 1 MiB;
  dropshot extractor/body.rs): 400 `request body exceeded maximum size of
  1048576 bytes`; bad JSON -> 400 `unable to parse JSON body: <serde error>`.
* PUT /instance (bin/propolis-server/src/lib/server.rs, vm/mod.rs ensure):
  201 {"migrate": null}.  While a VM is initializing, active or running down
  -> 409 error_code "AlreadyInitialized", message "instance already
  initialized" -- also for an identical request (the current server is not
  idempotent here; the old one compared properties).  After the previous VM
  has been destroyed a new ensure creates a new VM (gen restarts at 1).
  Spec conversion errors (spec/api_spec_v6.rs latest_api_spec_to_spec_builder,
  spec/builder.rs) -> 400 `failed to generate internal instance spec: <e>`:
    storage backend B not found for device D / network backend B not found
    for device D / backend B not used by any device / a component with name
    N already exists / a PCI device is already attached at PciPath {..} /
    serial port ComN is already specified / pvpanic device already specified /
    vsock device already specified / boot option X is not an attached device /
    support for component X compiled out via falcon|failure-injection.
  A backend used by two devices is "not found" for the second (the first
  consumed it).  Components are visited in key order (uuid keys first).
  Initialization failures (VmError::InitializationFailed) -> 500 Internal and
  the instance ends Failed; among them more than 32 (VM_MAXCPU) or 0 vCPUs
  (build_instance "failed to set max cpus"), in both modes.
* Instance states (vm/state_driver.rs, vm/request_queue.rs): a new VM
  publishes Creating gen 1; Run -> Starting (+1), Running (+1); Reboot -> Rebooting,
  Running; Stop -> Stopping, Stopped, and when rundown completes Destroyed;
  a failed start -> Failed (final state Failed).  Queue dispositions: Run
  while a stop is pending -> 403 "Instance is preparing to stop"; Run again
  -> 204 ignored; Reboot before start -> 403 "Operation requires an active
  instance"; Reboot while starting -> 403 "Instance is currently starting";
  second Reboot/Stop while pending -> 204 ignored; Stop before Run is allowed.
  403s look like {"error_code": "instance state change not allowed: <reason>",
  "message": "Forbidden"}.
* No active VM (never created, initializing, running down, destroyed, failed):
  PUT /instance/state, serial, serial history, nmi, migration start -> 424
  error_code "NoInstance", message "Server not initialized (no instance)".
  GET /instance, /instance/spec, /instance/state-monitor and
  /instance/migration-status answer 424 only before the first ensure; later
  they describe the last VM (e.g. state Destroyed).
* GET /instance/state-monitor {"gen": N}: answers as soon as the current
  generation >= N (so gen 0 or 1 answers at once); otherwise waits (no
  timeout in the real server).  If the VM's state publisher is gone
  (destroyed/failed and run down) and N was never reached -> 410
  error_code "NoInstance", "No instance present; will never reach generation N".
* Serial (server.rs instance_serial, serial/mod.rs, serial/history_buffer.rs):
  websocket; replays history first when exactly one of from_start/most_recent
  is given (none or both: no replay), as binary frames; output as binary
  frames; client binary frames go to the UART, text frames are ignored; when
  the VM stops the server closes with 1001 "VM stopped".  History: keeps the
  first and the most recent 1 MiB; default max_bytes 16 KiB; exactly one of
  from_start/most_recent else 400 "Exactly one of 'from_start' or
  'most_recent' must be specified."; an expired range -> 400 "Requested byte
  offset ... is no longer cached: ...".  from_start past the end -> empty data.
* Crucible endpoints on a VM without Crucible backends -> 404 with
  error_code "No crucible backend for id X" / "no disk with id X!", message
  "Not Found".  POST /instance/nmi -> 200 null.

Guessed (not confirmed from source) -- change here if the real server differs:
* A spec without a com1 serial port: the real initializer unwraps com1 (an
  older initializer.rs shows `com1.unwrap()`), so the server cannot work;
  the fake answers 500 Internal and marks the instance Failed.
* file_storage_backend paths that do not exist and invalid base64 blobs fail
  initialization (500 Internal, Failed), as opening them would.
* PciPath device > 31 or function > 7 -> 400 "unable to parse JSON body".
* serde error texts are imitated without "at line L column C".
* Unknown path -> 404 "Not Found"; wrong method -> 405 "Method Not Allowed";
  GET /instance/serial without websocket headers -> 400.
* Live migration is not emulated: MigrationTarget ensure fails initialization
  (500, Failed); GET /instance/migrate/{id}/start -> 424 without a VM,
  otherwise 501 (fake-specific).
* api-version lower than --api-version would be routed by the real server to
  older handlers with other body shapes; the fake answers 400
  "fake propolis-server only implements API version 5.0.0".
* /__fake/* and the --monitor-timeout option are fake-only.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import errno
import hashlib
import http.server
import ipaddress
import json
import logging
import os
import re
import resource
import shlex
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

LOG = logging.getLogger("fake-propolis")
HERE = os.path.dirname(os.path.abspath(__file__))
BODY_MAX = 1024 * 1024
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def websocket_accept(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
HISTORY_DEFAULT_MAX = 16 * 1024


# --------------------------------------------------------------------------
# Errors in dropshot's shape


class HttpError(Exception):
    def __init__(self, status, message, error_code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code


def bad_request(message):
    return HttpError(400, message)


def internal_error(detail):
    LOG.warning("internal error: %s", detail)
    return HttpError(500, "Internal Server Error", "Internal")


def not_created_error():
    return HttpError(424, "Server not initialized (no instance)", "NoInstance")


def forbidden_state_change(reason):
    return HttpError(403, "Forbidden", "instance state change not allowed: " + reason)


# --------------------------------------------------------------------------
# OpenAPI 3 subset validator with serde-like messages


class SchemaError(Exception):
    def __init__(self, path, message):
        super().__init__(message)
        self.path = path
        self.message = message

    def text(self):
        return f"{self.path}: {self.message}" if self.path else self.message


def _json_repr(v):
    if isinstance(v, bool):
        return f"boolean `{str(v).lower()}`"
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{v}`"
    if isinstance(v, str):
        return f"string {json.dumps(v)}"
    if v is None:
        return "null"
    if isinstance(v, list):
        return "sequence"
    return "map"


INT_FORMATS = {
    "uint8": (0, 2**8 - 1, "u8"), "uint16": (0, 2**16 - 1, "u16"),
    "uint32": (0, 2**32 - 1, "u32"), "uint64": (0, 2**64 - 1, "u64"),
    "uint": (0, 2**64 - 1, "usize"), "int8": (-2**7, 2**7 - 1, "i8"),
    "int16": (-2**15, 2**15 - 1, "i16"), "int32": (-2**31, 2**31 - 1, "i32"),
    "int64": (-2**63, 2**63 - 1, "i64"),
}
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


class Validator:
    def __init__(self, document):
        self.doc = document
        self.schemas = document["components"]["schemas"]

    def resolve(self, schema):
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/components/schemas/"):
                raise ValueError("unsupported $ref " + ref)
            schema = self.schemas[ref.rsplit("/", 1)[1]]
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop")
        return schema

    def validate(self, name, value):
        self._v(self.schemas[name], value, "")

    @staticmethod
    def _join(path, key):
        return f"{path}.{key}" if path else str(key)

    def _expected(self, schema):
        s = self.resolve(schema)
        fmt = s.get("format")
        if s.get("type") == "integer" and fmt in INT_FORMATS:
            return INT_FORMATS[fmt][2]
        if s.get("type") == "string" and fmt == "uuid":
            return "a UUID string"
        if s.get("type") == "string":
            return "a string"
        if s.get("type") == "boolean":
            return "a boolean"
        if s.get("type") == "array":
            return "a sequence"
        if "oneOf" in s or s.get("type") == "object":
            return "struct " + s.get("title", "") if s.get("title") else "a map"
        return "a value"

    def _v(self, schema, value, path):
        schema = self.resolve(schema)
        if value is None:
            if schema.get("nullable"):
                return
            if "enum" in schema and None in schema["enum"]:
                return
            raise SchemaError(path, f"invalid type: null, expected {self._expected(schema)}")
        if "allOf" in schema:
            for sub in schema["allOf"]:
                self._v(sub, value, path)
        if "oneOf" in schema:
            self._one_of(schema["oneOf"], value, path)
        t = schema.get("type")
        if t == "object":
            self._object(schema, value, path)
        elif t == "array":
            if not isinstance(value, list):
                raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected a sequence")
            n = len(value)
            if "minItems" in schema and n < schema["minItems"] or "maxItems" in schema and n > schema["maxItems"]:
                want = schema.get("minItems", schema.get("maxItems"))
                raise SchemaError(path, f"invalid length {n}, expected an array of length {want}")
            for i, item in enumerate(value):
                self._v(schema.get("items", {}), item, f"{path}[{i}]")
            if schema.get("uniqueItems"):
                dumped = [json.dumps(x, sort_keys=True) for x in value]
                if len(set(dumped)) != len(dumped):
                    raise SchemaError(path, "invalid value: duplicate items, expected unique items")
        elif t == "string":
            if not isinstance(value, str):
                raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected {self._expected(schema)}")
            if schema.get("format") == "uuid" and not UUID_RE.match(value):
                raise SchemaError(path, f"UUID parsing failed: invalid UUID {json.dumps(value)}")
        elif t == "integer":
            fmt = schema.get("format")
            lo, hi, rust = INT_FORMATS.get(fmt, (-2**63, 2**64 - 1, "integer"))
            if isinstance(value, bool) or not isinstance(value, int):
                raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected {rust}")
            minimum = schema.get("minimum", lo)
            if value < max(lo, minimum) or value > hi:
                raise SchemaError(path, f"invalid value: integer `{value}`, expected {rust}")
        elif t == "boolean":
            if not isinstance(value, bool):
                raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected a boolean")
        elif t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected f64")
        if "enum" in schema and value not in schema["enum"]:
            variants = ", ".join(f"`{e}`" for e in schema["enum"] if e is not None)
            raise SchemaError(path, f"unknown variant `{value}`, expected one of {variants}")

    def _object(self, schema, value, path):
        if not isinstance(value, dict):
            raise SchemaError(path, f"invalid type: {_json_repr(value)}, expected {self._expected(schema)}")
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties", True)
        if addl is False:
            for key in value:
                if key not in props:
                    names = ", ".join(f"`{k}`" for k in props)
                    raise SchemaError(path, f"unknown field `{key}`, expected one of {names}")
        for req in schema.get("required", []):
            if req not in value:
                raise SchemaError(path, f"missing field `{req}`")
        for key, sub in props.items():
            if key in value:
                self._v(sub, value[key], self._join(path, key))
        if isinstance(addl, dict):
            for key, item in value.items():
                if key not in props:
                    self._v(addl, item, self._join(path, key))

    def _tag_of(self, variant):
        v = self.resolve(variant)
        for key, sub in v.get("properties", {}).items():
            sub = self.resolve(sub)
            if sub.get("type") == "string" and len(sub.get("enum", [])) == 1 and key in v.get("required", []):
                return key, sub["enum"][0]
        return None

    def _one_of(self, variants, value, path):
        tags = [self._tag_of(v) for v in variants]
        if all(tags) and len({k for k, _ in tags}) == 1 and isinstance(value, dict):
            key = tags[0][0]
            if key not in value:
                raise SchemaError(path, f"missing field `{key}`")
            for (k, name), variant in zip(tags, variants):
                if value[key] == name:
                    self._v(variant, value, path)
                    return
            names = ", ".join(f"`{n}`" for _, n in tags)
            raise SchemaError(self._join(path, key), f"unknown variant `{value[key]}`, expected one of {names}")
        errors = []
        for variant in variants:  # untagged: the first that fits wins (serde)
            try:
                self._v(variant, value, path)
                return
            except SchemaError as e:
                errors.append(e)
        if len(errors) == 1:
            raise errors[0]
        raise SchemaError(path, "data did not match any variant of untagged enum")


# --------------------------------------------------------------------------
# Spec semantics (spec/api_spec_v6.rs, spec/builder.rs)

STORAGE_BACKENDS = {"crucible_storage_backend", "file_storage_backend", "blob_storage_backend"}
DISKS = {"virtio_disk", "nvme_disk"}


def spec_key_order(key):
    return (0, str(uuid.UUID(key))) if UUID_RE.match(key) else (1, key)


def pci_debug(p):
    return f"PciPath {{ bus: {p['bus']}, device: {p['device']}, function: {p['function']} }}"


def check_spec(spec):
    """Returns None or the spec conversion error text."""
    components = spec["components"]
    storage, viona, dlpi, devices = {}, {}, {}, []
    for key in sorted(components, key=spec_key_order):
        comp = components[key]
        kind = comp["type"]
        if kind in STORAGE_BACKENDS:
            storage[key] = comp
        elif kind == "virtio_network_backend":
            viona[key] = comp
        elif kind == "dlpi_network_backend":
            dlpi[key] = comp
        else:
            devices.append((key, comp))
    names, pci, serial = set(), set(), set()
    pvpanic = vsock = False
    disks, boot = set(), None

    def register_pci(path):
        t = (path["bus"], path["device"], path["function"])
        if t in pci:
            raise ValueError("a PCI device is already attached at " + pci_debug(path))
        pci.add(t)

    try:
        for key, comp in devices:
            kind, c = comp["type"], comp["component"]
            if kind in DISKS or kind == "virtio_nic":
                pool = storage if kind in DISKS else viona
                backend = c["backend_id"]
                if backend not in pool:
                    what = "storage" if kind in DISKS else "network"
                    raise ValueError(f"{what} backend {backend} not found for device {key}")
                del pool[backend]
                if key == backend:
                    raise ValueError(f"device {key} has the same name as its backend")
                for n in (key, backend):
                    if n in names:
                        raise ValueError(f"a component with name {n} already exists")
                register_pci(c["pci_path"])
                names.update((key, backend))
                if kind in DISKS:
                    disks.add(key)
            elif kind == "serial_port":
                if key in names:
                    raise ValueError(f"a component with name {key} already exists")
                num = c["num"]
                if num in serial:
                    raise ValueError(f"serial port {num.capitalize()} is already specified")
                serial.add(num)
                names.add(key)
            elif kind == "pci_pci_bridge":
                if key in names:
                    raise ValueError(f"a component with name {key} already exists")
                register_pci(c["pci_path"])
                names.add(key)
            elif kind == "qemu_pvpanic":
                if key in names:
                    raise ValueError(f"a component with name {key} already exists")
                if pvpanic:
                    raise ValueError("pvpanic device already specified")
                pvpanic = True
                names.add(key)
            elif kind == "virtio_socket":
                if key in names:
                    raise ValueError(f"a component with name {key} already exists")
                if vsock:
                    raise ValueError("vsock device already specified")
                register_pci(c["pci_path"])
                vsock = True
                names.add(key)
            elif kind == "boot_settings":
                boot = (key, c)
            elif kind == "migration_failure_injector":
                raise ValueError(f"support for component {key} compiled out via failure-injection")
            else:  # soft_npu_*, p9fs
                raise ValueError(f"support for component {key} compiled out via falcon")
        if boot is not None:
            key, c = boot
            if key in names:
                raise ValueError(f"a component with name {key} already exists")
            for entry in c["order"]:
                if entry["id"] not in disks:
                    raise ValueError(f"boot option {entry['id']} is not an attached device")
        for pool in (storage, viona, dlpi):
            if pool:
                raise ValueError(f"backend {sorted(pool, key=spec_key_order)[0]} not used by any device")
    except ValueError as e:
        return str(e)
    return None


def check_pci_paths(value, path=""):
    """PciPath deserialization rejects device > 31 and function > 7."""
    if isinstance(value, dict):
        if set(value) == {"bus", "device", "function"} and all(isinstance(value[k], int) for k in value):
            if value["device"] > 31 or value["function"] > 7:
                raise SchemaError(path, f"invalid PCI path {value['bus']}.{value['device']}.{value['function']}")
        for k, v in value.items():
            check_pci_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_pci_paths(v, f"{path}[{i}]")


# bhyve-api/sys/src/lib.rs VM_MAXCPU, used as lib/propolis/src/vcpu.rs MAXCPU
# by every build but `omicron-build` (254, for Helios' expanded limit).
VM_MAXCPU = 32


def init_problems(spec, check_paths, sim=None):
    """Problems the real server would only hit while creating VM objects, in
    the order ensure.rs initialize_vm_objects meets them: build_instance (the
    vCPU limit), the bootrom, com1, the NICs, then the disks.  `sim` (a RunSim,
    `run` mode only) adds the checks that need the zone: bootrom and NICs."""
    cpus = spec["board"]["cpus"]
    if cpus == 0 or cpus > VM_MAXCPU:
        # vmm/machine.rs Builder::max_cpus: "maxcpu out of range", under
        # initializer.rs build_instance's context "failed to set max cpus";
        # ensure.rs fails the instance and the client gets a 500.
        return "failed to set max cpus"
    if sim is not None:
        problem = sim.bootrom_problem()
        if problem:
            return problem
    comps = spec["components"]
    if not any(c["type"] == "serial_port" and c["component"]["num"] == "com1" for c in comps.values()):
        return "no com1 serial port in the instance spec"
    if sim is not None:
        for key, c in sorted(comps.items(), key=lambda kv: spec_key_order(kv[0])):
            if c["type"] == "virtio_nic":
                backend = comps[c["component"]["backend_id"]]["component"]
                problem = sim.viona_problem(key, backend["vnic_name"])
                if problem:
                    return problem
    for key, c in comps.items():
        if c["type"] == "file_storage_backend" and check_paths and \
                not os.path.exists(sim.path(c["component"]["path"]) if sim else c["component"]["path"]):
            return f"failed to open {c['component']['path']}: No such file or directory (os error 2)"
        if c["type"] == "blob_storage_backend":
            try:
                base64.b64decode(c["component"]["base64"], validate=True)
            except (binascii.Error, ValueError) as e:
                return f"blob backend {key}: invalid base64: {e}"
    return None


# --------------------------------------------------------------------------
# Serial history (serial/history_buffer.rs)


class HistoryBuffer:
    def __init__(self, size):
        self.size = size
        self.beginning = bytearray()
        self.rolling = collections.deque()
        self.total = 0

    def consume(self, data):
        self.rolling.extend(data)
        if len(self.rolling) > self.size:
            drain = len(self.rolling) - self.size
            capture = self.size - len(self.beginning)
            drained = bytes(self.rolling.popleft() for _ in range(drain))
            self.beginning.extend(drained[:max(0, capture)])
        self.total += len(data)

    def contents(self, kind, offset, max_bytes):
        if kind == "from_start":
            start, from_end = (offset, self.total - offset) if self.total > offset else (self.total, 0)
        else:
            start, from_end = (self.total - offset, offset) if self.total > offset else (0, self.total)
        if self.total == len(self.rolling) + len(self.beginning):
            data = (bytes(self.beginning) + bytes(self.rolling))[start:]
        elif start < len(self.beginning):
            data = bytes(self.beginning[start:])
        elif from_end <= len(self.rolling):
            data = bytes(self.rolling)[len(self.rolling) - from_end:]
        else:
            raise bad_request(
                f"Requested byte offset {start} (-{from_end}) is no longer cached: Only have first "
                f"{len(self.beginning)} + most recent {len(self.rolling)} saved out of a total "
                f"{self.total} of output")
        data = data[:HISTORY_DEFAULT_MAX if max_bytes is None else max_bytes]
        return data, start + len(data)


# --------------------------------------------------------------------------
# Websocket (RFC 6455, server side)


class WsClosed(Exception):
    pass


class WebSocket:
    def __init__(self, sock, rfile):
        self.sock = sock
        self.rfile = rfile
        self.wlock = threading.Lock()
        self.closed = False
        self.close_sent = False

    def _send(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(n)
        elif n < 65536:
            header.append(126)
            header += n.to_bytes(2, "big")
        else:
            header.append(127)
            header += n.to_bytes(8, "big")
        with self.wlock:
            if self.close_sent:
                raise WsClosed()
            self.sock.sendall(bytes(header) + payload)
            if opcode == 8:
                self.close_sent = True

    def send_binary(self, data):
        self._send(2, bytes(data))

    def send_text(self, text):
        self._send(1, text.encode())

    def ping(self, payload=b""):
        self._send(9, payload)

    def close(self, code=1000, reason=""):
        try:
            self._send(8, code.to_bytes(2, "big") + reason.encode())
        except (OSError, WsClosed):
            pass

    def _read_exact(self, n):
        data = self.rfile.read(n)
        if data is None or len(data) < n:
            raise WsClosed()
        return data

    def read_frame(self):
        b1, b2 = self._read_exact(2)
        fin, rsv, opcode = b1 & 0x80, b1 & 0x70, b1 & 0x0F
        masked, n = b2 & 0x80, b2 & 0x7F
        if n == 126:
            n = int.from_bytes(self._read_exact(2), "big")
        elif n == 127:
            n = int.from_bytes(self._read_exact(8), "big")
        mask = self._read_exact(4) if masked else None
        payload = bytearray(self._read_exact(n)) if n else bytearray()
        if mask:
            for i in range(len(payload)):
                payload[i] ^= mask[i % 4]
        if rsv:
            raise ProtocolError("reserved bits set")
        if not masked:
            raise ProtocolError("client frames must be masked")
        if opcode >= 8 and (not fin or n > 125):
            raise ProtocolError("bad control frame")
        return bool(fin), opcode, bytes(payload)


class ProtocolError(Exception):
    pass


# --------------------------------------------------------------------------
# The VM


class Vm:
    """One VM and its state driver (vm/mod.rs, vm/state_driver.rs)."""

    def __init__(self, server, properties, spec, body):
        self.server = server
        self.properties = properties
        self.spec = spec
        self.body = body
        self.phase = "init"  # init | active | rundown | complete
        self.state = "Creating"
        self.gen = 1
        self.published = [[1, "Creating"]]  # every (gen, state) published, for tests
        self.publisher_open = True
        self.cond = threading.Condition(server.lock)
        self.queue_state = "not_started"  # not_started start_pending running stopped failed
        self.awaiting_stop = False
        self.awaiting_reboot = False
        self.events = collections.deque()  # external requests
        self.guest_events = collections.deque()
        self.history = HistoryBuffer(server.args.serial_buffer_size)
        self.serial_clients = []
        self.guest_input = bytearray()
        self.line = bytearray()
        self.driver = None
        self.guest_name = server.args.guest_name or properties.get("name") or "guest"

    # -- called with server.lock held --
    def publish(self, state):
        self.gen += 1
        self.state = state
        self.published.append([self.gen, state])
        LOG.info("instance state %s gen %d", state, self.gen)
        self.cond.notify_all()

    def monitor_response(self):
        return {"gen": self.gen, "state": self.state,
                "migration": {"migration_in": None, "migration_out": None}}

    def put_state(self, requested):
        if self.phase != "active":
            raise not_created_error()
        deny = {"stopped": "Instance has already halted",
                "failed": "Instance failed to start or halted due to a failure"}.get(self.queue_state)
        if deny:
            if requested == "Stop":
                return
            raise forbidden_state_change(deny)
        if requested == "Run":
            if self.awaiting_stop:
                raise forbidden_state_change("Instance is preparing to stop")
            if self.queue_state != "not_started":
                return
            self.queue_state = "start_pending"
        elif requested == "Reboot":
            if self.awaiting_stop:
                raise forbidden_state_change("Instance is preparing to stop")
            if self.queue_state == "not_started":
                raise forbidden_state_change("Operation requires an active instance")
            if self.queue_state == "start_pending":
                raise forbidden_state_change("Instance is currently starting")
            if self.awaiting_reboot:
                return
            self.awaiting_reboot = True
        elif requested == "Stop":
            if self.awaiting_stop:
                return
            self.awaiting_stop = True
        self.events.append(requested)
        self.cond.notify_all()

    def guest_event(self, event):
        if self.phase != "active":
            raise not_created_error()
        self.guest_events.append(event)
        self.cond.notify_all()

    # -- driver thread --
    def start_driver(self):
        self.driver = threading.Thread(target=self._drive, name="vm-driver", daemon=True)
        self.driver.start()

    def _sleep(self, seconds):
        if seconds > 0:
            self.server.stopping.wait(seconds)

    def _drive(self):
        final = "Destroyed"
        srv = self.server
        while not srv.stopping.is_set():
            with srv.lock:
                while not self.events and not self.guest_events and not srv.stopping.is_set() \
                        and not self._fail_now() and self.phase == "active":
                    self.cond.wait(0.5)
                if srv.stopping.is_set() or self.phase != "active":
                    return
                if self._fail_now():
                    srv.faults["fail_instance"] = False
                    self.queue_state = "failed"
                    self.publish("Failed")
                    final = "Failed"
                    break
                event = self.guest_events.popleft() if self.guest_events else self.events.popleft()
            if event == "Run":
                # state_driver.rs start_vm publishes Starting on an explicit
                # Run; --no-publish-starting imitates older servers.
                if not srv.args.no_publish_starting:
                    with srv.lock:
                        self.publish("Starting")
                self._sleep(srv.delays["start"])
                with srv.lock:
                    if srv.faults.get("fail_start"):
                        srv.faults["fail_start"] = False
                        self.queue_state = "failed"
                        self.publish("Failed")
                        final = "Failed"
                        break
                    self.queue_state = "running"
                    self.publish("Running")
                self.guest_boot()
            elif event in ("Reboot", "guest-reboot", "triple-fault"):
                with srv.lock:
                    self.publish("Rebooting")
                self._sleep(srv.delays["reboot"])
                with srv.lock:
                    self.awaiting_reboot = False
                    self.publish("Running")
                self.guest_boot()
            elif event in ("Stop", "guest-halt"):
                with srv.lock:
                    self.publish("Stopping")
                self._sleep(srv.delays["stop"])
                with srv.lock:
                    self.awaiting_stop = False
                    self.queue_state = "stopped"
                    self.publish("Stopped")
                final = "Destroyed"
                break
        self._rundown(final)

    def _fail_now(self):
        return bool(self.server.faults.get("fail_instance")) and self.server.vm is self

    def _rundown(self, final):
        srv = self.server
        with srv.lock:
            self.phase = "rundown"
            clients = list(self.serial_clients)
            self.serial_clients.clear()
        for ws in clients:
            ws.close(1001, "VM stopped")
        self._sleep(srv.delays["rundown"])
        with srv.lock:
            self.phase = "complete"
            if final != self.state:
                self.publish(final)
            self.publisher_open = False
            self.cond.notify_all()

    # -- fake guest --
    def guest_output(self, data):
        data = bytes(data)
        with self.server.lock:
            self.history.consume(data)
            clients = list(self.serial_clients)
        for ws in clients:
            try:
                ws.send_binary(data)
            except (OSError, WsClosed):
                with self.server.lock:
                    if ws in self.serial_clients:
                        self.serial_clients.remove(ws)

    def guest_boot(self):
        n = self.guest_name
        self.guest_output(
            f"fake-propolis: {n}: firmware start\r\n[    0.000000] Linux version 6.1.0-fake\r\n"
            f"\r\nDebian GNU/Linux 12 {n} ttyS0\r\n\r\n{n} login: ".encode())

    def guest_input_bytes(self, data):
        out = bytearray()
        action = None
        with self.server.lock:
            self.guest_input += data
        for b in data:
            if b in (0x0D, 0x0A):
                line = self.line.decode(errors="replace")
                self.line.clear()
                out += b"\r\n"
                if line == "poweroff":
                    out += b"fake-guest: powering off\r\n"
                    action = "guest-halt"
                elif line == "reboot":
                    out += b"fake-guest: rebooting\r\n"
                    action = "guest-reboot"
                elif line:
                    out += f"fake-guest: got '{line}'\r\n{self.guest_name} login: ".encode()
                else:
                    out += f"{self.guest_name} login: ".encode()
            else:
                self.line.append(b)
                out.append(b)
        self.guest_output(out)
        if action:
            with self.server.lock:
                if self.phase == "active":
                    self.guest_events.append(action)
                    self.cond.notify_all()


# --------------------------------------------------------------------------
# The server


def parse_spec(text):
    """METHOD:PATH[:...]"""
    parts = text.split(":")
    if len(parts) < 2:
        raise argparse.ArgumentTypeError("expected METHOD:PATH[:...]")
    return parts


class FakeServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, args, validator):
        self.args = args
        self.validator = validator
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.vm = None
        self.seq = 0
        self.log_lock = threading.Lock()
        self.delays = {"create": args.create_delay, "start": args.start_delay,
                       "stop": args.stop_delay, "reboot": args.reboot_delay,
                       "rundown": args.rundown_delay, "monitor_timeout": args.monitor_timeout}
        self.faults = {}
        self.rules = []  # dicts: kind, method, path, count, status/seconds...
        self.pongs = 0
        for spec in args.fail or []:
            p = parse_spec(spec)
            self.rules.append({"kind": "fail", "method": p[0], "path": p[1],
                               "status": int(p[2]) if len(p) > 2 else 500,
                               "count": int(p[3]) if len(p) > 3 else 1})
        for spec in args.hang or []:
            p = parse_spec(spec)
            self.rules.append({"kind": "hang", "method": p[0], "path": p[1],
                               "seconds": float(p[2]) if len(p) > 2 and p[2] else None,
                               "count": int(p[3]) if len(p) > 3 else 1})
        # Standalone: 127.0.0.1 and --port.  `run`: the address of its argv.
        listen = getattr(args, "listen", None) or ("127.0.0.1", args.port)
        if ":" in listen[0]:
            self.address_family = socket.AF_INET6
        self.sim = getattr(args, "sim", None)  # RunSim in `run` mode, else None
        super().__init__(listen, Handler)

    def record(self, name, obj):
        if not self.args.state_dir:
            return
        with self.log_lock, open(os.path.join(self.args.state_dir, name), "a", encoding="utf-8") as f:
            f.write(json.dumps(obj, sort_keys=True) + "\n")

    def next_seq(self):
        with self.log_lock:
            self.seq += 1
            return self.seq

    def take_rule(self, method, path):
        with self.lock:
            for rule in self.rules:
                if rule["method"] in ("*", method) and rule["path"] in ("*", path):
                    if rule["count"] > 0:
                        rule["count"] -= 1
                        if rule["count"] == 0:
                            self.rules.remove(rule)
                    return dict(rule)
        return None

    def shutdown_all(self):
        if self.stopping.is_set():
            return
        self.stopping.set()
        with self.lock:
            vm = self.vm
            clients = list(vm.serial_clients) if vm else []
            if vm:
                vm.cond.notify_all()
        for ws in clients:
            ws.close(1001, "server shutting down")
        threading.Thread(target=self.shutdown, daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, fmt, *args):
        LOG.debug("%s " + fmt, self.address_string(), *args)

    # ---- plumbing ----
    def _read_body(self):
        """Returns (bytes or None if over the limit, size)."""
        te = self.headers.get("Transfer-Encoding", "").lower()
        chunks, size, over = [], 0, False
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(n)
                self.rfile.readline(3)
                size += len(data)
                if size > BODY_MAX:
                    over = True
                elif not over:
                    chunks.append(data)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self.rfile.read(min(remaining, 65536))
                if not data:
                    break
                remaining -= len(data)
                size += len(data)
                if size > BODY_MAX:
                    over = True
                elif not over:
                    chunks.append(data)
        return (None if over else b"".join(chunks)), size

    def _send_json(self, status, obj, extra_headers=None):
        body = b"" if obj is None and status == 204 else json.dumps(obj).encode()
        self._send_raw(status, body, "application/json", extra_headers, obj)

    def _send_raw(self, status, body, ctype, extra_headers=None, logged=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", self.request_id)
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if self.seq is not None:
            self.server.record("responses.jsonl", {"seq": self.seq, "status": status, "body": logged})

    def _send_error(self, err):
        obj = {"request_id": self.request_id}
        if err.error_code is not None:
            obj["error_code"] = err.error_code
        obj["message"] = err.message
        body = json.dumps(obj, indent=2).encode()
        self._send_raw(err.status, body, "application/json", None, obj)

    def do_GET(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    def _dispatch(self):
        self.request_id = str(uuid.uuid4())
        self.seq = None
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        raw, size = self._read_body()
        if path.startswith("/__fake/"):
            try:
                self._control(path, raw)
            except HttpError as e:
                self._send_error(e)
            return
        self.seq = self.server.next_seq()
        body_json, body_text = None, None
        if raw:
            try:
                body_json = json.loads(raw)
            except ValueError:
                body_text = raw.decode("utf-8", errors="replace")
        self.server.record("requests.jsonl", {
            "seq": self.seq, "time": time.time(), "method": self.command, "path": path,
            "query": query, "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body_json, "body_text": body_text, "body_size": size})
        rule = self.server.take_rule(self.command, path)
        if rule and rule["kind"] == "hang":
            if rule.get("seconds") is None:
                self.server.stopping.wait()
            else:
                self.server.stopping.wait(rule["seconds"])
            if self.server.stopping.is_set():
                self.close_connection = True
                return
        if rule and rule["kind"] == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            if rule and rule["kind"] == "fail":
                raise HttpError(rule["status"], rule.get("message") or
                                http.HTTPStatus(rule["status"]).phrase, rule.get("error_code"))
            self._check_version()
            self._route(path, query, raw)
        except HttpError as e:
            self._send_error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _check_version(self):
        want = self.server.args.api_version
        value = self.headers.get("api-version")
        if value is None:
            raise bad_request('missing expected header "api-version"')
        m = re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?",
                         value)
        if not m:
            raise bad_request(f'bad value for header "api-version": unexpected character while '
                              f'parsing version: {value}')
        got = tuple(int(x) for x in m.groups())
        max_v = tuple(int(x) for x in want.split("."))
        if got > max_v:
            raise bad_request(f"server does not support this API version: {value}")
        if got != max_v:
            raise bad_request(f"fake propolis-server only implements API version {want}")

    def _json_body(self, raw, schema):
        if raw is None:
            raise bad_request(f"request body exceeded maximum size of {BODY_MAX} bytes")
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise bad_request(f'expected content type "application/json", got "{ctype}"')
        if not raw.strip():
            raise bad_request("unable to parse JSON body: EOF while parsing a value at line 1 column 0")
        try:
            value = json.loads(raw)
        except ValueError as e:
            raise bad_request(f"unable to parse JSON body: {e}")
        try:
            self.server.validator.validate(schema, value)
            check_pci_paths(value)
        except SchemaError as e:
            raise bad_request(f"unable to parse JSON body: {e.text()}")
        return value

    # ---- API ----
    def _route(self, path, query, raw):
        routes = [
            (r"/instance", {"GET": self.instance_get, "PUT": self.instance_ensure}),
            (r"/instance/spec", {"GET": self.instance_spec_get}),
            (r"/instance/state", {"PUT": self.instance_state_put}),
            (r"/instance/state-monitor", {"GET": self.instance_state_monitor}),
            (r"/instance/serial", {"GET": self.instance_serial}),
            (r"/instance/serial/history", {"GET": self.instance_serial_history}),
            (r"/instance/migration-status", {"GET": self.instance_migrate_status}),
            (r"/instance/migrate/(?P<id>[^/]+)/start", {"GET": self.instance_migrate_start}),
            (r"/instance/nmi", {"POST": self.instance_nmi}),
            (r"/instance/disk/(?P<id>[^/]+)/status", {"GET": self.disk_status}),
            (r"/instance/disk/(?P<id>[^/]+)/snapshot/(?P<snap>[^/]+)", {"POST": self.disk_snapshot}),
            (r"/instance/disk/(?P<id>[^/]+)/vcr", {"PUT": self.disk_vcr}),
        ]
        for pattern, methods in routes:
            m = re.fullmatch(pattern, path)
            if m:
                handler = methods.get(self.command)
                if handler is None:
                    raise HttpError(405, "Method Not Allowed")
                return handler(query=query, raw=raw, **{k: urllib.parse.unquote(v)
                                                       for k, v in m.groupdict().items()})
        raise HttpError(404, "Not Found")

    def _vm(self):
        vm = self.server.vm
        if vm is None:
            raise not_created_error()
        return vm

    def _active_vm(self):
        vm = self.server.vm
        if vm is None or vm.phase != "active":
            raise not_created_error()
        return vm

    def instance_ensure(self, query, raw):
        body = self._json_body(raw, "InstanceEnsureRequest")
        srv = self.server
        init = body["init"]
        if srv.sim is not None:
            # server.rs instance_ensure calls find_local_nexus_client first: an
            # IPv4 listen address only logs a warning; an IPv6 one looks Nexus
            # up in Oxide's internal DNS on every ensure.  How long that takes
            # off-rack was not measured: --ipv6-nexus-delay stands in for it.
            if srv.address_family == socket.AF_INET6:
                srv.stopping.wait(srv.args.ipv6_nexus_delay)
                LOG.warning("Failed to resolve Nexus endpoint")
            else:
                LOG.warning("Unable to determine Nexus endpoint for IPv4 addresses")
        # The spec is converted before the VM state machine is asked (server.rs).
        spec = init["value"]["spec"] if init["method"] == "Spec" else None
        if spec is not None:
            err = check_spec(spec)
            if err:
                raise bad_request("failed to generate internal instance spec: " + err)
        with srv.lock:
            if srv.vm is not None and srv.vm.phase != "complete":
                raise HttpError(409, "instance already initialized", "AlreadyInitialized")
            vm = Vm(srv, body["properties"], spec, body)
            if spec is None:
                vm.state = "Migrating"
                vm.published = [[1, "Migrating"]]
            srv.vm = vm
        if srv.delays["create"] > 0:
            srv.stopping.wait(srv.delays["create"])
        # Outside the lock: in `run` mode this runs dladm, and the real server
        # answers GET /instance (Creating) while it initializes.
        problem = init_problems(spec, not srv.args.no_check_paths, srv.sim) if spec else \
            "live migration is not emulated by the fake propolis-server"
        with srv.lock:
            if not problem and srv.faults.get("fail_init") is not None:
                problem = srv.faults.pop("fail_init") or "injected initialization failure"
            if problem:
                vm.publish("Failed")
                vm.phase = "complete"
                vm.publisher_open = False
                vm.cond.notify_all()
                raise internal_error("VM initialization failed: " + problem)
            vm.phase = "active"
        vm.start_driver()
        self._send_json(201, {"migrate": None})

    def instance_get(self, query, raw):
        with self.server.lock:
            vm = self._vm()
            obj = {"instance": {"properties": vm.properties, "state": vm.state}}
        self._send_json(200, obj)

    def instance_spec_get(self, query, raw):
        with self.server.lock:
            vm = self._vm()
            spec = {"type": "Present", "value": vm.spec} if vm.spec is not None else \
                {"type": "WaitingForMigrationSource"}
            obj = {"properties": vm.properties, "spec": spec, "state": vm.state}
        self._send_json(200, obj)

    def instance_state_put(self, query, raw):
        requested = self._json_body(raw, "InstanceStateRequested")
        with self.server.lock:
            self._active_vm().put_state(requested)
        self._send_json(204, None)

    def instance_state_monitor(self, query, raw):
        want = self._json_body(raw, "InstanceStateMonitorRequest")["gen"]
        srv = self.server
        timeout = srv.delays["monitor_timeout"]
        deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
        with srv.lock:
            vm = self._vm()
            while True:
                if want <= vm.gen:
                    obj = vm.monitor_response()
                    break
                if not vm.publisher_open:
                    raise HttpError(410, f"No instance present; will never reach generation {want}",
                                    "NoInstance")
                if srv.stopping.is_set():
                    self.close_connection = True
                    return
                if deadline is not None and time.monotonic() >= deadline:
                    obj = vm.monitor_response()
                    break
                vm.cond.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic())))
        self._send_json(200, obj)

    @staticmethod
    def _offset(query, for_history):
        def num(name):
            if name not in query or query[name] == "":
                return None
            try:
                v = int(query[name])
                if v < 0:
                    raise ValueError
                return v
            except ValueError:
                raise bad_request(f"unable to parse query string: {name}: invalid digit found in string")
        fs, mr, mb = num("from_start"), num("most_recent"), num("max_bytes") if for_history else None
        if (fs is None) == (mr is None):
            if for_history:
                raise bad_request("Exactly one of 'from_start' or 'most_recent' must be specified.")
            return None, mb
        return (("from_start", fs) if fs is not None else ("most_recent", mr)), mb

    def instance_serial_history(self, query, raw):
        with self.server.lock:
            vm = self._active_vm()
            offset, max_bytes = self._offset(query, True)
            data, end = vm.history.contents(offset[0], offset[1], max_bytes)
        self._send_json(200, {"data": list(data), "last_byte_offset": end})

    def instance_serial(self, query, raw):
        with self.server.lock:
            vm = self._active_vm()
        offset, _ = self._offset(query, False)
        h = self.headers
        if "websocket" not in h.get("Upgrade", "").lower() or \
                "upgrade" not in h.get("Connection", "").lower():
            raise bad_request("websocket upgrade: expected header \"upgrade: websocket\"")
        if h.get("Sec-WebSocket-Version") != "13":
            raise bad_request("websocket upgrade: unsupported sec-websocket-version")
        key = h.get("Sec-WebSocket-Key")
        if not key:
            raise bad_request("websocket upgrade: missing sec-websocket-key")
        accept = websocket_accept(key)
        self.close_connection = True
        ws = WebSocket(self.connection, self.rfile)
        # The answer, the replay and joining the live clients happen under the
        # lock: a client that has its 101 must see every byte written after it.
        with self.server.lock:
            self.send_response(101, "Switching Protocols")
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "websocket")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.send_header("x-request-id", self.request_id)
            self.end_headers()
            self.wfile.flush()
            self.server.record("responses.jsonl", {"seq": self.seq, "status": 101, "body": None})
            if offset is not None:
                cur = offset
                while True:
                    data, end = vm.history.contents(cur[0], cur[1], None)
                    if not data:
                        break
                    ws.send_binary(data)
                    cur = ("from_start", end)
            if vm.phase != "active":
                ws.close(1001, "VM stopped")
                return
            vm.serial_clients.append(ws)
        self._ws_loop(vm, ws)

    def _ws_loop(self, vm, ws):
        message, msg_op = bytearray(), None
        try:
            while not self.server.stopping.is_set():
                fin, opcode, payload = ws.read_frame()
                if opcode == 8:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000
                    ws.close(code if code not in (1005, 1006) else 1000)
                    break
                if opcode == 9:
                    ws._send(10, payload)
                    continue
                if opcode == 10:
                    with self.server.lock:
                        self.server.pongs += 1
                    continue
                if opcode in (1, 2):
                    message, msg_op = bytearray(payload), opcode
                elif opcode == 0 and msg_op is not None:
                    message += payload
                else:
                    raise ProtocolError("unexpected opcode")
                if fin:
                    if msg_op == 2:
                        vm.guest_input_bytes(bytes(message))
                    message, msg_op = bytearray(), None
        except ProtocolError as e:
            LOG.info("websocket protocol error: %s", e)
            ws.close(1002, str(e))
        except (WsClosed, OSError, ValueError):
            pass
        finally:
            with self.server.lock:
                if ws in vm.serial_clients:
                    vm.serial_clients.remove(ws)

    def instance_migrate_status(self, query, raw):
        with self.server.lock:
            self._vm()
        self._send_json(200, {"migration_in": None, "migration_out": None})

    def instance_migrate_start(self, query, raw, id):
        with self.server.lock:
            self._active_vm()
        raise HttpError(501, "live migration is not emulated by the fake propolis-server")

    def instance_nmi(self, query, raw):
        with self.server.lock:
            self._active_vm()
        self._send_json(200, None)

    def disk_status(self, query, raw, id):
        with self.server.lock:
            self._active_vm()
        raise HttpError(404, "Not Found", f"No crucible backend for id {id}")

    def disk_snapshot(self, query, raw, id, snap):
        with self.server.lock:
            self._active_vm()
        raise HttpError(404, "Not Found", f"no disk with id {id}!")

    def disk_vcr(self, query, raw, id):
        self._json_body(raw, "InstanceVCRReplace")
        with self.server.lock:
            self._active_vm()
        raise HttpError(404, "Not Found", f"No crucible backend for id {id}")

    # ---- fault injection / inspection ----
    def _control(self, path, raw):
        srv = self.server
        try:
            arg = json.loads(raw) if raw and raw.strip() else {}
        except ValueError:
            raise bad_request("control body must be JSON")
        if not isinstance(arg, dict):
            raise bad_request("control body must be a JSON object")
        cmd = (self.command, path)
        result = {"ok": True}
        with srv.lock:
            vm = srv.vm
            if cmd == ("GET", "/__fake/state"):
                result = {
                    "vm": None if vm is None else {
                        "phase": vm.phase, "state": vm.state, "gen": vm.gen, "published": vm.published,
                        "queue_state": vm.queue_state, "awaiting_stop": vm.awaiting_stop,
                        "awaiting_reboot": vm.awaiting_reboot, "properties": vm.properties,
                        "serial_clients": len(vm.serial_clients),
                        "serial_total_bytes": vm.history.total},
                    "delays": srv.delays, "faults": srv.faults, "rules": srv.rules,
                    "pongs": srv.pongs, "requests": srv.seq}
            elif cmd[0] == "POST" and path in ("/__fake/fail", "/__fake/hang", "/__fake/drop"):
                rule = {"kind": path.rsplit("/", 1)[1], "method": arg.get("method", "*"),
                        "path": arg.get("path", "*"), "count": int(arg.get("count", 1))}
                if rule["kind"] == "fail":
                    rule.update(status=int(arg.get("status", 500)), message=arg.get("message"),
                                error_code=arg.get("error_code"))
                if rule["kind"] == "hang":
                    rule["seconds"] = arg.get("seconds")
                srv.rules.append(rule)
            elif cmd == ("POST", "/__fake/fail-init"):
                srv.faults["fail_init"] = arg.get("message", "injected initialization failure")
            elif cmd == ("POST", "/__fake/fail-start"):
                srv.faults["fail_start"] = True
            elif cmd == ("POST", "/__fake/fail-instance"):
                if vm is None or vm.phase != "active":
                    raise not_created_error()
                srv.faults["fail_instance"] = True
                vm.cond.notify_all()
            elif cmd == ("POST", "/__fake/guest"):
                action = {"halt": "guest-halt", "reboot": "guest-reboot",
                          "triple-fault": "triple-fault"}.get(arg.get("action"))
                if action is None:
                    raise bad_request("action must be halt, reboot or triple-fault")
                if vm is None:
                    raise not_created_error()
                vm.guest_event(action)
            elif cmd == ("GET", "/__fake/serial/input"):
                if vm is None:
                    raise not_created_error()
                result = {"base64": base64.b64encode(bytes(vm.guest_input)).decode(),
                          "text": bytes(vm.guest_input).decode("utf-8", errors="replace")}
            elif cmd == ("POST", "/__fake/serial/ping"):
                if vm is None:
                    raise not_created_error()
                for ws in list(vm.serial_clients):
                    try:
                        ws.ping(arg.get("payload", "").encode())
                    except (OSError, WsClosed):
                        pass
            elif cmd == ("POST", "/__fake/delays"):
                for k, v in arg.items():
                    if k not in srv.delays:
                        raise bad_request(f"unknown delay {k}")
                    srv.delays[k] = float(v)
            elif cmd == ("POST", "/__fake/reset"):
                srv.rules.clear()
                srv.faults.clear()
                if vm is not None:
                    vm.phase = "complete"
                    vm.publisher_open = False
                    vm.events.clear()
                    vm.cond.notify_all()
                    for ws in vm.serial_clients:
                        ws.close(1001, "VM stopped")
                    vm.serial_clients.clear()
                srv.vm = None
            elif cmd == ("POST", "/__fake/shutdown"):
                self._send_json(200, result)
                srv.shutdown_all()
                return
            elif cmd not in (("POST", "/__fake/serial/output"), ("POST", "/__fake/serial/close")):
                raise HttpError(404, "Not Found")
        if cmd == ("POST", "/__fake/serial/output"):
            if vm is None:
                raise not_created_error()
            data = base64.b64decode(arg["base64"]) if "base64" in arg else arg.get("text", "").encode()
            vm.guest_output(data)
        elif cmd == ("POST", "/__fake/serial/close"):
            if vm is None:
                raise not_created_error()
            with srv.lock:
                clients = list(vm.serial_clients)
                vm.serial_clients.clear()
            for ws in clients:
                ws.close(int(arg.get("code", 1000)), arg.get("reason", ""))
        self._send_json(200, result)


# --------------------------------------------------------------------------
# `run` mode: propolis-server's own command line and start-up
#
# Sources: oxidecomputer/propolis 372a57444262a662863e5da6f5a78c694cb6bfa8
# (bin/propolis-server/src/main.rs, lib/propolis, crates/*), oxidecomputer/usdt
# 70d47085f7d82f16791d415cf1b2baf921a6e117, oxidecomputer/dropshot
# fb0fd916c4da45d81541355adb5642df9c890b7d, slog 2.7 src/lib.rs, clap 4.5 (the
# version in propolis' Cargo.lock), illumos-gate libc execvp.c and libdladm.c.
# Checked against those sources only, never on an illumos host.

AS_PROPOLIS = "--as-propolis-server"
BIN = "propolis-server"
RUN_USAGE = f"{BIN} run [OPTIONS] <BOOTROM_PATH> <PROPOLIS_IP:PORT> [VNC_IP:PORT]"
CLAP_MORE = "For more information, try '--help'."
RUN_OPTIONS = {"bootrom-version": "BOOTROM_VERSION", "metric-addr": "METRIC_ADDR", "log-level": "LOG_LEVEL"}
RUN_HELP = f"""Runs the Propolis server

Usage: {RUN_USAGE}

Arguments:
  <BOOTROM_PATH>
  <PROPOLIS_IP:PORT>
  [VNC_IP:PORT]       IP:Port for raw TCP access to VNC console

Options:
      --bootrom-version <BOOTROM_VERSION>
      --metric-addr <METRIC_ADDR>  Method for registering as an Oximeter metric producer [default: disable]
      --log-level <LOG_LEVEL>      Logging level for the server [default: INFO]
  -h, --help                       Print help
"""
TOP_HELP = f"""An HTTP server providing access to Propolis

Usage: {BIN} <COMMAND>

Commands:
  run   Runs the Propolis server
  help  Print this message or the help of the given subcommand(s)

Options:
  -h, --help     Print help
  -V, --version  Print version
"""

# errno as illumos numbers and words it (sys/errno.h, strerror), and the
# std::io::ErrorKind Rust gives it: what propolis-server prints.
ILLUMOS_ERRNO = {
    errno.ENOENT: (2, "NotFound", "No such file or directory"),
    errno.ENOEXEC: (8, "Uncategorized", "Exec format error"),
    errno.EACCES: (13, "PermissionDenied", "Permission denied"),
    errno.ENOTDIR: (20, "NotADirectory", "Not a directory"),
    errno.EISDIR: (21, "IsADirectory", "Is a directory"),
    errno.EROFS: (30, "ReadOnlyFilesystem", "Read-only file system"),
    errno.ELOOP: (90, "FilesystemLoop",
                  "Number of symbolic links encountered during path name traversal exceeds MAXSYMLINKS"),
    errno.EADDRINUSE: (125, "AddrInUse", "Address already in use"),
    errno.EADDRNOTAVAIL: (126, "AddrNotAvailable", "Cannot assign requested address"),
}


def rust_io_error(err, debug=False):
    """std::io::Error for an errno: Display, or Debug when `debug`."""
    code, kind, text = ILLUMOS_ERRNO.get(err, (err, "Uncategorized", os.strerror(err)))
    if debug:
        return f"Os {{ code: {code}, kind: {kind}, message: {json.dumps(text)} }}"
    return f"{text} (os error {code})"


def rust_path_debug(path):
    return json.dumps(path)


class ClapExit(Exception):
    """clap's way out: help (stdout, 0) or a usage error (stderr, 2)."""

    def __init__(self, text, status=2):
        super().__init__(text)
        self.text = text
        self.status = status


def clap_error(message, usage=True, tip=None):
    text = f"error: {message}\n\n"
    if tip:
        text += f"  tip: {tip}\n\n"
    if usage:
        text += f"Usage: {usage if isinstance(usage, str) else RUN_USAGE}\n\n"
    return ClapExit(text + CLAP_MORE + "\n")


_V4 = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")


def parse_socket_addr(text):
    """Rust's SocketAddr::from_str: `a.b.c.d:port` or `[v6]:port` (an
    optional numeric `%scope` inside the brackets); no host names, no bare
    IPv6.  Returns (ip, port) or None."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)(?:%[0-9]+)?\]:([0-9]+)", text)
    if m:
        try:
            ip = str(ipaddress.IPv6Address(m.group(1)))
        except ValueError:
            return None
    else:
        m = re.fullmatch(r"([0-9.]+):([0-9]+)", text)
        if not m or not _V4.fullmatch(m.group(1)) or any(int(o) > 255 for o in m.group(1).split(".")):
            return None
        ip = m.group(1)
    port = int(m.group(2))
    return (ip, port) if port <= 65535 else None


SLOG_NAMES = ["OFF", "CRITICAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
SLOG_SHORT = ["OFF", "CRIT", "ERRO", "WARN", "INFO", "DEBG", "TRCE"]


def parse_log_level(text):
    """slog's Level::from_str: a non-empty, ASCII-case-insensitive prefix of a
    level's long name, else of its short name; "off" is no Level.  Returns
    1 (Critical) … 6 (Trace), or None."""
    if not text:
        return None
    for names in (SLOG_NAMES, SLOG_SHORT):
        for index, name in enumerate(names):
            hay = name[:min(len(text.encode()), len(name))]
            if hay.lower() == text.lower() and text.isascii():
                return index or None
    return None


def parse_metric_addr(text):
    """main.rs MetricRegistration::from_str."""
    if text.lower() == "disable":
        return "disable"
    if text.lower() == "dns":
        return "dns"
    if parse_socket_addr(text) is None:
        raise ValueError("Metric registration must be 'disable', 'dns', or an explicit socket address "
                         "written as `IP:port`")
    return text


def parse_run_argv(argv):
    """propolis-server's argv as main.rs's clap derive (clap 4.5) reads it.
    Returns a dict; raises ClapExit for help and for usage errors."""
    if not argv:  # an enum Parser: arg_required_else_help
        raise ClapExit(TOP_HELP, 2)
    first = argv[0]
    if first == "help" and argv[1:2] == ["run"]:
        raise ClapExit(RUN_HELP, 0)
    if first in ("-h", "--help", "help"):
        raise ClapExit(TOP_HELP, 0)
    if first in ("-V", "--version"):  # bin/propolis-server/Cargo.toml's version
        raise ClapExit(f"{BIN} 0.1.0\n", 0)
    if first.startswith("-"):
        raise clap_error(f"unexpected argument '{first.split('=')[0]}' found", f"{BIN} <COMMAND>")
    if first != "run":
        raise clap_error(f"unrecognized subcommand '{first}'", f"{BIN} <COMMAND>")
    out = {"bootrom-version": None, "metric-addr": "disable", "log-level": 4, "positionals": []}
    seen = set()
    positional_names = ["<BOOTROM_PATH>", "<PROPOLIS_IP:PORT>", "[VNC_IP:PORT]"]
    i, only_positionals = 1, False
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not only_positionals and arg == "--":
            only_positionals = True
            continue
        if only_positionals or arg == "-" or not arg.startswith("-"):
            n = len(out["positionals"])
            if n >= len(positional_names):
                raise clap_error(f"unexpected argument '{arg}' found")
            shown = positional_names[n]
            if n == 0 and arg == "":
                raise clap_error(f"a value is required for '{shown}' but none was supplied", False)
            if n > 0 and parse_socket_addr(arg) is None:
                raise clap_error(f"invalid value '{arg}' for '{shown}': invalid socket address syntax", False)
            out["positionals"].append(arg if n == 0 else parse_socket_addr(arg))
            continue
        if arg in ("-h", "--help"):
            raise ClapExit(RUN_HELP, 0)
        if not arg.startswith("--"):
            raise clap_error(f"unexpected argument '{arg[:2]}' found",
                             tip=f"to pass '{arg[:2]}' as a value, use '-- {arg[:2]}'")
        name, eq, value = arg[2:].partition("=")
        if name not in RUN_OPTIONS:
            raise clap_error(f"unexpected argument '--{name}' found",
                             tip=f"to pass '--{name}' as a value, use '-- --{name}'")
        shown = f"--{name} <{RUN_OPTIONS[name]}>"
        if name in seen:
            raise clap_error(f"the argument '{shown}' cannot be used multiple times")
        if not eq:
            if i >= len(argv) or (argv[i].startswith("-") and argv[i] != "-"):
                raise clap_error(f"a value is required for '{shown}' but none was supplied", False)
            value = argv[i]
            i += 1
        seen.add(name)
        if name == "log-level":
            level = parse_log_level(value)
            if level is None:
                raise clap_error(f"invalid value '{value}' for '{shown}': Invalid log level", False)
            out[name] = level
        elif name == "metric-addr":
            try:
                out[name] = parse_metric_addr(value)
            except ValueError as e:
                raise clap_error(f"invalid value '{value}' for '{shown}': {e}", False)
        else:
            out[name] = value
    if len(out["positionals"]) < 2:
        missing = "".join(f"  {n}\n" for n in positional_names[len(out["positionals"]):2])
        raise clap_error(f"the following required arguments were not provided:\n{missing.rstrip()}",
                         f"{BIN} run <BOOTROM_PATH> <PROPOLIS_IP:PORT> [VNC_IP:PORT]")
    return out


class BunyanHandler(logging.Handler):
    """propolis-server logs bunyan JSON lines to stdout when it is not a
    terminal (main.rs build_logger); init sends them to the console log."""

    LEVELS = {logging.CRITICAL: 60, logging.ERROR: 50, logging.WARNING: 40, logging.INFO: 30, logging.DEBUG: 20}

    def __init__(self, hostname):
        super().__init__()
        self.hostname = hostname

    def emit(self, record):
        line = {"msg": record.getMessage(), "v": 0, "name": BIN,
                "level": self.LEVELS.get(record.levelno, 10), "hostname": self.hostname, "pid": os.getpid(),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) +
                f".{int(record.msecs * 1000):06d}Z"}
        try:
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            pass


# slog Level (1 Critical … 6 Trace) -> the logging level that passes it.
SLOG_TO_LOGGING = {1: logging.CRITICAL, 2: logging.ERROR, 3: logging.WARNING, 4: logging.INFO,
                   5: logging.DEBUG, 6: 1}

ILLUMOS_ROOT_PATH = "/usr/sbin:/usr/ccs/bin:/usr/bin"
ILLUMOS_USER_PATH = "/usr/ccs/bin:/usr/bin:"


class RunSim:
    """What `run` mode reads of the simulated zone: files under `root` ("/"
    in the zone's chroot; a test's directory through --sim-root), the zone's
    identity (/.zone-sim/zone.json) and the fake tools' state
    (/.zone-sim/tools-state/state.json).  Outside a zone (no zone.json) there
    are no zone checks: only files under `root`."""

    def __init__(self, root, panic_mode):
        self.root = root
        self.panic_mode = panic_mode
        self.bootrom = None
        self.events = None  # where events.jsonl goes, once known
        try:
            with open(self.path("/.zone-sim/zone.json"), encoding="utf-8") as f:
                self.zone = json.load(f)
        except FileNotFoundError:
            self.zone = None
        self.tools_state = self.path("/.zone-sim/tools-state")

    def path(self, p):
        """A path as the zone names it -> the path here."""
        if not os.path.isabs(p) or self.root == "/":
            return p
        return os.path.join(self.root, p.lstrip("/"))

    def zonename(self):
        return self.zone["zonename"] if self.zone else None

    def options_line(self):
        """/.zone-sim/tools-state/propolis-options: the knobs in a zone."""
        if not self.zone:
            return []
        try:
            with open(os.path.join(self.tools_state, "propolis-options"), encoding="utf-8") as f:
                return shlex.split(f.read())
        except FileNotFoundError:
            return []

    def records_dir(self):
        return os.path.join(self.tools_state, "propolis-server", self.zonename()) if self.zone else None

    def event(self, event, **detail):
        if not self.events:
            return
        try:
            with open(self.events, "a", encoding="utf-8") as f:
                f.write(json.dumps(dict(time=time.time(), pid=os.getpid(), event=event, **detail),
                                   sort_keys=True) + "\n")
        except OSError:
            pass

    def tools(self):
        try:
            with open(os.path.join(self.tools_state, "state.json"), encoding="utf-8") as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def address_up(self, ip):
        """The zone has `ip` configured and up (fake ifconfig's record)."""
        want = ipaddress.ip_address(ip)
        zone = self.tools().get("zones", {}).get(self.zonename(), {})
        for a in zone.get("addresses", []):
            try:
                if a.get("up") and ipaddress.ip_address(a["address"]) == want:
                    return True
            except (KeyError, ValueError):
                continue
        return False

    # -- start-up --
    def panic(self, location, message, thread="main"):
        """A Rust panic.  propolis' release profile is panic = "abort"
        (Cargo.toml [profile.release]): the message, then SIGABRT.  With
        --panic unwind (a dev build) a main-thread panic exits 101."""
        sys.stderr.write(f"thread '{thread}' panicked at {location}:\n{message}\n"
                         "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n")
        sys.stderr.flush()
        self.event("panic", message=message)
        if self.panic_mode == "unwind" and thread == "main":
            os._exit(101)
        # No core file: the real server would leave one; the simulator must not
        # fill the zone's root.  A limit of 1 byte stops file and pipe dumps.
        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (min(1, hard) if hard != resource.RLIM_INFINITY else 1, hard))
        os.abort()  # Python leaves SIGABRT at its default action

    def register_probes(self):
        """main.rs: `register_probes().unwrap()`, before argv is parsed.
        usdt-impl/src/no-linker.rs ioctl_section opens /dev/dtrace/helper
        read-write (the ioctl that follows is not simulated)."""
        try:
            os.close(os.open(self.path("/dev/dtrace/helper"), os.O_RDWR))
        except OSError as e:
            self.panic("bin/propolis-server/src/main.rs:282:23",
                       "called `Result::unwrap()` on an `Err` value: IO(" + rust_io_error(e.errno, True) + ")")

    def check_devices(self):
        """main.rs run_server: api_version::check() (lib/propolis/src/
        api_version.rs): /dev/vmmctl (bhyve-api VmmCtlFd::open: write,
        O_EXCL), then /dev/viona (viona-api VionaFd::open: read-write).
        Returns the error text main() would print, or None."""
        for component, dev, flags in (("vmm", "/dev/vmmctl", os.O_WRONLY | os.O_EXCL),
                                      ("viona", "/dev/viona", os.O_RDWR)):
            try:
                os.close(os.open(self.path(dev), flags))
            except OSError as e:
                if e.errno == errno.ENOENT:
                    LOG.error("Failed to open %s", dev)
                return (f"API version checks\n\nCaused by:\n    0: checking version of {component}\n"
                        f"    1: IO Error\n    2: {rust_io_error(e.errno)}")
        return None

    def bind_problem(self, ip):
        """Why bind() on `ip` fails in this zone, or None."""
        if not ipaddress.ip_address(ip).is_loopback:
            # Not illumos: the simulator only listens on loopback (127.0.0.x, ::1).
            return errno.EADDRNOTAVAIL, f"the simulator only binds loopback addresses, not {ip}"
        if self.zone and not self.address_up(ip):
            return errno.EADDRNOTAVAIL, (f"{ip} is not configured and up in zone {self.zonename()} "
                                         "(state.json addresses)")
        return None

    # -- at ensure (ensure.rs initialize_vm_objects) --
    def bootrom_problem(self):
        """initializer.rs initialize_rom: a bootrom that cannot be opened is a
        panic (`unwrap_or_else(|e| panic!("Cannot open bootrom: {e}"))`) in
        the VM-creation thread, so with panic = "abort" the whole server dies
        at the first ensure; propolis-server does not look at the bootrom at
        start-up (main.rs only stores its path).  A length that is not a
        multiple of the page size fails the instance."""
        path = self.bootrom
        try:
            fd = os.open(self.path(path), os.O_RDONLY)
        except OSError as e:
            self.panic("bin/propolis-server/src/lib/initializer.rs:258:33",
                       f"Cannot open bootrom: failed to open bootrom {rust_path_debug(path)}",
                       thread="tokio-rt-api")
        try:
            length = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if length % 4096:
            return f"bootrom {rust_path_debug(path)} length {length:x} not aligned to 1000"
        return None

    def viona_problem(self, device, vnic):
        """initializer.rs initialize_network_devices -> viona.rs
        PciVirtioViona::new -> crates/dladm: dladm_open (opens /dev/dld,
        libdladm.c), dladm_name2info (the zone sees only its own links), then
        for a VNIC `dladm show-vnic -p -o macaddress <vnic>` and
        `dladm show-linkprop -c -o value -p mtu <vnic>` (its failure ignored).
        Any failure fails the instance with the initializer's context."""
        failed = f"failed to create viona device {rust_path_debug(device)}"
        try:
            os.close(os.open(self.path("/dev/dld"), os.O_RDWR))
        except OSError as e:
            LOG.error("%s: dladm_open: %s", failed, "DLADM_STATUS_NOTFOUND" if e.errno == errno.ENOENT
                      else "DLADM_STATUS_FAILED")
            return failed
        if self.zone is not None:
            if vnic not in self.zone.get("links", []):
                LOG.error("%s: DLADM_STATUS_NOTFOUND", failed)
                return failed
            if vnic not in self.tools().get("vnics", {}):
                LOG.error("%s: %s is not vnic/misc class, but DATALINK_CLASS_PHYS", failed, vnic)
                return failed
        try:
            out = run_bare_name("dladm", ["show-vnic", "-p", "-o", "macaddress", vnic], self.path)
        except OSError as e:
            LOG.error("%s: %s", failed, rust_io_error(e.errno))
            return failed
        if out.returncode != 0:
            LOG.error("%s: failed dladm", failed)
            return failed
        fields = [f for f in (out.stdout.decode(errors="replace").splitlines() or [""])[0].split(":")
                  if re.fullmatch(r"\+?[0-9A-Fa-f]+", f) and int(f, 16) <= 255]
        if len(fields) != 6:
            LOG.error("%s: cannot query mac addr", failed)
            return failed
        try:
            run_bare_name("dladm", ["show-linkprop", "-c", "-o", "value", "-p", "mtu", vnic], self.path)
        except OSError:
            pass
        return None


def run_bare_name(name, args, path_of=lambda p: p):
    """Runs `name` found as illumos libc's execvp finds it (execvp.c): each
    PATH entry in turn (an empty entry: the name as it is), or when PATH is
    unset the default for root "/usr/sbin:/usr/ccs/bin:/usr/bin" (for others
    "/usr/ccs/bin:/usr/bin:").  An entry whose exec fails (ENOENT, ELOOP, …)
    is skipped; EACCES is remembered; ENOEXEC runs the file with /bin/sh.
    crates/dladm runs dladm this way (Command::new("dladm"), stdin and stderr
    null, stdout piped).  The search is done here, not by Python, so it
    follows illumos and not glibc.  `path_of` maps the zone's paths to ours."""
    search = os.environ.get("PATH")
    if search is None:
        search = ILLUMOS_ROOT_PATH if os.geteuid() == 0 or os.getuid() == 0 else ILLUMOS_USER_PATH
    entries = [""] if "/" in name else search.split(":")
    last, eacces = errno.ENOENT, False
    # Stdio::null opens /dev/null before the program is looked for: its
    # failure is not a missing program.
    with open(path_of("/dev/null"), "r+b") as null:
        for entry in entries:
            fname = f"{entry}/{name}" if entry else name
            if fname.startswith("-"):
                fname = "./" + fname
            try:
                return subprocess.run([name, *args], executable=path_of(fname), stdin=null,
                                      stdout=subprocess.PIPE, stderr=null, timeout=60)
            except OSError as e:
                if e.errno == errno.ENOEXEC:
                    return subprocess.run(["sh", path_of(fname), *args], executable="/bin/sh", stdin=null,
                                          stdout=subprocess.PIPE, stderr=null, timeout=60)
                if e.errno in (errno.ENOMEM, errno.E2BIG, errno.EFAULT):
                    raise
                eacces = eacces or e.errno == errno.EACCES
                last = e.errno
    raise OSError(errno.EACCES if eacces else last, os.strerror(errno.EACCES if eacces else last))


def fatal(sim, text):
    """main() returning Err: anyhow prints `Error: {:?}`, the exit status is 1."""
    sys.stderr.write(f"Error: {text}\n")
    sys.stderr.flush()
    sim.event("exit", status=1, error=text)
    return 1


def run_knobs():
    """The fake's own flags in `run` mode: FAKE_PROPOLIS_OPTIONS, then (in a
    zone) /.zone-sim/tools-state/propolis-options; never propolis' argv."""
    env = shlex.split(os.environ.get("FAKE_PROPOLIS_OPTIONS", ""))
    parser = knob_parser(True)
    first = parser.parse_args(env)
    sim = RunSim(first.sim_root, first.panic)
    extra = sim.options_line()
    if any(a == "--sim-root" or a.startswith("--sim-root=") for a in extra):
        parser.error("--sim-root is only read from FAKE_PROPOLIS_OPTIONS")
    args = parser.parse_args(env + extra)
    sim.panic_mode = args.panic
    return args, sim


def run_main(argv):
    """propolis-server's start-up, in main.rs order."""
    args, sim = run_knobs()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the real server installs no handler
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    records = sim.records_dir() or args.state_dir
    if records:
        os.makedirs(records, exist_ok=True)
        args.state_dir = records
        sim.events = os.path.join(records, "events.jsonl")
    sim.event("start", argv=argv, zone=sim.zonename())
    sim.register_probes()
    try:
        run = parse_run_argv(argv)
    except ClapExit as e:
        (sys.stdout if e.status == 0 else sys.stderr).write(e.text)
        sim.event("exit", status=e.status, error=e.text if e.status else None)
        return e.status
    LOG.handlers[:] = [BunyanHandler(sim.zonename() or socket.gethostname())]
    LOG.setLevel(SLOG_TO_LOGGING[run["log-level"]])
    LOG.propagate = False
    bootrom, (ip, port) = run["positionals"][:2]
    vnc = run["positionals"][2] if len(run["positionals"]) > 2 else None
    sim.bootrom = bootrom
    # main.rs build_metric_configuration
    if run["metric-addr"] == "dns" and (":" not in ip or ipaddress.ip_address(ip) == ipaddress.ip_address("::1")):
        return fatal(sim, "Metric registration can only use DNS if the Propolis server is provided a "
                          "non-localhost IPv6 address")
    if run["metric-addr"] == "disable":
        LOG.info("metric registration is disabled, no metric data will be produced by this server")
    problem = sim.check_devices()
    if problem:
        return fatal(sim, problem)
    # The time the real server spends before it listens (reservoir, runtime,
    # VNC); long enough that a client's first ensure meets a refused connection.
    time.sleep(max(0.0, args.listen_delay))
    vnc_sock = None
    if vnc is not None:  # vnc.rs TcpSock::new binds before the API server
        why = sim.bind_problem(vnc[0])
        try:
            if why:
                LOG.warning("fake propolis-server: %s", why[1])
                raise OSError(why[0], why[1])
            vnc_sock = socket.create_server(vnc, family=socket.AF_INET6 if ":" in vnc[0] else socket.AF_INET)
        except OSError as e:
            return fatal(sim, rust_io_error(e.errno))
    LOG.info("Starting server...")
    args.listen = (ip, port)
    args.sim = sim
    validator = load_api(args)
    why = sim.bind_problem(ip)
    try:
        if why:
            raise OSError(why[0], why[1])
        server = FakeServer(args, validator)
    except OSError as e:
        shown = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
        # dropshot's BuildError::BindError keeps the io::Error as its source
        # and main.rs prints only the outer text, so the real server never
        # says why.  The simulator does, on a line marked as its own.
        sys.stderr.write(f"fake propolis-server (simulator): bind {shown}: {rust_io_error(e.errno)}"
                         f"{': ' + why[1] if why else ''}\n")
        return fatal(sim, f"Failed to start server: failed to bind to {shown}")
    bound = server.server_address
    LOG.info("listening on %s", f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}")
    sim.event("listening", address=bound[0], port=bound[1])
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{bound[1]}\n")
        os.replace(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.server_close()
        if vnc_sock:
            vnc_sock.close()
    return 0


def knob_parser(run_mode):
    """The fake's own flags: its command line standalone, FAKE_PROPOLIS_OPTIONS
    (or the zone's propolis-options file) in `run` mode."""
    p = argparse.ArgumentParser(prog="fake_propolis_server.py" if not run_mode else "FAKE_PROPOLIS_OPTIONS",
                                description=__doc__.split("\n\n", 1)[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    if not run_mode:
        p.add_argument("--port", type=int, default=0)
        p.add_argument("--log-level", default="warning")
    p.add_argument("--port-file")
    p.add_argument("--state-dir")
    p.add_argument("--api-version", default="5.0.0")
    p.add_argument("--openapi", default=os.path.join(HERE, "propolis-server-openapi.json"))
    p.add_argument("--create-delay", type=float, default=0.05)
    p.add_argument("--start-delay", type=float, default=0.1)
    p.add_argument("--stop-delay", type=float, default=0.1)
    p.add_argument("--reboot-delay", type=float, default=0.1)
    p.add_argument("--rundown-delay", type=float, default=0.05)
    p.add_argument("--publish-starting", action="store_true", help="the default now (kept for old command lines)")
    p.add_argument("--no-publish-starting", action="store_true")
    p.add_argument("--monitor-timeout", type=float, default=0.0)
    p.add_argument("--serial-buffer-size", type=int, default=1024 * 1024)
    p.add_argument("--guest-name")
    p.add_argument("--no-check-paths", action="store_true")
    p.add_argument("--fail", action="append", metavar="METHOD:PATH:STATUS[:COUNT]")
    p.add_argument("--hang", action="append", metavar="METHOD:PATH[:SECONDS[:COUNT]]")
    if run_mode:
        p.add_argument("--listen-delay", type=float, default=1.0)
        p.add_argument("--sim-root", default="/")
        p.add_argument("--panic", choices=("abort", "unwind"), default="abort")
        p.add_argument("--ipv6-nexus-delay", type=float, default=0.0)
    return p


def load_api(args):
    with open(args.openapi, encoding="utf-8") as f:
        document = json.load(f)
    if document.get("info", {}).get("version") != args.api_version:
        LOG.warning("API document is version %s, serving %s", document.get("info", {}).get("version"),
                    args.api_version)
    return Validator(document)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # bin/propolis-server (install-fake-propolis.sh) passes AS_PROPOLIS first:
    # everything after it is propolis-server's own argv, parsed as clap would.
    if argv[:1] == [AS_PROPOLIS]:
        return run_main(argv[1:])
    if argv[:1] == ["run"]:
        return run_main(argv)
    return standalone_main(argv)


def standalone_main(argv):
    args = knob_parser(False).parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="fake-propolis %(levelname)s %(message)s")
    validator = load_api(args)
    if args.state_dir:
        os.makedirs(args.state_dir, exist_ok=True)
    server = FakeServer(args, validator)
    port = server.server_address[1]

    def on_signal(signum, frame):
        LOG.info("signal %d: shutting down", signum)
        server.shutdown_all()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    LOG.info("listening on 127.0.0.1:%d", port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
