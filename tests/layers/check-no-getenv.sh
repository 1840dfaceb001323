#!/usr/bin/env bash
# The library reads no environment: only src/vmctl/environment.cpp does, and
# hands the library what it needs. Fails on any getenv or secure_getenv
# outside that file, and on environ outside it and the process runner
# (src/os/posix/process.cpp), which passes the environment on to the programs
# it starts (qemu-img, ssh, zone tools) without reading it.
set -uo pipefail
src=${1:?usage: check-no-getenv.sh SRC_DIR}
hits=$( (grep -rnE '\b(secure_)?getenv\b' "$src" --include='*.cpp' --include='*.hpp' --include='*.in'
        grep -rnE '\benviron\b' "$src" --include='*.cpp' --include='*.hpp' --include='*.in' \
          | grep -v "^$src/os/posix/process.cpp:") | grep -v "^$src/vmctl/environment.cpp:")
if [[ -n $hits ]]; then
  echo "the library reads the environment; pass it in from src/vmctl/environment.cpp instead:"
  echo "$hits"
  exit 1
fi
echo "check-no-getenv: only src/vmctl/environment.cpp reads the environment"
