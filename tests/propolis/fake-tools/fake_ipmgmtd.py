"""Fake illumos ipmgmtd for the zone simulator (installed in a zone as
/lib/inet/ipmgmtd).  It starts the way illumos-gate
usr/src/cmd/cmd-inet/lib/ipmgmtd/ipmgmt_main.c (stored version ed1e9379)
does: without -f it refuses to run unless SMF_FMRI is set, then
daemonizes with its own daemon() equivalent -- the parent waits on a pipe
until the child has created its door, and exits with the child's status --
and the child calls setsid(), closes its fds and chdirs to /.  The door
(IPMGMT_DOOR, /etc/svc/volatile/ipadm/ipmgmt_door) is a UNIX socket here;
the fake ifconfig connects to it where libipadm's ipadm_door_call() would
open the door, and each request line gets "ok".
"""

import errno
import os
import socket
import sys

TMPFS_DIR = "/etc/svc/volatile/ipadm"
DOOR = TMPFS_DIR + "/ipmgmt_door"


def daemonize():
    """Returns the write end of the pipe the parent waits on (child side)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(wfd)
        data = os.read(rfd, 4)
        if len(data) != 4:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            os._exit(1)
        os._exit(int.from_bytes(data, "little"))
    os.close(rfd)
    os.setsid()
    for fd in range(0, 1024):
        if fd != wfd:
            try:
                os.close(fd)
            except OSError:
                pass
    os.chdir("/")
    return wfd


def inform_parent(wfd, status):
    if wfd is not None:
        os.write(wfd, status.to_bytes(4, "little"))
        os.close(wfd)


def create_door():
    """ipmgmt_init_privileges() makes IPADM_TMPFS_DIR; ipmgmt_init() the door."""
    if not os.path.isdir(TMPFS_DIR):
        os.mkdir(TMPFS_DIR, 0o755)
    try:
        os.unlink(DOOR)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(DOOR)
    sock.listen(16)
    return sock


def serve(sock):
    while True:
        conn, _ = sock.accept()
        with conn:
            f = conn.makefile("rw")
            for _line in f:
                f.write("ok\n")
                f.flush()


def main(argv):
    prog = os.path.basename(argv[0])
    fg = False
    for a in argv[1:]:
        if a == "-f":
            fg = True
        else:
            sys.stderr.write(f"Usage: {prog} [-f]\n")
            return 1
    if not fg and os.environ.get("SMF_FMRI") is None:
        sys.stderr.write("ipmgmtd is a smf(5) managed service and cannot be run "
                         "from the command line.\n")
        return errno.EINVAL
    wfd = None if fg else daemonize()
    try:
        sock = create_door()
    except OSError:
        inform_parent(wfd, 1)
        return 1
    inform_parent(wfd, 0)
    serve(sock)
    return 0
