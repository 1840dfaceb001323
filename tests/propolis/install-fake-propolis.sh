#!/bin/sh
# install-fake-propolis.sh DIR
#
# Lays out DIR as a propolis dir the nebula-vm zone mounts at
# /opt/oxide/propolis-server (zonecfg `add fs`), with the fake propolis-server
# standing in for the real one:
#   DIR/bin/propolis-server          runs the fake with propolis-server's argv
#   DIR/lib/fake-propolis/           fake_propolis_server.py + its OpenAPI document
#   DIR/firmware/OVMF_CODE.fd        a page-aligned dummy bootrom (initialize_rom
#                                    refuses a length that is not a page multiple)
# The launcher uses /usr/bin/python3 (the zone's /usr is the host's) and finds
# the fake relative to itself, so DIR works wherever it is mounted.  Test knobs
# reach the fake through FAKE_PROPOLIS_OPTIONS or, in a zone,
# /.zone-sim/tools-state/propolis-options -- never through its argv.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
mkdir -p "$dir/bin" "$dir/lib/fake-propolis" "$dir/firmware"
cp "$here/fake_propolis_server.py" "$here/propolis-server-openapi.json" "$dir/lib/fake-propolis/"
cat > "$dir/bin/propolis-server.tmp" <<'LAUNCHER'
#!/bin/sh
# vmctl's fake propolis-server (tests/propolis/install-fake-propolis.sh).
exec /usr/bin/python3 "${0%/bin/*}/lib/fake-propolis/fake_propolis_server.py" --as-propolis-server "$@"
LAUNCHER
chmod 755 "$dir/bin/propolis-server.tmp"
mv "$dir/bin/propolis-server.tmp" "$dir/bin/propolis-server"
dd if=/dev/zero of="$dir/firmware/OVMF_CODE.fd" bs=4096 count=16 2>/dev/null
