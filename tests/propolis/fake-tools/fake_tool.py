#!/usr/bin/env python3
"""Shared implementation of the fake illumos tools zfs, zonecfg, zoneadm, dladm
and ifconfig (zonecfg, zoneadm and ifconfig in fake_zonecfg.py,
fake_zoneadm.py and fake_ifconfig.py; the zone simulator in zone_sim.py).

Each tool script in this folder runs `fake_tool.main("<tool>")`.  See README.md
here for the argv forms emulated, the state kept and the failure injection.

Environment:
  VMCTL_FAKE_TOOLS_LOG    file; every call appends its argv as a JSON array
  VMCTL_FAKE_TOOLS_STATE  directory; state.json (datasets, zones, links) and
                          counters for failure injection live there (inside
                          a simulated zone: /.zone-sim/tools-state)
  VMCTL_FAKE_BRAND_DIR    where zoneadm finds the brands (default: brand/)
  VMCTL_FAKE_TOOLS_FAIL   "tool:subcommand[:N]" (comma separated for several):
                          the N-th matching call (1-based) fails; without N, or
                          N = "*", every matching call fails
  VMCTL_FAKE_TOOLS_LINKS  physical links that exist (default "net0,igb0")
  VMCTL_FAKE_TOOLS_POOLS  pools that exist (default "rpool")
"""

import fcntl
import json
import os
import sys
import time

DEFAULT_STATE = {"datasets": {}, "zones": {}, "vnics": {}, "etherstubs": [], "next_zoneid": 1,
                 "next_mac": 1, "counters": {}}


class ToolError(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------- state

ZONE_JSON = "/.zone-sim/zone.json"
ZONE_TOOLS_STATE = "/.zone-sim/tools-state"


def in_zone():
    """True inside a simulated zone (see zone_sim.py), where the tools act
    with the zone's view and find the state at /.zone-sim/tools-state."""
    return not os.environ.get("VMCTL_FAKE_TOOLS_STATE") and os.path.exists(ZONE_JSON)


def state_dir():
    if in_zone():
        return ZONE_TOOLS_STATE
    d = os.environ.get("VMCTL_FAKE_TOOLS_STATE")
    if not d:
        raise ToolError("fake tool: VMCTL_FAKE_TOOLS_STATE is not set", 2)
    return d


class State:
    def __init__(self):
        self.dir = state_dir()
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "state.json")
        self.lockf = open(os.path.join(self.dir, "state.lock"), "a+")
        self.save_on_error = False  # a hook ran: what it changed stays
        self.relock()

    def relock(self):
        """Takes the lock and (re)reads the state."""
        fcntl.flock(self.lockf, fcntl.LOCK_EX)
        try:
            with open(self.path, encoding="utf-8") as f:
                self.data = json.load(f)
        except FileNotFoundError:
            self.data = json.loads(json.dumps(DEFAULT_STATE))
        for k, v in DEFAULT_STATE.items():
            self.data.setdefault(k, json.loads(json.dumps(v)))

    def unlock(self):
        """Saves and lets other tools in while a brand hook runs (the boot
        hook calls zonecfg; the zone's ifconfig writes the state)."""
        self.save()
        fcntl.flock(self.lockf, fcntl.LOCK_UN)
        self.save_on_error = True

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def __getitem__(self, k):
        return self.data[k]


def log_argv(argv):
    path = os.environ.get("VMCTL_FAKE_TOOLS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(json.dumps(argv) + "\n")


def injected_failure(state, tool, sub):
    spec = os.environ.get("VMCTL_FAKE_TOOLS_FAIL", "")
    hit = False
    for item in filter(None, (s.strip() for s in spec.split(","))):
        parts = item.split(":")
        if len(parts) < 2 or parts[0] != tool or parts[1] != sub:
            continue
        key = f"{tool}:{sub}"
        n = state["counters"].get(key, 0) + 1
        state["counters"][key] = n
        if len(parts) < 3 or parts[2] in ("", "*") or int(parts[2]) == n:
            hit = True
    return hit


# ---------------------------------------------------------------- option parsing

def getopt(args, spec):
    """Minimal POSIX getopt: spec like "rpH" with ':' after options taking a value.
    Returns (opts as list of (flag, value)), operands)."""
    opts, i = [], 0
    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if not a.startswith("-") or a == "-":
            break
        j = 1
        while j < len(a):
            c = a[j]
            k = spec.find(c)
            if k < 0:
                raise ToolError(f"invalid option '{c}'", 2)
            if k + 1 < len(spec) and spec[k + 1] == ":":
                if j + 1 < len(a):
                    opts.append((c, a[j + 1:]))
                else:
                    i += 1
                    if i >= len(args):
                        raise ToolError(f"missing argument for '{c}' option", 2)
                    opts.append((c, args[i]))
                break
            opts.append((c, None))
            j += 1
        i += 1
    return opts, args[i:]


def parse_size(text):
    units = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
    t = text.strip().upper().rstrip("B") if text.upper().endswith(("KB", "MB", "GB", "TB")) else text.strip().upper()
    num = t.rstrip("KMGTPB")
    unit = t[len(num):]
    try:
        return int(float(num) * units[unit])
    except (ValueError, KeyError):
        raise ToolError(f"bad numeric value '{text}'", 2)


def human(n):
    for unit in ("", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{int(n)}{unit}" if unit == "" or n == int(n) else f"{n:.3g}{unit}"
        n /= 1024
    return str(n)


def table(rows, headers, scripted):
    if scripted:
        return "".join("\t".join(r) + "\n" for r in rows)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- zfs

def pools():
    return [p for p in os.environ.get("VMCTL_FAKE_TOOLS_POOLS", "rpool").split(",") if p]


def zfs_exists(st, name):
    return name in pools() or name in st["datasets"]


def zfs_get_ds(st, name):
    if name in pools():
        return {"type": "filesystem", "props": {}, "origin": None}
    return st["datasets"].get(name)


def zfs_children(st, name):
    """Descendants in zfs list's order: by name, a dataset's snapshots
    (right after it) in the order they were taken."""
    ds = st["datasets"]
    return sorted((d for d in ds if d.startswith(name + "/") or d.startswith(name + "@")),
                  key=lambda d: (d.split("@")[0], "@" in d, ds[d].get("createtxg", 0), d))


def snapshots_of(st, base):
    return [d for d in zfs_children(st, base) if d.split("@")[0] == base and "@" in d]


def next_txg(st):
    st.data["next_txg"] = st.data.get("next_txg", 1) + 1
    return st.data["next_txg"]


def valid_zfs_component(c):
    return bool(c) and all(ch.isalnum() or ch in "_-.: " for ch in c)


def zvol_path(st, name):
    """A volume's backing file, or a volume snapshot's saved copy of it."""
    if "@" in name:
        return os.path.join(st.dir, "zvol", "snap", name)
    return os.path.join(st.dir, "zvol", "rdsk", name)


def copy_sparse(src, dst):
    """Copies src's data regions only, so a 10G volume of a few written
    blocks stays a few blocks."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, "rb") as f, open(dst, "wb") as g:
        size = os.fstat(f.fileno()).st_size
        g.truncate(size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(f.fileno(), pos, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole from pos on
                break
            end = os.lseek(f.fileno(), start, os.SEEK_HOLE)
            f.seek(start)
            g.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                g.write(chunk)
                left -= len(chunk)
            pos = end


def save_zvol_data(st, volume, snapshot):
    if os.path.exists(zvol_path(st, volume)):
        copy_sparse(zvol_path(st, volume), zvol_path(st, snapshot))


def restore_zvol_data(st, snapshot, volume):
    """Rolls the volume's bytes back; sync_zvols then fits the size."""
    if os.path.exists(zvol_path(st, snapshot)):
        copy_sparse(zvol_path(st, snapshot), zvol_path(st, volume))


def zfs_prop(st, name, prop, parsable):
    ds = zfs_get_ds(st, name)
    t = ds["type"]
    size = ds.get("volsize", 0)
    if prop == "name":
        return name
    if prop == "type":
        return t
    if prop == "volsize":
        return (str(size) if parsable else human(size)) if "volsize" in ds else "-"
    if prop in ("used", "referenced", "refer"):
        return "0" if parsable else "0"
    if prop in ("avail", "available"):
        return "-" if t == "snapshot" else ("107374182400" if parsable else "100G")
    if prop == "mountpoint":
        return "/" + name if t == "filesystem" else "-"
    if prop == "origin":
        return ds.get("origin") or "-"
    if prop == "volblocksize":
        return ds["props"].get("volblocksize", "8192" if parsable else "8K") if t == "volume" else "-"
    if prop == "creation":
        return str(ds.get("creation", 0))
    if prop == "createtxg":
        return str(ds.get("createtxg", 1))
    return ds["props"].get(prop, "-")


def zfs_main(st, args):
    if not args:
        raise ToolError("usage: zfs command args ...", 2)
    sub, rest = args[0], args[1:]
    ds = st["datasets"]
    if sub == "create":
        opts, ops = getopt(rest, "psV:b:o:")
        if len(ops) != 1:
            raise ToolError("missing dataset name" if not ops else "too many arguments", 2)
        name = ops[0]
        props = dict(v.split("=", 1) for f, v in opts if f == "o")
        vol = next((v for f, v in opts if f == "V"), None)
        if "@" in name:
            raise ToolError(f"cannot create '{name}': snapshot delimiter '@' is not expected here")
        if zfs_exists(st, name):
            raise ToolError(f"cannot create '{name}': dataset already exists")
        parent = name.rsplit("/", 1)[0] if "/" in name else None
        if parent is None or parent.split("/")[0] not in pools():
            raise ToolError(f"cannot create '{name}': no such pool '{name.split('/')[0]}'")
        if not zfs_exists(st, parent):
            if ("p", None) not in opts:
                raise ToolError(f"cannot create '{name}': parent does not exist")
            parts = name.split("/")
            for i in range(2, len(parts)):
                p = "/".join(parts[:i])
                if not zfs_exists(st, p):
                    ds[p] = {"type": "filesystem", "props": {}, "origin": None}
        if zfs_get_ds(st, parent)["type"] != "filesystem":
            raise ToolError(f"cannot create '{name}': parent is not a filesystem")
        entry = {"type": "volume" if vol else "filesystem", "props": props, "origin": None,
                 "creation": int(time.time()), "createtxg": next_txg(st)}
        if vol:
            entry["volsize"] = parse_size(vol)
            for f, v in opts:
                if f == "b":
                    entry["props"]["volblocksize"] = v
        ds[name] = entry
        return ""
    if sub == "destroy":
        opts, ops = getopt(rest, "rRfnpvd")
        if len(ops) != 1:
            raise ToolError("missing dataset argument" if not ops else "too many arguments", 2)
        name = ops[0]
        flags = {f for f, _ in opts}
        if name in pools():
            raise ToolError(f"cannot destroy '{name}': operation does not apply to pools\n"
                            f"use 'zfs destroy -r {name}' to destroy all datasets in the pool\n"
                            f"use 'zpool destroy {name}' to destroy the pool itself")
        if name not in ds:
            kind = "snapshot" if "@" in name else "dataset"
            raise ToolError(f"could not find any snapshots to destroy; check snapshot names."
                            if kind == "snapshot" else f"cannot open '{name}': dataset does not exist")
        victims = [name]
        kids = zfs_children(st, name)
        if kids and not flags & {"r", "R"}:
            what = "filesystem" if ds[name]["type"] == "filesystem" else "volume"
            msg = f"cannot destroy '{name}': {what} has children\n" \
                  f"use '-r' to destroy the following datasets:\n" + "\n".join(kids)
            raise ToolError(msg)
        victims += kids
        clones = sorted(d for d, e in ds.items() if e.get("origin") in victims and d not in victims)
        if clones:
            if "R" not in flags:
                snap = name if "@" in name else next(e["origin"] for d, e in ds.items() if d in clones)
                raise ToolError(f"cannot destroy '{snap}': snapshot has dependent clones\n"
                                f"use '-R' to destroy the following datasets:\n" + "\n".join(clones))
            for c in clones:
                victims += [c] + zfs_children(st, c)
        if "n" not in flags:
            for v in set(victims):
                ds.pop(v, None)
        return ""
    if sub == "snapshot" or sub == "snap":
        opts, ops = getopt(rest, "ro:")
        if not ops:
            raise ToolError("missing snapshot argument", 2)
        # All or nothing, as the one ioctl (zfs_snapshot_nvl) real zfs makes.
        wanted = []
        for name in ops:
            if "@" not in name:
                raise ToolError(f"cannot create snapshot '{name}': missing '@' delimiter in snapshot name", 2)
            base, snap = name.split("@", 1)
            if not valid_zfs_component(snap):
                raise ToolError(f"cannot create snapshot '{name}': invalid character in name", 2)
            if not zfs_exists(st, base):
                raise ToolError(f"cannot open '{base}': dataset does not exist\n"
                                "usage:\n\tsnapshot [-r] [-o property=value] ... "
                                "<filesystem|volume>@<snap> ...\n", 2)
            wanted.append((base, name))
            if ("r", None) in opts:
                wanted += [(kid, f"{kid}@{snap}") for kid in zfs_children(st, base) if "@" not in kid]
        clash = [n for _, n in wanted if n in ds]
        if clash:
            raise ToolError("".join(f"cannot create snapshot '{n}': dataset already exists\n" for n in clash))
        txg = next_txg(st)
        for base, name in wanted:
            src = zfs_get_ds(st, base)
            entry = {"type": "snapshot", "props": {}, "origin": None, "creation": int(time.time()),
                     "createtxg": txg}
            if src["type"] == "volume":
                entry["volsize"] = src.get("volsize", 0)
                save_zvol_data(st, base, name)
            ds[name] = entry
        return ""
    if sub == "rollback":
        opts, ops = getopt(rest, "rRf")
        flags = {f for f, _ in opts}
        if len(ops) != 1:
            raise ToolError("missing dataset argument" if not ops else "too many arguments", 2)
        name = ops[0]
        if "@" not in name:
            if zfs_exists(st, name):
                raise ToolError(f"cannot open '{name}': operation not applicable to datasets of this type")
            raise ToolError(f"cannot open '{name}': dataset does not exist")
        if name not in ds:
            raise ToolError(f"cannot open '{name}': dataset does not exist")
        base = name.split("@", 1)[0]
        later = [n for n in snapshots_of(st, base) if ds[n].get("createtxg", 0) > ds[name].get("createtxg", 0)]
        if later and not flags & {"r", "R"}:
            # zfs_main.c rollback_check
            raise ToolError(f"cannot rollback to '{name}': more recent snapshots or bookmarks exist\n"
                            "use '-r' to force deletion of the following snapshots and bookmarks:\n"
                            + "\n".join(later))
        clones = sorted(d for d, e in ds.items() if e.get("origin") in later)
        if clones and "R" not in flags:
            # zfs_main.c rollback_check_dependent
            raise ToolError(f"cannot rollback to '{name}': clones of previous snapshots exist\n"
                            "use '-R' to force deletion of the following clones and dependents:\n"
                            + "\n".join(clones))
        for c in clones:
            for v in [c] + zfs_children(st, c):
                ds.pop(v, None)
        for n in later:
            ds.pop(n, None)
        if "volsize" in ds[name]:
            ds[base]["volsize"] = ds[name]["volsize"]
            restore_zvol_data(st, name, base)
        return ""
    if sub == "clone":
        opts, ops = getopt(rest, "po:")
        if len(ops) != 2:
            raise ToolError("missing source dataset argument" if not ops else
                            "missing target dataset argument" if len(ops) == 1 else "too many arguments", 2)
        snap, target = ops
        if "@" not in snap or snap not in ds:
            raise ToolError(f"cannot open '{snap}': dataset does not exist")
        if zfs_exists(st, target):
            raise ToolError(f"cannot create '{target}': dataset already exists")
        parent = target.rsplit("/", 1)[0]
        if not zfs_exists(st, parent):
            if ("p", None) not in opts:
                raise ToolError(f"cannot create '{target}': parent does not exist")
            parts = target.split("/")
            for i in range(2, len(parts)):
                p = "/".join(parts[:i])
                if not zfs_exists(st, p):
                    ds[p] = {"type": "filesystem", "props": {}, "origin": None}
        src = zfs_get_ds(st, snap.split("@", 1)[0])
        entry = {"type": src["type"], "props": dict(v.split("=", 1) for f, v in opts if f == "o"),
                 "origin": snap, "creation": int(time.time()), "createtxg": next_txg(st)}
        if src["type"] == "volume":
            entry["volsize"] = ds[snap].get("volsize", src.get("volsize", 0))
            restore_zvol_data(st, snap, target)
        ds[target] = entry
        return ""
    if sub == "list":
        opts, ops = getopt(rest, "Hprd:o:t:s:S:")
        flags = {f for f, _ in opts}
        props = (next((v for f, v in opts if f == "o"), None) or "name,used,avail,refer,mountpoint").split(",")
        types = (next((v for f, v in opts if f == "t"), None) or "filesystem,volume").split(",")
        if "all" in types:
            types = ["filesystem", "volume", "snapshot"]
        types = ["snapshot" if t == "snap" else "volume" if t == "vol" else t for t in types]
        depth = next((int(v) for f, v in opts if f == "d"), None)
        names = []
        if ops:
            for n in ops:
                if not zfs_exists(st, n):
                    raise ToolError(f"cannot open '{n}': dataset does not exist")
                names.append(n)
                if "r" in flags or depth is not None:
                    for kid in zfs_children(st, n):
                        d = kid[len(n):].count("/") + kid[len(n):].count("@")
                        if depth is None or d <= depth:
                            names.append(kid)
        else:
            names = sorted(set(pools()) | set(ds))
        rows = []
        for n in names:
            if zfs_get_ds(st, n)["type"] not in types and not (ops and n in ops and "r" not in flags
                                                               and depth is None):
                continue
            rows.append([zfs_prop(st, n, p, "p" in flags) for p in props])
        if not rows and not ops:
            return "no datasets available\n" if "H" not in flags else ""
        return table(rows, [p.upper() if p != "refer" else "REFER" for p in props], "H" in flags)
    if sub == "get":
        opts, ops = getopt(rest, "Hprd:o:t:s:")
        flags = {f for f, _ in opts}
        if len(ops) < 2:
            raise ToolError("missing property argument" if not ops else "missing dataset argument", 2)
        props, names = ops[0].split(","), ops[1:]
        fields = (next((v for f, v in opts if f == "o"), None) or "name,property,value,source").split(",")
        rows = []
        for n in names:
            if not zfs_exists(st, n):
                raise ToolError(f"cannot open '{n}': dataset does not exist")
            for p in props:
                value = zfs_prop(st, n, p, "p" in flags)
                src = "local" if p in zfs_get_ds(st, n)["props"] else "-"
                row = {"name": n, "property": p, "value": value, "source": src}
                rows.append([row[f] for f in fields])
        return table(rows, [f.upper() for f in fields], "H" in flags)
    if sub == "set":
        if len(rest) < 2 or "=" not in rest[0]:
            raise ToolError("missing property=value argument(s)", 2)
        k, v = rest[0].split("=", 1)
        for n in rest[1:]:
            if not zfs_exists(st, n) or n in pools():
                raise ToolError(f"cannot open '{n}': dataset does not exist")
            if "@" in n and k == "volsize":
                raise ToolError(f"cannot set property for '{n}': this property can not be modified for snapshots")
            if k == "volsize" and ds[n]["type"] != "volume":
                raise ToolError(f"cannot set property for '{n}': 'volsize' does not apply to datasets of this type")
            if k == "volsize":
                ds[n]["volsize"] = parse_size(v)
            else:
                ds[n]["props"][k] = v
        return ""
    if sub == "rename":
        opts, ops = getopt(rest, "fpr")
        if len(ops) != 2:
            raise ToolError("missing target dataset argument", 2)
        a, b = ops
        if a not in ds:
            raise ToolError(f"cannot open '{a}': dataset does not exist")
        if zfs_exists(st, b):
            raise ToolError(f"cannot rename to '{b}': dataset already exists")
        for n in [a] + zfs_children(st, a):
            ds[b + n[len(a):]] = ds.pop(n)
        for e in ds.values():
            if e.get("origin") and e["origin"].split("@")[0] == a:
                e["origin"] = b + e["origin"][len(a):]
        return ""
    raise ToolError(f"unrecognized command '{sub}'\nusage: zfs command args ...", 2)


def sync_zvols(st):
    """Each volume has a sparse backing file of its volsize in the state
    directory, which a zone's /dev/zvol/rdsk/<dataset> device is bound to;
    each volume snapshot a copy of it as it was (zvol/snap/<ds>@<snap>)."""
    volumes = {n: e.get("volsize", 0) for n, e in st["datasets"].items() if e["type"] == "volume"}
    for name, size in volumes.items():
        path = zvol_path(st, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a") as f:
            if os.path.getsize(path) != size:
                f.truncate(size)
    for sub, keep in (("rdsk", volumes), ("snap", st["datasets"])):
        top = os.path.join(st.dir, "zvol", sub)
        for dirpath, _, files in os.walk(top):
            for fname in files:
                rel = os.path.relpath(os.path.join(dirpath, fname), top)
                if rel not in keep:
                    os.unlink(os.path.join(dirpath, fname))


# ---------------------------------------------------------------- dladm

def mac_text(mac):
    return ":".join(format(int(x, 16), "x") for x in mac.split(":"))


def physical_links():
    return [l for l in os.environ.get("VMCTL_FAKE_TOOLS_LINKS", "net0,igb0").split(",") if l]


def vnic_zone(st, name):
    for zn, z in st["zones"].items():
        if z["state"] in ("running", "ready") and any(n.get("physical") == name for n in z.get("net", [])):
            return zn
    return "--"


def valid_link_name(name):
    return (len(name) <= 31 and name[:1].isalpha() and name[-1:].isdigit()
            and all(c.isalnum() or c in "_." for c in name))


def dladm_main(st, args):
    if not args:
        raise ToolError("usage: dladm <subcommand> <args> ...", 2)
    sub, rest = args[0], args[1:]
    vnics = st["vnics"]
    if in_zone():
        # An exclusive-IP zone sees only its own links, and changes none.
        if sub not in ("show-vnic", "show-link"):
            raise ToolError(f"dladm: {sub} is not simulated inside a zone")
        with open(ZONE_JSON, encoding="utf-8") as f:
            mine = json.load(f)["links"]
        vnics = {n: v for n, v in vnics.items() if n in mine}
    if sub == "create-vnic":
        opts, ops = getopt(rest, "tl:m:v:p:R:")
        if len(ops) != 1:
            raise ToolError("usage:\tcreate-vnic [-t] -l <link> [-m <value> | auto |\n"
                            "\t\t{factory [-n <slot-id>]} | {random [-r <prefix>]}]\n"
                            "\t\t[-v <vid> [-f]] [-p <prop>=<value>[,...]] <vnic-link>", 2)
        name = ops[0]
        over = next((v for f, v in opts if f == "l"), None)
        if over is None:
            raise ToolError("dladm: link is required", 2)
        if not valid_link_name(name):
            raise ToolError(f"dladm: invalid link name '{name}'")
        if name in vnics or name in physical_links() or name in st["etherstubs"]:
            raise ToolError("dladm: vnic creation failed: object already exists")
        if over not in physical_links() and over not in st["etherstubs"]:
            raise ToolError(f"dladm: invalid link name '{over}'")
        mac = next((v for f, v in opts if f == "m"), None)
        if mac in (None, "auto", "random"):
            n = st["next_mac"]
            st.data["next_mac"] += 1
            mac = "02:08:20:%02x:%02x:%02x" % ((n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF)
            mtype = "random"
        else:
            parts = mac.split(":")
            if len(parts) != 6 or not all(1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p)
                                          for p in parts):
                raise ToolError(f"dladm: invalid MAC address '{mac}'")
            mtype = "fixed"
        vnics[name] = {"over": over, "mac": mac.lower(), "macaddrtype": mtype,
                       "vid": next((v for f, v in opts if f == "v"), "0"),
                       "temporary": ("t", None) in opts}
        return ""
    if sub == "delete-vnic":
        opts, ops = getopt(rest, "tR:")
        if len(ops) != 1:
            raise ToolError("usage:\tdelete-vnic [-t] <vnic-link>", 2)
        name = ops[0]
        if name not in vnics:
            raise ToolError(f"dladm: vnic deletion failed: object not found")
        if vnic_zone(st, name) != "--":
            raise ToolError("dladm: vnic deletion failed: link busy")
        del vnics[name]
        return ""
    if sub == "show-vnic":
        opts, ops = getopt(rest, "pPo:l:Z")
        flags = {f for f, _ in opts}
        fields = (next((v for f, v in opts if f == "o"), None) or
                  "link,over,speed,macaddress,macaddrtype,vid,zone").lower().split(",")
        if "p" in flags and not any(f == "o" for f, _ in opts):
            raise ToolError("dladm: -p requires -o", 2)
        names = ops or sorted(vnics)
        rows = []
        for n in names:
            if n not in vnics:
                raise ToolError(f"dladm: invalid vnic name '{n}': object not found")
            v = vnics[n]
            vals = {"link": n, "over": v["over"], "speed": "1000", "macaddress": mac_text(v["mac"]),
                    "macaddrtype": v["macaddrtype"], "vid": str(v["vid"]), "zone": vnic_zone(st, n)}
            row = []
            for f in fields:
                if f not in vals:
                    raise ToolError(f"dladm: invalid field(s) specified", 2)
                val = vals[f]
                row.append(val.replace(":", "\\:") if "p" in flags and len(fields) > 1 else val)
            rows.append(row)
        if "p" in flags:
            return "".join(":".join(r) + "\n" for r in rows)
        return table(rows, [f.upper() for f in fields], False)
    if sub == "create-etherstub":
        opts, ops = getopt(rest, "tR:")
        if len(ops) != 1:
            raise ToolError("usage:\tcreate-etherstub [-t] <link>", 2)
        if ops[0] in st["etherstubs"] or ops[0] in vnics:
            raise ToolError("dladm: etherstub creation failed: object already exists")
        if not valid_link_name(ops[0]):
            raise ToolError(f"dladm: invalid link name '{ops[0]}'")
        st["etherstubs"].append(ops[0])
        return ""
    if sub == "delete-etherstub":
        opts, ops = getopt(rest, "tR:")
        if len(ops) != 1 or ops[0] not in st["etherstubs"]:
            raise ToolError("dladm: etherstub deletion failed: object not found")
        if any(v["over"] == ops[0] for v in vnics.values()):
            raise ToolError("dladm: etherstub deletion failed: link busy")
        st["etherstubs"].remove(ops[0])
        return ""
    if sub == "show-link":
        opts, ops = getopt(rest, "pPo:s")
        flags = {f for f, _ in opts}
        fields = (next((v for f, v in opts if f == "o"), None) or "link,class,mtu,state,bridge,over").lower().split(",")
        links = [] if in_zone() else \
            [(l, "phys", "") for l in physical_links()] + [(e, "etherstub", "") for e in st["etherstubs"]]
        links += [(n, "vnic", v["over"]) for n, v in sorted(vnics.items())]
        if ops:
            known = {l[0]: l for l in links}
            for n in ops:
                if n not in known:
                    raise ToolError(f"dladm: failed to show link {n}: object not found")
            links = [known[n] for n in ops]
        rows = []
        for name, cls, over in links:
            vals = {"link": name, "class": cls, "mtu": "1500", "state": "up" if cls != "etherstub" else "unknown",
                    "bridge": "--", "over": over or "--"}
            rows.append([vals.get(f, "--") for f in fields])
        if "p" in flags:
            return "".join(":".join(r) + "\n" for r in rows)
        return table(rows, [f.upper() for f in fields], False)
    raise ToolError(f"dladm: unknown subcommand '{sub}'", 2)


# ---------------------------------------------------------------- entry

TOOLS = {"zfs": lambda st, a: zfs_main(st, a), "zonecfg": lambda st, a: fake_zonecfg.main(st, a),
         "zoneadm": lambda st, a: fake_zoneadm.main(st, a), "dladm": lambda st, a: dladm_main(st, a),
         "ifconfig": lambda st, a: fake_ifconfig.main(st, a)}


def subcommand(tool, args):
    if tool == "zoneadm":
        _, ops = getopt(args, "z:u:R:") if args else ([], [])
        return ops[0] if ops else ""
    if tool == "zonecfg":
        opts, ops = getopt(args, "z:f:")
        if any(f == "f" for f, _ in opts):
            return "-f"
        return ops[0] if ops else ""
    return args[0] if args else ""


def main(tool):
    argv = [tool] + sys.argv[1:]
    log_argv(argv)
    st = None
    try:
        st = State()
        try:
            sub = subcommand(tool, sys.argv[1:])
        except ToolError:
            sub = ""
        if injected_failure(st, tool, sub):
            st.save()
            raise ToolError(injected_message(tool, sub, sys.argv[1:]))
        out = TOOLS[tool](st, sys.argv[1:])
        if tool == "zfs":
            sync_zvols(st)
        st.save()
        sys.stdout.write(out)
        return 0
    except ToolError as e:
        if st is not None and st.save_on_error:
            st.save()
        if e.message:
            sys.stderr.write(e.message.rstrip("\n") + "\n")
        return e.status


def injected_message(tool, sub, args):
    last = args[-1] if args else ""
    if tool == "zfs":
        if sub in ("destroy", "list", "get", "set", "snapshot"):
            return f"cannot open '{last}': dataset is busy" if sub == "destroy" else \
                f"cannot open '{last}': I/O error"
        return f"cannot create '{last}': out of space"
    if tool == "zoneadm":
        z = args[args.index("-z") + 1] if "-z" in args else "?"
        return f"zoneadm: zone '{z}': {sub} failed: injected failure\n" \
               f"zoneadm: zone '{z}': call to zoneadmd failed"
    if tool == "zonecfg":
        return "zonecfg: Could not commit: I/O error (injected failure)"
    if tool == "dladm":
        what = sub.split("-", 1)[-1] if "-" in sub else sub
        verb = sub.split("-", 1)[0]
        return f"dladm: {what} {'creation' if verb == 'create' else 'deletion' if verb == 'delete' else verb}" \
               f" failed: insufficient hardware resources"
    return f"{tool}: injected failure"


import fake_ifconfig  # noqa: E402  (they use this module's helpers)
import fake_zoneadm  # noqa: E402
import fake_zonecfg  # noqa: E402
