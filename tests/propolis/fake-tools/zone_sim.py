"""The zone sandbox behind the fake zoneadm: what zoneadmd and the kernel do
for a branded zone, done with a private mount namespace and chroot on Linux.

README.md in this folder says what a simulated zone holds and how a test
sets it up.

- The brand's files are read from `$VMCTL_FAKE_BRAND_DIR/<brand>/` (default:
  the repository's brand/ folder) and its hooks run with the argv config.xml
  gives them, %z and %R substituted, as zoneadm/zoneadmd run them.
- `boot` starts a "zsched" process (`zone_sim.py zsched`) in a new session
  and a private mount namespace (`unshare --mount --propagation private`).
  It mounts the zone's file systems from the brand's platform.xml and the
  zone's zonecfg fs/device resources, runs the brand's boot hook there (in
  the global zone's view, not chrooted), reports the result to zoneadm, and
  then supervises the zone's init (config.xml <initname>, chrooted), which
  the kernel restarts when it exits.
- Every process of the zone shares zsched's mount namespace; `halt` kills
  them all by pid and waits until they are gone.

Linux-only parts, documented as such: the host's /lib64 (the ELF
interpreter) is bound into the zone, `/.zone-sim/` holds the zone's
description and the tools' state, and devices that are not Linux nodes are
empty files that the fakes test for.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.realpath(__file__))
GLOBAL_SBIN_TOOLS = ("ifconfig", "dladm")
DOOR_DIR = "/etc/svc/volatile/ipadm"
KILL_DEADLINE_S = 60.0  # only catches a hang: SIGKILLed processes die at once

# The basic privilege set (priv_str_to_set("basic")): illumos-gate
# usr/src/uts/common/os/priv_defs, which libzonecfg's get_default_privset()
# adds to every zone's default set.
BASIC_PRIVS = {"file_link_any", "file_read", "file_write", "net_access", "proc_exec",
               "proc_fork", "proc_info", "proc_secflags", "proc_session"}
# Every privilege name illumos knows (priv_defs); anything else in limitpriv
# is "unknown", as priv_str_to_set() reports it.
KNOWN_PRIVS = BASIC_PRIVS | set("""
contract_event contract_identity contract_observer cpc_cpu dtrace_kernel dtrace_proc
dtrace_user file_chown file_chown_self file_dac_execute file_dac_read file_dac_search
file_dac_write file_downgrade_sl file_flag_set file_owner file_setid file_upgrade_sl
graphics_access graphics_map ipc_dac_read ipc_dac_write ipc_owner net_bindmlp
net_icmpaccess net_mac_aware net_mac_implicit net_observability net_privaddr
net_rawaccess proc_audit proc_chroot proc_clock_highres proc_lock_memory proc_owner
proc_priocntl proc_setid proc_taskid proc_zone sys_acct sys_admin sys_audit sys_config
sys_devices sys_dl_config sys_fs_import sys_ip_config sys_iptun_config sys_linkdir
sys_mount sys_net_config sys_nfs sys_ppp_config sys_res_bind sys_res_config
sys_resource sys_share sys_smb sys_suser_compat sys_time sys_trans_label virt_manage
win_colormap win_config win_dac_read win_dac_write win_devices win_dga
win_downgrade_sl win_fontpath win_mac_read win_mac_write win_selection
win_upgrade_sl xvm_control""".split())


class SimError(Exception):
    """A failure zoneadm reports; the message is zoneadmd's text."""


# ---------------------------------------------------------------- the brand

def brand_dir(brand):
    root = os.environ.get("VMCTL_FAKE_BRAND_DIR") or os.path.join(HERE, "..", "..", "..", "brand")
    d = os.path.realpath(os.path.join(root, brand))
    if not os.path.isfile(os.path.join(d, "config.xml")):
        raise SimError(f"brand '{brand}' has no config.xml in {d}")
    return d


def brand_config(bdir):
    """config.xml: the hooks' argv templates, initname and privilege lists."""
    tree = ET.parse(os.path.join(bdir, "config.xml")).getroot()
    cfg = {"privileges": []}
    for tag in ("initname", "install", "boot", "halt", "uninstall"):
        el = tree.find(tag)
        cfg[tag] = (el.text or "").strip() if el is not None else ""
    for p in tree.findall("privilege"):
        cfg["privileges"].append({"set": p.get("set"), "name": p.get("name"),
                                  "ip-type": p.get("ip-type", "all")})
    return cfg


def hook_argv(template, bdir, brand, zname, zonepath, extra=()):
    """The hook's argv as zoneadmd builds it: %z and %R substituted; the
    hook's /usr/lib/brand/<brand>/ path is where the brand's files are."""
    if not template:
        return None
    words = template.replace("%z", zname).replace("%R", zonepath).split()
    prefix = f"/usr/lib/brand/{brand}/"
    if words[0].startswith(prefix):
        words[0] = os.path.join(bdir, words[0][len(prefix):])
    return words + list(extra)


def run_hook(argv, env=None):
    """Runs a brand hook; returns (status, combined output)."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=env, cwd="/")
    return p.returncode, (p.stderr + p.stdout).strip()


def global_env():
    """The environment hooks run with: the global zone's tools, the fake
    zonecfg as ZONECFG, and the fake tools' own variables but the call log,
    which records the calls of zoneadm's caller, not the brand's."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith("VMCTL_FAKE_") and k != "VMCTL_FAKE_TOOLS_LOG"}
    env["PATH"] = HERE + ":/usr/sbin:/usr/bin:/sbin:/bin"
    env["ZONECFG"] = os.path.join(HERE, "zonecfg")
    return env


# ---------------------------------------------------------------- privileges

def zone_privileges(cfg, ip_type, limitpriv):
    """The zone's limit set, as libzonecfg's zonecfg_get_privset() computes
    it (illumos-gate usr/src/lib/libzonecfg/common/libzonecfg.c, stored
    version 0094b373: priv_lists_cb keeps a brand privilege when its
    ip-type is "all" or the zone's; an empty or "default" limitpriv gives
    basic + the default list with no further check; otherwise
    verify_privset() merges "default" if it is the first token, then fails
    on the first prohibited privilege present, then on the first required
    one missing).  Raises SimError with zoneadmd's text (vplat.c
    get_privset())."""
    lists = {"default": [], "prohibited": [], "required": []}
    for p in cfg["privileges"]:
        if p["ip-type"] in ("all", ip_type) and p["set"] in lists:
            lists[p["set"]].append(p["name"])
    default = BASIC_PRIVS | set(lists["default"])
    limitpriv = (limitpriv or "").strip()
    if limitpriv in ("", "default"):
        return sorted(default)
    tokens = limitpriv.split(",")
    privs = set()
    if tokens[0] == "default":
        privs |= default
        tokens = tokens[1:]
    for tok in tokens:
        neg = tok[:1] in ("!", "-")
        name = tok[1:] if neg else tok
        if name == "zone":
            raise SimError(f'unknown privilege "{name}" specified in the zone\'s privilege set')
        names = {"all": KNOWN_PRIVS, "none": set(), "basic": BASIC_PRIVS}.get(name)
        if names is None:
            if name not in KNOWN_PRIVS:
                raise SimError(f'unknown privilege "{name}" specified in the zone\'s privilege set')
            names = {name}
        privs = privs - names if neg else privs | names
    for name in lists["prohibited"]:
        if name in privs:
            raise SimError(f'privilege "{name}" is not permitted within the zone\'s privilege set')
    for name in lists["required"]:
        if name not in privs:
            raise SimError(f'required privilege "{name}" is missing from the zone\'s privilege set')
    return sorted(privs)


# ---------------------------------------------------------------- /dev

def zvol_path(state_dir, dataset):
    return os.path.join(state_dir, "zvol", "rdsk", dataset)


def dev_catalogue(state_dir, st, zname):
    """The simulated global /dev that platform.xml and zonecfg device
    matches pick from: relative path -> ("node"|"bind", host path),
    ("file", None), ("dir", None) or ("link", target)."""
    cat = {}
    for n in ("null", "zero", "random", "urandom"):
        cat[n] = ("node", "/dev/" + n)
    cat["fd"] = ("link", "/proc/self/fd")
    for n in ("poll", "kstat", "vmmctl", "viona", "dld", "arp", "ip", "ip6", "icmp", "icmp6",
              "tcp", "tcp6", "udp", "udp6", "rts", "dtrace/helper"):
        cat[n] = ("file", None)
    for d in ("rdsk", "vmm", "ipnet", "dtrace/provider"):
        cat[d] = ("dir", None)
    # /dev/net of an exclusive-IP zone lists the zone's own links only
    # (sdev's /dev/net is zone-aware).
    for n in st["zones"][zname].get("net", []):
        if n.get("physical") in st["vnics"]:
            cat["net/" + n["physical"]] = ("file", None)
    cat[f"zcons/{zname}/zoneconsole"] = ("bind", console_log(state_dir, zname))
    for ds, e in st["datasets"].items():
        if e["type"] == "volume":
            cat["zvol/rdsk/" + ds] = ("bind", zvol_path(state_dir, ds))
    for path in list(cat):  # parent directories exist too
        parts = path.split("/")
        for i in range(1, len(parts)):
            cat.setdefault("/".join(parts[:i]), ("dir", None))
    return cat


def glob_regex(pattern):
    """A device match: a shell glob where * and ? do not cross '/'
    (libzonecfg matches /dev names with fnmatch(3C) FNM_PATHNAME)."""
    out = []
    for c in pattern:
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
    return re.compile("".join(out) + r"\Z")


def match_devices(cat, pattern, name=None):
    """Catalogue entries a match selects (a directory brings its subtree),
    keyed by their path in the zone's /dev (`name` renames a single match)."""
    rx = glob_regex(pattern)
    picked = {}
    for path in sorted(cat):
        if rx.match(path):
            dest = name if name else path
            picked[dest] = cat[path]
            if cat[path][0] == "dir":
                for sub in cat:
                    if sub.startswith(path + "/"):
                        picked[dest + sub[len(path):]] = cat[sub]
    return picked


# ---------------------------------------------------------------- the plan

def console_log(state_dir, zname):
    return os.path.join(zone_dir(state_dir, zname), "console.log")


def zone_dir(state_dir, zname):
    return os.path.join(state_dir, "zones", zname)


def parse_platform(bdir, zname, zonepath, ip_type):
    root = ET.parse(os.path.join(bdir, "platform.xml")).getroot()
    sub = lambda s: (s or "").replace("%z", zname).replace("%R", zonepath)  # noqa: E731
    mounts, devices, links = [], [], []
    for el in root:
        if el.tag in ("global_mount", "mount"):
            mounts.append({"special": sub(el.get("special")), "dir": sub(el.get("directory")),
                           "type": el.get("type"), "opt": sub(el.get("opt")),
                           "global": el.tag == "global_mount"})
        elif el.tag == "device":
            if el.get("ip-type") in (None, ip_type):
                devices.append((sub(el.get("match")), el.get("name")))
        elif el.tag == "symlink":
            links.append((el.get("source"), el.get("target")))
    return mounts, devices, links


def write_wrapper(path, body):
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/usr/bin/python3\n# zone simulator: runs the fake tool from /.zone-sim/lib\n"
                "import sys\nsys.dont_write_bytecode = True\nsys.path.insert(0, '/.zone-sim/lib')\n"
                + body)
    os.chmod(path, 0o755)


def build_global_additions(sim, bdir, brand):
    """The global zone's files the simulator adds to the host's: /sbin with
    the fake tools, /usr/sbin/<tool> -> ../../sbin/<tool> as SUNWcs.mf links
    them (illumos-gate usr/src/pkg/manifests/SUNWcs.mf), the brand under
    /usr/lib/brand/<brand>/, and /lib/inet/ipmgmtd."""
    shutil.rmtree(sim, ignore_errors=True)
    for d in ("sbin", "usr-add/sbin", "usr-add/lib/brand", "lib-add/inet"):
        os.makedirs(os.path.join(sim, d))
    for tool in GLOBAL_SBIN_TOOLS:
        write_wrapper(os.path.join(sim, "sbin", tool),
                      f"import fake_tool\nsys.exit(fake_tool.main({tool!r}))\n")
        os.symlink(f"../../sbin/{tool}", os.path.join(sim, "usr-add/sbin", tool))
    shutil.copytree(bdir, os.path.join(sim, "usr-add/lib/brand", brand), symlinks=True)
    write_wrapper(os.path.join(sim, "lib-add/inet/ipmgmtd"),
                  "import fake_ipmgmtd\nsys.exit(fake_ipmgmtd.main(sys.argv))\n")


def boot_plan(state_dir, st, zname, z, privileges):
    """Everything zsched needs, decided in the global zone before it starts."""
    bdir = brand_dir(z["brand"])
    cfg = brand_config(bdir)
    zonepath = z["zonepath"]
    root = os.path.realpath(os.path.join(zonepath, "root"))
    if not os.path.isdir(root):
        raise SimError(f"zone root {root} does not exist")
    if not os.path.exists("/usr/bin/python3"):
        raise SimError("the zone simulator needs /usr/bin/python3 (Debian package python3)")
    zd = zone_dir(state_dir, zname)
    sim = os.path.join(zd, "sim")
    build_global_additions(sim, bdir, z["brand"])
    zone_json = os.path.join(zd, "zone.json")
    links = [n["physical"] for n in z.get("net", []) if n.get("physical")]
    with open(zone_json, "w", encoding="utf-8") as f:
        json.dump({"zonename": zname, "zoneid": z["zoneid"], "brand": z["brand"],
                   "ip_type": z["ip-type"], "privileges": privileges, "links": links}, f, indent=1)
    open(console_log(state_dir, zname), "a").close()
    mounts, dev_matches, dev_links = parse_platform(bdir, zname, zonepath, z["ip-type"])
    for fs in z.get("fs", []):
        mounts.append({"special": fs["special"], "dir": fs["dir"], "type": fs["type"],
                       "opt": ",".join(fs.get("options", [])), "global": False})
    for dev in z.get("device", []):
        m = dev["match"]
        dev_matches.append((m[len("/dev/"):] if m.startswith("/dev/") else m, None))
    cat = dev_catalogue(state_dir, st, zname)
    devices = {}
    for pattern, name in dev_matches:
        devices.update(match_devices(cat, pattern, name))
    return {"zonename": zname, "root": root, "sim": sim, "zone_json": zone_json,
            "state_dir": state_dir, "console": console_log(state_dir, zname),
            "mounts": mounts, "devices": devices, "dev_links": dev_links,
            "boot": hook_argv(cfg["boot"], bdir, z["brand"], zname, zonepath),
            "initname": cfg["initname"], "env": global_env()}


# ---------------------------------------------------------------- zoneadm's side

def boot(state_dir, st, zname, z, privileges):
    """Starts zsched and waits for its verdict on the boot hook.  Returns
    zsched's pid (the zone's init_pid); raises SimError with the hook's
    output when the boot fails (zsched is then gone)."""
    if shutil.which("unshare") is None:
        raise SimError("the zone simulator needs unshare (Debian package util-linux)")
    plan = boot_plan(state_dir, st, zname, z, privileges)
    plan_path = os.path.join(zone_dir(state_dir, zname), "boot-plan.json")
    with open(plan_path, "w", encoding="utf-8") as f:
        json.dump(plan, f, indent=1)
    console = open(plan["console"], "ab")
    try:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "/usr/bin/python3",
             os.path.join(HERE, "zone_sim.py"), "zsched", plan_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=console,
            start_new_session=True, close_fds=True)
    finally:
        console.close()
    verdict = proc.stdout.read().decode(errors="replace")
    proc.stdout.close()
    if not verdict.startswith("OK"):
        proc.wait()
        raise SimError(verdict.partition("\n")[2].strip() or
                       f"zsched exited with status {proc.returncode}: {console_tail(plan['console'])}")
    return proc.pid


def console_tail(path):
    """The console's last line: where unshare or zsched said why they died
    (e.g. no CAP_SYS_ADMIN for a mount namespace)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
    except OSError:
        lines = []
    return lines[-1] if lines else f"see {path}"


def mount_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def alive(pid):
    """A zombie counts as gone: it holds no resources but its slot."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start_time(pid):
    """When the process started (clock ticks since boot; /proc/PID/stat field
    22): with the pid, it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def namespace_pids(ns):
    """The live processes in mount namespace `ns` ("mnt:[inode]")."""
    pids = set()
    for name in os.listdir("/proc"):
        if name.isdigit() and mount_ns(int(name)) == ns and alive(int(name)):
            pids.add(int(name))
    return pids


def kill_zone(init_pid, ns, init_start=None):
    """SIGKILLs every process of the zone until none is left.

    The zone's processes are those in its mount namespace, which zsched made
    and all of them inherit. A namespace's inode is reused once its last
    process is gone, by the next namespace made, maybe another test's zone.
    So the namespace is first pinned, by opening it through zsched (the
    pid and start time recorded at boot say it is still ours): while the fd
    is open, its inode names this zone and no other. A zsched that is gone
    leaves nothing that can be told apart safely, so nothing is killed."""
    if not init_pid or not ns:
        return
    try:
        fd = os.open(f"/proc/{init_pid}/ns/mnt", os.O_RDONLY)
    except OSError:
        return
    try:
        if f"mnt:[{os.fstat(fd).st_ino}]" != ns:
            return
        if init_start is not None and start_time(init_pid) != init_start:
            return
        deadline = time.monotonic() + KILL_DEADLINE_S
        while True:
            pids = namespace_pids(ns)
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise SimError(f"zone processes {sorted(pids)} survived SIGKILL")
            time.sleep(0.05)
    finally:
        os.close(fd)


def kill_all(state_dir):
    """Test teardown: kills every simulated zone's processes by pid."""
    try:
        with open(os.path.join(state_dir, "state.json"), encoding="utf-8") as f:
            zones = json.load(f).get("zones", {})
    except FileNotFoundError:
        return 0
    for z in zones.values():
        if z.get("init_pid"):
            kill_zone(z["init_pid"], z.get("mount_ns"), z.get("init_start"))
    return 0


# ---------------------------------------------------------------- zsched

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
PR_SET_CHILD_SUBREAPER = 36


def sys_mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    if libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        e = ctypes.get_errno()
        raise SimError(f"cannot mount {source} on {target}: {os.strerror(e)}")


def inside(root, path):
    """root + path, refusing a mount point that resolves outside the root
    (zoneadmd refuses mount points that leave the zone's root)."""
    target = os.path.join(root, path.lstrip("/"))
    if os.path.islink(target):
        raise SimError(f"cannot mount on {path}: it is a symbolic link")
    real = os.path.realpath(target)
    if real != root and not real.startswith(root + "/"):
        raise SimError(f"{path} is not in the zone's root: it resolves to {real}")
    return target


def mount_one(plan, m):
    root, sim = plan["root"], plan["sim"]
    target = inside(root, m["dir"])
    ro = "ro" in (m["opt"] or "").split(",")
    kind = m["type"]
    if kind == "dev":
        os.makedirs(target, exist_ok=True)
        sys_mount("swap", target, "tmpfs", 0, "mode=0755")
        populate_dev(plan, target)
        return
    os.makedirs(target, exist_ok=True)
    if kind == "proc":
        sys_mount("proc", target, "proc", 0)
    elif kind == "tmpfs":
        size = [o for o in (m["opt"] or "").split(",") if o.startswith("size=")]
        sys_mount("swap", target, "tmpfs", 0, ",".join(size) or None)
    elif kind == "lofs":
        special = m["special"]
        if m["global"] and special in ("/usr", "/lib"):
            add = os.path.join(sim, special.strip("/") + "-add")
            sys_mount("overlay", target, "overlay", MS_RDONLY,
                      f"lowerdir={add}:{os.path.realpath(special)}")
            return
        source = os.path.join(sim, "sbin") if m["global"] and special == "/sbin" else special
        if not os.path.exists(source):
            raise SimError(f"cannot mount {special} on {m['dir']}: No such file or directory")
        sys_mount(source, target, None, MS_BIND)
        if ro:
            sys_mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    else:
        raise SimError(f"file system type {kind} is not simulated")


def populate_dev(plan, devroot):
    for rel, (kind, src) in sorted(plan["devices"].items()):
        path = os.path.join(devroot, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if kind == "dir":
            os.makedirs(path, exist_ok=True)
        elif kind == "link":
            os.symlink(src, path)
        else:
            with open(path, "a"):
                pass
            os.chmod(path, 0o666)
            if kind in ("node", "bind"):
                sys_mount(src, path, None, MS_BIND)
    for source, target in plan["dev_links"]:
        os.symlink(target, os.path.join(devroot, source))


def mount_sim(plan):
    """/.zone-sim (the zone's description, the tools' state and code) and
    the host's /lib64: the only Linux-only parts of the zone."""
    root = plan["root"]
    zs = inside(root, "/.zone-sim")
    os.makedirs(zs, exist_ok=True)
    sys_mount("swap", zs, "tmpfs", 0, "size=1m")
    for name, src, ro in (("zone.json", plan["zone_json"], True),
                          ("tools-state", plan["state_dir"], False),
                          ("lib", HERE, True)):
        dst = os.path.join(zs, name)
        if os.path.isdir(src):
            os.makedirs(dst)
        else:
            open(dst, "w").close()
        sys_mount(src, dst, None, MS_BIND)
        if ro:
            sys_mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    if os.path.isdir("/lib64"):
        lib64 = inside(root, "/lib64")
        os.makedirs(lib64, exist_ok=True)
        sys_mount(os.path.realpath("/lib64"), lib64, None, MS_BIND)
        sys_mount(None, lib64, None, MS_BIND | MS_REMOUNT | MS_RDONLY)


def start_init(plan):
    """Forks the zone's init: chrooted, no environment (the kernel's
    exec_init passes none), stdin /dev/null, output to the zone console."""
    pid = os.fork()
    if pid:
        return pid
    try:
        fd = os.open(plan["console"], os.O_WRONLY | os.O_APPEND)
        null = os.open("/dev/null", os.O_RDONLY)
        os.chroot(plan["root"])
        os.chdir("/")
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.closerange(3, 65536)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.execve(plan["initname"], [plan["initname"]], {})
    except OSError as e:
        os.write(2, f"zone simulator: cannot exec init {plan['initname']}: {e.strerror}\n".encode())
    os._exit(127)


def exit_reason(status):
    """exit_reason() in illumos-gate usr/src/uts/common/os/exit.c."""
    if os.WIFSIGNALED(status):
        return f"exited on fatal signal {os.WTERMSIG(status)}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def zsched(plan_path):
    """The zone's first process (zsched's stand-in), in its own session and
    mount namespace: mounts, the boot hook, then init, restarted whenever
    it exits."""
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    status = os.fdopen(os.dup(1), "w")
    os.dup2(os.open("/dev/null", os.O_WRONLY), 1)  # nothing else holds zoneadm's pipe
    try:
        for m in sorted(plan["mounts"], key=lambda m: m["dir"].rstrip("/").count("/")):
            mount_one(plan, m)
        mount_sim(plan)
        if plan["boot"]:
            code, out = run_hook(plan["boot"], plan["env"])
            if code != 0:
                raise SimError(out or f"{plan['boot'][0]} exited with status {code}")
    except (SimError, OSError) as e:
        status.write(f"FAIL\n{e}\n")
        status.close()
        return 1
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    status.write("OK\n")
    status.close()
    supervise(plan)
    return 0


def supervise(plan):
    """Restarts init when it exits, as the kernel's proc_exit() calls
    restart_init() for a zone's init while the zone is running
    (illumos-gate usr/src/uts/common/os/exit.c, stored version 550f2e90):
    it logs "init(1M) <reason>: restarting automatically" on the zone's
    console and re-execs init at once.  The pause before the restart is the
    simulator's own, so a failing init does not spin on a loaded machine.
    Orphans of the zone are reaped here (zsched is their subreaper)."""
    init = start_init(plan)
    while True:
        pid, st = os.wait()
        if pid != init:
            continue
        with open(plan["console"], "a", encoding="utf-8") as con:
            con.write(f"WARNING: init(1M) {exit_reason(st)}: restarting automatically\n")
        time.sleep(0.5)
        init = start_init(plan)


def main(argv):
    if len(argv) == 3 and argv[1] == "zsched":
        return zsched(argv[2])
    if len(argv) == 3 and argv[1] == "kill-all":
        return kill_all(argv[2])
    sys.stderr.write("usage: zone_sim.py zsched PLAN | kill-all STATE_DIR\n")
    return 2


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    sys.exit(main(sys.argv))
