"""The fake zoneadm: zone states as zoneadm(8) reports them, and the brand's
real hooks run as zoneadm/zoneadmd run them (zone_sim.py does the zone).

- install: makes the zonepath (mode 0700) and runs the brand's install hook;
  the zone is installed only when the hook succeeds (else incomplete).
- boot: the zone's privileges from config.xml (zone_sim.zone_privileges),
  then zsched in a private mount namespace, which runs the boot hook and
  then init.  A failing boot hook fails the boot with its output, and the
  halt hook runs, as zoneadmd does.
- halt: kills every process of the zone by pid, waits until they are gone,
  runs the halt hook and clears the zone's IP state.
- uninstall: runs the brand's uninstall hook.
"""

import os
import sys
import uuid

import fake_tool as ft
import zone_sim


def zone_line(name, z):
    zid = "0" if name == "global" else (str(z["zoneid"]) if z.get("zoneid") is not None else "-")
    return ":".join([zid, name, z["state"], z["zonepath"] or "", z.get("uuid") or "", z["brand"],
                     z["ip-type"]])


def list_zones(zones, zname, rest):
    glob = {"state": "running", "zonepath": "/", "brand": "ipkg", "ip-type": "shared", "uuid": ""}
    lopts, _ = ft.getopt(rest, "cipv")
    flags = {f for f, _ in lopts}
    if zname is not None:
        if zname == "global":
            items = [("global", glob)]
        elif zname not in zones:
            raise ft.ToolError(f"zoneadm: {zname}: No such zone configured")
        else:
            items = [(zname, zones[zname])]
    else:
        items = [("global", glob)]
        key = lambda n: (zones[n].get("zoneid") is None, zones[n].get("zoneid") or 0, n)  # noqa: E731
        for n in sorted(zones, key=key):
            s = zones[n]["state"]
            if s == "running" or "c" in flags or ("i" in flags and s in ("installed", "ready")):
                items.append((n, zones[n]))
    if "p" in flags:
        return "".join(zone_line(n, z) + "\n" for n, z in items)
    if "v" in flags:
        rows = [[zone_line(n, z).split(":")[0], n, z["state"], z["zonepath"] or "", z["brand"],
                 z["ip-type"]] for n, z in items]
        return ft.table(rows, ["ID", "NAME", "STATUS", "PATH", "BRAND", "IP"], False)
    return "".join(n + "\n" for n, _ in items)


def fail(zname, message):
    lines = [f"zoneadm: zone '{zname}': {line}" for line in message.splitlines() if line.strip()]
    lines.append(f"zoneadm: zone '{zname}': call to zoneadmd failed")
    return ft.ToolError("\n".join(lines))


def brand_hook(z, zname, which, extra=()):
    bdir = zone_sim.brand_dir(z["brand"])
    cfg = zone_sim.brand_config(bdir)
    return zone_sim.hook_argv(cfg[which], bdir, z["brand"], zname, z["zonepath"], extra)


def run_hook(st, z, zname, which, extra=()):
    """Runs a brand hook with the state unlocked; returns (status, output)."""
    argv = brand_hook(z, zname, which, extra)
    if argv is None:
        return 0, ""
    st.unlock()
    try:
        return zone_sim.run_hook(argv, zone_sim.global_env())
    finally:
        st.relock()


def clear_ip(z):
    z["plumbed"], z["addresses"] = [], []


def install(st, zname, z, rest):
    if not z.get("zonepath"):
        raise ft.ToolError(f"zoneadm: zone '{zname}': zonepath is not set")
    os.makedirs(z["zonepath"], mode=0o700, exist_ok=True)
    z["state"] = "incomplete"
    code, out = run_hook(st, z, zname, "install", rest)
    z = st["zones"][zname]
    if code != 0:
        raise ft.ToolError(f"{out}\nzoneadm: zone '{zname}': install failed".lstrip("\n"))
    z["state"] = "installed"
    z["uuid"] = z.get("uuid") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"zone:{zname}:{z['zonepath']}"))
    return ""


def boot(st, zname, z, sub):
    for n in z.get("net", []):
        phys = n.get("physical")
        if phys and phys not in st["vnics"] and z["ip-type"] == "exclusive":
            raise ft.ToolError(f"zoneadm: zone '{zname}': failed to add network device: "
                               f"could not find link {phys}\n"
                               f"zoneadm: zone '{zname}': call to zoneadmd failed")
    try:
        bdir = zone_sim.brand_dir(z["brand"])
        privileges = zone_sim.zone_privileges(zone_sim.brand_config(bdir), z["ip-type"],
                                              z.get("limitpriv"))
    except zone_sim.SimError as e:
        raise fail(zname, str(e))
    z["zoneid"] = st["next_zoneid"]
    st.data["next_zoneid"] += 1
    z["state"] = "ready"
    clear_ip(z)
    if sub == "ready":
        return ""
    state_dir = st.dir
    snapshot = st.data
    st.unlock()
    error = None
    try:
        pid = zone_sim.boot(state_dir, snapshot, zname, z, privileges)
    except (zone_sim.SimError, OSError) as e:
        error = str(e)
    st.relock()
    z = st["zones"][zname]
    if error is not None:
        code, out = run_hook(st, z, zname, "halt")
        z = st["zones"][zname]
        z.update(state="installed", zoneid=None, init_pid=None, init_start=None, mount_ns=None)
        clear_ip(z)
        raise fail(zname, error + ("\n" + out if code != 0 and out else ""))
    z.update(state="running", init_pid=pid, init_start=zone_sim.start_time(pid), mount_ns=zone_sim.mount_ns(pid))
    return ""


def halt(st, zname, z):
    pid, ns, start = z.get("init_pid"), z.get("mount_ns"), z.get("init_start")
    st.unlock()
    try:
        zone_sim.kill_zone(pid, ns, start)
    except zone_sim.SimError as e:
        st.relock()
        raise fail(zname, str(e))
    st.relock()
    z = st["zones"][zname]
    run_hook(st, z, zname, "halt")
    z = st["zones"][zname]
    z.update(state="installed", zoneid=None, init_pid=None, init_start=None, mount_ns=None)
    clear_ip(z)
    return ""


def uninstall(st, zname, z, rest):
    uopts, _ = ft.getopt(rest, "Fh")
    if ("F", None) not in uopts:
        sys.stdout.write(f"Are you sure you want to uninstall zone {zname} (y/[n])? ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return ""
    code, out = run_hook(st, z, zname, "uninstall", rest)
    z = st["zones"][zname]
    if code != 0:
        raise ft.ToolError(f"{out}\nzoneadm: zone '{zname}': uninstall failed".lstrip("\n"))
    z["state"] = "configured"
    z["uuid"] = None
    return ""


def main(st, args):
    opts, ops = ft.getopt(args, "z:u:R:")
    zname = next((v for f, v in opts if f == "z"), None)
    if ft.in_zone():
        raise ft.ToolError("zoneadm: the zone simulator has no zoneadm inside a zone")
    zones = st["zones"]
    if not ops:
        raise ft.ToolError("usage: zoneadm [-z <zone>] <subcommand> [args...]", 253)
    sub, rest = ops[0], ops[1:]
    if sub == "list":
        return list_zones(zones, zname, rest)
    if zname is None:
        raise ft.ToolError("zoneadm: no zone specified", 253)
    if zname not in zones:
        raise ft.ToolError(f"zoneadm: {zname}: No such zone configured")
    z = zones[zname]
    state = z["state"]
    invalid = ft.ToolError(f"zoneadm: zone '{zname}': {sub} operation is invalid for {state} zones.")
    try:
        if sub == "install":
            if state != "configured":
                raise invalid
            return install(st, zname, z, rest)
        if sub in ("boot", "ready"):
            if state in ("configured", "incomplete"):
                raise ft.ToolError(f"zoneadm: zone '{zname}': must be installed before {sub}.")
            if state == "running":
                raise ft.ToolError(f"zoneadm: zone '{zname}': zone is already booted")
            return boot(st, zname, z, sub)
        if sub in ("halt", "shutdown"):
            if state not in ("running", "ready"):
                raise invalid
            return halt(st, zname, z)
        if sub == "reboot":
            if state != "running":
                raise invalid
            halt(st, zname, z)
            return boot(st, zname, st["zones"][zname], "boot")
        if sub == "uninstall":
            if state not in ("installed", "incomplete"):
                raise invalid
            return uninstall(st, zname, z, rest)
    except zone_sim.SimError as e:
        raise fail(zname, str(e))
    if sub == "verify":
        return ""
    raise ft.ToolError(f"zoneadm: {sub} is not a valid subcommand", 253)
