#!/usr/bin/env python3
"""Tests of the zone simulator (tests/propolis/fake-tools) with the
nebula-vm brand's real files: each defect of issue 14 that lives in the
brand or in the zone's layout is shown to fail in a zone that has it.

Run as root (CI is): zones are private mount namespaces.  A zone's init
execs the simulator's stand-in server (sim-testdata/propolis-server), never
the fake server.  Every zone process is killed by pid when a test ends.
VMCTL_TEST_BRAND_DIR runs the tests against another copy of brand/ (e.g.
the brand before the fixes, to see them fail).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.realpath(__file__))
TOOLS = os.path.join(HERE, "fake-tools")
STAND_IN = os.path.join(HERE, "sim-testdata", "propolis-server")
BRAND = os.environ.get("VMCTL_TEST_BRAND_DIR") or os.path.join(HERE, "..", "..", "brand", "nebula-vm")
ZONE = "vmctl-web"
DEADLINE = 60.0  # catches hangs only

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, TOOLS)
from zone_sim import alive, mount_ns  # noqa: E402  (the simulator's own view of a zone's processes)


def wait_for(what, check, detail=lambda: ""):
    deadline = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} {detail()}")
        time.sleep(0.1)


class ZoneSimTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zone-sim-test-")
        self.state = os.path.join(self.tmp, "state")
        self.brands = os.path.join(self.tmp, "brands")
        shutil.copytree(BRAND, os.path.join(self.brands, "nebula-vm"))
        self.env = dict(os.environ, VMCTL_FAKE_TOOLS_STATE=self.state,
                        VMCTL_FAKE_BRAND_DIR=self.brands)
        self.env.pop("VMCTL_FAKE_TOOLS_FAIL", None)
        self.propolis = os.path.join(self.tmp, "propolis")
        os.makedirs(os.path.join(self.propolis, "bin"))
        os.makedirs(os.path.join(self.propolis, "firmware"))
        shutil.copy(STAND_IN, os.path.join(self.propolis, "bin", "propolis-server"))
        with open(os.path.join(self.propolis, "firmware", "OVMF_CODE.fd"), "w") as f:
            f.write("rom")

    def tearDown(self):
        try:
            subprocess.run([sys.executable, os.path.join(TOOLS, "zone_sim.py"), "kill-all", self.state],
                           timeout=DEADLINE + 30, check=False)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def tool(self, *argv, check=True):
        p = subprocess.run([os.path.join(TOOLS, argv[0]), *argv[1:]], env=self.env, text=True,
                           capture_output=True, timeout=DEADLINE, stdin=subprocess.DEVNULL)
        if check:
            self.assertEqual(p.returncode, 0, f"{argv}: {p.stderr}")
        return p

    def brand_file(self, name):
        return os.path.join(self.brands, "nebula-vm", name)

    def edit_brand(self, name, old, new):
        path = self.brand_file(name)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(old, text, f"{name} no longer has what this test changes")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))

    def drop_from_xml(self, fname, tag, **attrs):
        """Removes the brand XML elements with these attributes."""
        path = self.brand_file(fname)
        tree = ET.parse(path)
        root = tree.getroot()
        for el in [el for el in root if el.tag == tag and all(el.get(k) == v for k, v in attrs.items())]:
            root.remove(el)
        tree.write(path)

    def configure(self, api="127.0.0.5/8", listen="127.0.0.5:12400", bootrom=None, propolis=None,
                  limitpriv=None, data_disks=()):
        self.tool("zfs", "create", "-p", "-V", "1G", "rpool/vms/web")
        for dataset in data_disks:
            self.tool("zfs", "create", "-p", "-s", "-V", "1G", dataset)
        for link in ("vmctl_web_0", "vmctl_web_api0", "other0"):
            self.tool("dladm", "create-vnic", "-l", "net0", link)
        attrs = [("bootrom", bootrom or "/opt/oxide/propolis-server/firmware/OVMF_CODE.fd"),
                 ("api-address", listen), ("api-vnic", "vmctl_web_api0")]
        if propolis:
            attrs.append(("propolis-server", propolis))
        lines = ["create -b", "set brand=nebula-vm", f"set zonepath={self.tmp}/zones/{ZONE}",
                 "set ip-type=exclusive", "set autoboot=false"]
        if limitpriv:
            lines.append(f'set limitpriv="{limitpriv}"')
        lines += ["add net", "set physical=vmctl_web_0", "end",
                  "add net", "set physical=vmctl_web_api0", f'set allowed-address="{api}"', "end",
                  "add device", "set match=/dev/zvol/rdsk/rpool/vms/web", "end"]
        for dataset in data_disks:
            lines += ["add device", f"set match=/dev/zvol/rdsk/{dataset}", "end"]
        lines += ["add fs", "set dir=/opt/oxide/propolis-server", f"set special={self.propolis}",
                  "set type=lofs", "add options ro", "end"]
        for name, value in attrs:
            lines += ["add attr", f"set name={name}", "set type=string", f'set value="{value}"', "end"]
        lines.append("commit")
        cmdfile = os.path.join(self.tmp, "zone.cfg")
        with open(cmdfile, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.tool("zonecfg", "-z", ZONE, "-f", cmdfile)
        self.tool("zoneadm", "-z", ZONE, "install")

    def zone(self):
        with open(os.path.join(self.state, "state.json"), encoding="utf-8") as f:
            return json.load(f)["zones"][ZONE]

    def root(self):
        return os.path.join(self.tmp, "zones", ZONE, "root")

    def console(self):
        try:
            with open(os.path.join(self.state, "zones", ZONE, "console.log"), encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def standin_lines(self):
        try:
            with open(os.path.join(self.state, "standin.log"), encoding="utf-8") as f:
                return [line.split(" ", 2) for line in f.read().splitlines()]
        except FileNotFoundError:
            return []

    def in_zone(self, *argv):
        """Runs argv inside the booted zone: its mount namespace, chrooted,
        without the global zone's tool variables."""
        pid = self.zone()["init_pid"]
        return subprocess.run(["nsenter", "-t", str(pid), "-m", "--", "chroot", self.root(), *argv],
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin"}, text=True,
                              capture_output=True, timeout=DEADLINE)

    def boot_until_server_runs(self):
        self.tool("zoneadm", "-z", ZONE, "boot")
        return wait_for("the stand-in server", self.standin_lines)[0]

    # ------------------------------------------------------------ tests

    def test_boot_configures_the_api_address_and_halt_kills_every_process(self):
        self.configure()
        zonename, server_pid, argv = self.boot_until_server_runs()
        self.assertEqual(zonename, ZONE)
        self.assertEqual(argv, "run /opt/oxide/propolis-server/firmware/OVMF_CODE.fd "
                               "127.0.0.5:12400 --log-level info")
        z = self.zone()
        self.assertEqual(z["state"], "running")
        self.assertEqual(z["plumbed"], ["vmctl_web_api0/inet"])
        self.assertEqual(z["addresses"], [{"link": "vmctl_web_api0", "family": "inet",
                                           "address": "127.0.0.5", "prefix": 8, "up": True}])
        ifconfig = self.in_zone("/usr/sbin/ifconfig", "-a")
        self.assertIn("inet 127.0.0.5 netmask ff000000", ifconfig.stdout, ifconfig.stderr)
        pids = {z["init_pid"], int(server_pid)}
        pids |= {int(p) for p in os.listdir("/proc") if p.isdigit() and
                 mount_ns(int(p)) == z["mount_ns"]}
        self.assertTrue(all(alive(p) for p in pids))
        self.tool("zoneadm", "-z", ZONE, "halt")
        self.assertEqual([p for p in pids if alive(p)], [], "zone processes outlived the halt")
        z = self.zone()
        self.assertEqual((z["state"], z["plumbed"], z["addresses"]), ("installed", [], []))
        self.assertFalse(os.path.exists(os.path.join(self.root(), "etc/nebula-vm.conf")),
                         "the halt hook ran")

    def test_an_ipv6_api_address_is_configured_too(self):
        self.configure(api="fd00::5/64", listen="[fd00::5]:12400")
        _, _, argv = self.boot_until_server_runs()
        self.assertIn(" [fd00::5]:12400 ", argv)
        self.assertEqual(self.zone()["addresses"], [{"link": "vmctl_web_api0", "family": "inet6",
                                                     "address": "fd00::5", "prefix": 64, "up": True}])

    def test_a_zone_writes_its_data_disk_and_a_rollback_brings_the_old_bytes_back(self):
        self.tool("zfs", "create", "-p", "-s", "-V", "1G", "rpool/vm-disks/other/db")
        self.configure(data_disks=["rpool/vm-disks/web/db"])
        self.tool("zfs", "snapshot", "rpool/vms/web@clean", "rpool/vm-disks/web/db@clean")
        self.boot_until_server_runs()
        disk = "/dev/zvol/rdsk/rpool/vm-disks/web/db"
        wrote = self.in_zone("sh", "-c", f"printf written | dd of={disk} conv=notrunc 2>/dev/null")
        self.assertEqual(wrote.returncode, 0, wrote.stderr)
        self.assertEqual(self.in_zone("test", "-e", "/dev/zvol/rdsk/rpool/vm-disks/other/db").returncode, 1,
                         "another VM's data disk is not the zone's")
        volume = os.path.join(self.state, "zvol", "rdsk", "rpool/vm-disks/web/db")
        with open(volume, "rb") as f:
            self.assertEqual(f.read(7), b"written")
        self.tool("zoneadm", "-z", ZONE, "halt")
        self.tool("zfs", "rollback", "-r", "rpool/vm-disks/web/db@clean")
        with open(volume, "rb") as f:
            self.assertEqual(f.read(7), b"\0" * 7)

    def test_a_zone_sees_its_own_links_and_its_zvol(self):
        self.configure()
        self.boot_until_server_runs()
        links = self.in_zone("/usr/sbin/dladm", "show-vnic", "-p", "-o", "link")
        self.assertEqual(links.stdout.split(), ["vmctl_web_0", "vmctl_web_api0"], links.stderr)
        self.assertEqual(self.in_zone("test", "-e", "/dev/zvol/rdsk/rpool/vms/web").returncode, 0)
        self.assertEqual(self.in_zone("test", "-e", "/dev/net/other0").returncode, 1)
        self.assertEqual(self.tool("dladm", "show-vnic", "-p", "-o", "link").stdout.split(),
                         ["other0", "vmctl_web_0", "vmctl_web_api0"], "the global zone sees all")

    def test_without_the_dtrace_helper_the_server_panics_and_init_restarts(self):
        # Defect 1: propolis-server unwraps register_probes(), which opens
        # /dev/dtrace/helper.
        self.drop_from_xml("platform.xml", "device", match="dtrace/helper")
        self.configure()
        self.tool("zoneadm", "-z", ZONE, "boot")
        wait_for("init's restart", lambda: "init(1M) exited with status 101: restarting automatically"
                 in self.console(), lambda: self.console())
        with open(os.path.join(self.root(), "var/log/propolis-server.log"), encoding="utf-8") as log:
            self.assertIn("called `Result::unwrap()` on an `Err` value", log.read())
        self.assertEqual(self.standin_lines(), [])

    def test_the_old_sbin_link_makes_ifconfig_loop(self):
        # Defect 2a: the old install made /sbin -> usr/sbin and platform.xml
        # did not mount the global /sbin; the global /usr/sbin/ifconfig is a
        # link to ../../sbin/ifconfig, so every path to ifconfig loops, in
        # the zone as on illumos: the kernel resolves the links.
        self.drop_from_xml("platform.xml", "global_mount", special="/sbin")
        self.configure()
        sbin = os.path.join(self.root(), "sbin")
        if not os.path.islink(sbin):
            os.rmdir(sbin)
            os.symlink("usr/sbin", sbin)
        self.tool("zoneadm", "-z", ZONE, "boot")
        for path in ("/usr/sbin/ifconfig", "/sbin/ifconfig", "/usr/sbin/dladm"):
            loop = self.in_zone(path, "-a")
            self.assertIn("Too many levels of symbolic links", loop.stderr, path)
        init_log = lambda: self.console() + self.read_root("var/log/propolis-server.log")  # noqa: E731
        wait_for("init to hit the loop", lambda: "Too many levels of symbolic links" in init_log(), init_log)
        self.assertEqual(self.standin_lines(), [], "the server never starts unconfigured")

    def read_root(self, rel):
        try:
            with open(os.path.join(self.root(), rel), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def test_without_sys_ip_config_ifconfig_is_refused(self):
        # Defect 2b: the exclusive-IP zone needs sys_ip_config to plumb.
        for which in ("default", "required"):
            self.drop_from_xml("config.xml", "privilege", name="sys_ip_config", set=which)
        self.configure()
        self.tool("zoneadm", "-z", ZONE, "boot")
        wait_for("init's complaint", lambda: "nebula-vm init:" in self.console())
        self.assertIn("ifconfig: cannot plumb vmctl_web_api0: Permission denied", self.console())
        self.assertNotIn("sys_ip_config", self.zone_json()["privileges"])
        self.assertEqual(self.standin_lines(), [])
        self.assertEqual(self.zone()["addresses"], [])

    def zone_json(self):
        with open(os.path.join(self.state, "zones", ZONE, "zone.json"), encoding="utf-8") as f:
            return json.load(f)

    def test_a_limit_set_without_a_required_privilege_fails_the_boot(self):
        self.configure(limitpriv="default,!sys_ip_config")
        p = self.tool("zoneadm", "-z", ZONE, "boot", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"zoneadm: zone '{ZONE}': required privilege \"sys_ip_config\" is missing "
                      "from the zone's privilege set", p.stderr)
        self.assertEqual(self.zone()["state"], "installed")

    def test_without_ipmgmtd_no_address_can_be_created(self):
        # Defect 2c: ifconfig's libipadm asks ipmgmtd through its door.
        self.edit_brand("init", "/lib/inet/ipmgmtd </dev/null", "/bin/true </dev/null")
        self.configure()
        self.tool("zoneadm", "-z", ZONE, "boot")
        wait_for("init's complaint", lambda: "nebula-vm init:" in self.console())
        self.assertIn("ifconfig: could not create address: Object not found", self.console())
        self.assertEqual(self.standin_lines(), [])

    def test_ipmgmtd_refuses_to_run_outside_smf(self):
        p = subprocess.run([os.path.join(TOOLS, "ipmgmtd")], env={"PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual(p.returncode, 22)
        self.assertIn("ipmgmtd is a smf(5) managed service", p.stderr)

    def test_the_boot_hook_looks_for_the_bootrom_inside_the_zone(self):
        # Defect 5: a bootrom that exists in the global zone only.
        global_rom = os.path.join(self.tmp, "global-only.fd")
        open(global_rom, "w").close()
        self.configure(bootrom=global_rom)
        p = self.tool("zoneadm", "-z", ZONE, "boot", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"bootrom {global_rom} is not a readable file in the zone", p.stderr)
        self.assertEqual(self.zone()["state"], "installed")
        self.assertEqual(self.standin_lines(), [])

    def test_the_boot_hook_takes_a_quoted_value_as_zonecfg_info_prints_it(self):
        # zonecfg info quotes a value holding a space (quoteit()).
        shutil.copy(STAND_IN, os.path.join(self.propolis, "bin", "propolis server"))
        self.configure(propolis="/opt/oxide/propolis-server/bin/propolis server")
        _, _, argv = self.boot_until_server_runs()
        self.assertTrue(argv.startswith("run /opt/oxide/propolis-server/firmware/OVMF_CODE.fd "), argv)

    def test_the_boot_hook_looks_for_the_server_inside_the_zone(self):
        self.configure(propolis=STAND_IN)  # a global path
        p = self.tool("zoneadm", "-z", ZONE, "boot", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"propolis-server {STAND_IN} is not an executable file in the zone", p.stderr)
        self.assertEqual(self.zone()["state"], "installed")


class ZonecfgGrammarTest(unittest.TestCase):
    """zonecfg's lexer (zonecfg_lex.l): an unquoted [ opens a list."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zonecfg-test-")
        self.env = dict(os.environ, VMCTL_FAKE_TOOLS_STATE=os.path.join(self.tmp, "state"))
        self.env.pop("VMCTL_FAKE_TOOLS_FAIL", None)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def zonecfg(self, text):
        path = os.path.join(self.tmp, "cmds")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return subprocess.run([os.path.join(TOOLS, "zonecfg"), "-z", "z1", "-f", path], env=self.env,
                              text=True, capture_output=True, timeout=DEADLINE)

    def info(self, *what):
        return subprocess.run([os.path.join(TOOLS, "zonecfg"), "-z", "z1", "info", *what], env=self.env,
                              text=True, capture_output=True, timeout=DEADLINE).stdout

    HEAD = "create -b\nset zonepath=/zones/z1\nadd attr\nset name=api-address\nset type=string\n"

    def test_an_unquoted_ipv6_address_is_a_syntax_error(self):
        p = self.zonecfg(self.HEAD + "set value=[fd00::5]:12400\nend\ncommit\n")
        self.assertEqual(p.returncode, 1)
        self.assertIn("syntax error on line 6 at ':12400'", p.stderr)

    def test_a_quoted_ipv6_address_is_one_value(self):
        p = self.zonecfg(self.HEAD + 'set value="[fd00::5]:12400"\nend\ncommit\n')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("\tvalue: [fd00::5]:12400\n", self.info("attr", "name=api-address"))

    def test_info_quotes_values_with_a_space_only(self):
        p = self.zonecfg(self.HEAD + 'set value="a b;c#d"\nend\n# a comment\ncommit; exit\n')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('\tvalue: "a b;c#d"\n', self.info("attr"))

    def test_lists_and_quotes_follow_the_lexer(self):
        p = self.zonecfg("create -b\nset zonepath=/zones/z1\nadd fs\nset dir=/a\nset special=/b\n"
                         "set type=lofs\nadd options [ro,nodevices]\nend\ncommit\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("\toptions: [ro,nodevices]\n", self.info("fs"))
        p = self.zonecfg("set zonepath=/zones/z2 x\n")
        self.assertIn("syntax error on line 1 at 'x'", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
