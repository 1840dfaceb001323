"""The fake illumos ifconfig, inside a simulated zone only (/sbin/ifconfig).

Forms: `ifconfig -a`, `ifconfig L [inet|inet6] plumb`,
`ifconfig L [inet|inet6] ADDR[/PREFIX] [up]`.  It records what it
configures in state.json under the zone (`plumbed`, `addresses`).

Its failures follow illumos-gate (stored versions):
- usr/src/cmd/cmd-inet/usr.sbin/ifconfig/ifconfig.c: inetplumb() prints
  "ifconfig: cannot plumb %s: %s" with ipadm_status2str(), and exits 0 when
  the interface already exists; setting an address goes through
  ipadm_create_addr() and prints "ifconfig: could not create address:% s";
  ipadmerr_exit() prints "ifconfig: %s: %s".
- usr/src/lib/libipadm/common/libipadm.c: ipadm_open() opens libdladm in an
  exclusive-IP zone (IPADM_DLADM_FAILURE, "Datalink does not exist", when
  /dev/dld is missing); ipadm_door_call() open()s the ipmgmtd door and
  returns errno: ENOENT gives IPADM_NOTFOUND, "Object not found"; a door
  nobody serves, EBADF: IPADM_IPC_ERROR, "Could not communicate with
  ipmgmtd".  EPERM from the kernel (no sys_ip_config) is IPADM_EPERM,
  "Permission denied"; a link that is not the zone's cannot be opened by
  DLPI: IPADM_DLPI_FAILURE, "Could not open DLPI link".
- ipadm_addr.c ipadm_create_addr(): the address object is looked up and
  added in ipmgmtd (a door call) before the interface is plumbed if needed.
"""

import ipaddress
import json
import os
import socket

import fake_tool as ft

DOOR = "/etc/svc/volatile/ipadm/ipmgmt_door"
EPERM, DLPI, DLADM = "Permission denied", "Could not open DLPI link", "Datalink does not exist"
IF_EXISTS = "Interface already exists"


def zone_info():
    with open(ft.ZONE_JSON, encoding="utf-8") as f:
        return json.load(f)


def door_call():
    """None when ipmgmtd answers, else libipadm's status text."""
    if not os.path.exists(DOOR):
        return "Object not found"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(DOOR)
            s.sendall(b"lookupadd\n")
            if s.makefile().readline().strip() == "ok":
                return None
    except OSError:
        pass
    return "Could not communicate with ipmgmtd"


def plumb_status(zi, zone, link, family):
    """What i_ipadm_create_if() would answer."""
    if "sys_ip_config" not in zi["privileges"]:
        return EPERM
    if link not in zi["links"] or not os.path.exists(f"/dev/net/{link}"):
        return DLPI
    if f"{link}/{family}" in zone.get("plumbed", []):
        return IF_EXISTS
    return None


def configure(zi, zone, link, family, words):
    plumb = "plumb" in words
    up = "up" in words
    addrs = [w for w in words if w not in ("plumb", "up")]
    if plumb:
        status = plumb_status(zi, zone, link, family)
        if status:
            raise ft.ToolError(f"ifconfig: cannot plumb {link}: {status}",
                               0 if status == IF_EXISTS else 1)
        zone.setdefault("plumbed", []).append(f"{link}/{family}")
    if not addrs:
        return
    if len(addrs) != 1:
        raise ft.ToolError("usage: ifconfig <interface> [ <addr_family> ] "
                           "[ <address>[/<prefix_length>] ] [ up ]")
    text = addrs[0]
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ft.ToolError(f"ifconfig: {text}: bad address")
    if (iface.version == 6) != (family == "inet6"):
        raise ft.ToolError(f"ifconfig: {text}: bad address")
    status = door_call()
    if status is None and f"{link}/{family}" not in zone.get("plumbed", []):
        status = plumb_status(zi, zone, link, family)
        if status is None:
            zone.setdefault("plumbed", []).append(f"{link}/{family}")
    if status is None and "sys_ip_config" not in zi["privileges"]:
        status = EPERM
    if status:
        raise ft.ToolError(f"ifconfig: could not create address: {status}")
    prefix = iface.network.prefixlen if "/" in text else (8 if family == "inet" else 64)
    entry = {"link": link, "family": family, "address": str(iface.ip), "prefix": prefix, "up": up}
    zone["addresses"] = [a for a in zone.get("addresses", [])
                         if not (a["link"] == link and a["family"] == family)] + [entry]


def status_lines(st, zone):
    out, index = [], 1
    for entry in zone.get("plumbed", []):
        index += 1
        link, family = entry.split("/")
        addr = next((a for a in zone.get("addresses", [])
                     if a["link"] == link and a["family"] == family), None)
        up = addr is not None and addr["up"]
        if family == "inet":
            flags = "1000843<UP,BROADCAST,RUNNING,MULTICAST,IPv4>" if up else \
                "1000842<BROADCAST,RUNNING,MULTICAST,IPv4>"
            out.append(f"{link}: flags={flags} mtu 1500 index {index}")
            if addr:
                net = ipaddress.ip_interface(f"{addr['address']}/{addr['prefix']}").network
                out.append(f"\tinet {addr['address']} netmask {int(net.netmask):x} "
                           f"broadcast {net.broadcast_address}")
            else:
                out.append("\tinet 0.0.0.0 netmask 0 ")
        else:
            flags = "2000841<UP,RUNNING,MULTICAST,IPv6>" if up else "2000840<RUNNING,MULTICAST,IPv6>"
            out.append(f"{link}: flags={flags} mtu 1500 index {index}")
            shown = f"{addr['address']}/{addr['prefix']}" if addr else "::/0"
            out.append(f"\tinet6 {shown} ")
        vnic = st["vnics"].get(link)
        if vnic:
            out.append(f"\tether {ft.mac_text(vnic['mac'])} ")
    return "".join(line + "\n" for line in out)


def main(st, args):
    if not ft.in_zone():
        raise ft.ToolError("ifconfig: the fake ifconfig works inside a simulated zone only")
    zi = zone_info()
    zone = st["zones"].get(zi["zonename"])
    if zone is None:
        raise ft.ToolError(f"ifconfig: zone {zi['zonename']} is gone")
    if not args or args[0] == "-a":
        return status_lines(st, zone)
    link, rest = args[0], args[1:]
    family = "inet"
    if rest and rest[0] in ("inet", "inet6"):
        family, rest = rest[0], rest[1:]
    if not os.path.exists("/dev/dld"):
        raise ft.ToolError(f"ifconfig: unable to open handle to libipadm: {DLADM}")
    configure(zi, zone, link, family, rest)
    return ""
