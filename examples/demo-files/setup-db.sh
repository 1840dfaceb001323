#!/bin/sh
# Runs inside the "db" VM as its login user (uploaded, run and removed by vmctl).
set -e
mkdir -p /tmp/db
echo "created by setup-db.sh as $(id -un)" > /tmp/db/README
echo "db ready: $(cat /tmp/db/README)"
