#!/usr/bin/env bash
# check-no-output.sh DIR… — the library never writes to stdout or stderr, and
# has no logger of its own: its lines go to the embedder's LogSink, its
# progress to a ProgressCallback, and src/vmctl/ (skipped here) prints them.
# Fails on std::cout/cerr/clog, printf/puts/putchar/perror, the f-functions
# and fmt::print given stdout or stderr (or fmt::print with no stream),
# write/dprintf to fd 1 or 2, and any mention of spdlog (sources and CMake).
#
# check-no-output.sh --self-test PROBE_DIR: every file of PROBE_DIR outside
# its vmctl/ (but its README) must fail the check on its own; its vmctl/
# files must pass.
set -uo pipefail

forbidden=(
  'std::w?(cout|cerr|clog)\b'
  '(^|[^[:alnum:]_.>])(v?printf|puts|putchar|perror)\('
  '\b(v?fprintf|fputs|fputc|putc|fwrite|fflush|fmt::v?print(ln)?)[[:space:]]*\([^;]*\b(stdout|stderr)\b'
  '\bfmt::v?print(ln)?[[:space:]]*\([[:space:]]*("|FMT_STRING|fmt::runtime)'
  '\b(write|v?dprintf)[[:space:]]*\([[:space:]]*(1|2|STDOUT_FILENO|STDERR_FILENO|fileno[[:space:]]*\([[:space:]]*std(out|err)[[:space:]]*\))[[:space:]]*,'
  'spdlog'
)

# The forbidden lines under each root, src/vmctl/ (root/vmctl/) left out.
hits_in() {
  local root pattern
  for root in "$@"; do
    for pattern in "${forbidden[@]}"; do
      grep -rnE "$pattern" "$root" --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.in' \
           --include='CMakeLists.txt' --include='*.cmake' | grep -v "^$root/vmctl/"
    done
  done | sort -u
}

check() {
  local hits
  hits=$(hits_in "$@")
  if [[ -n $hits ]]; then
    echo "the library writes output itself; report through a LogSink or a ProgressCallback instead:"
    echo "$hits"
    return 1
  fi
  echo "check-no-output: the library writes nothing to stdout or stderr and uses no spdlog"
}

self_test() {
  local probe=$1 failed=0 file
  tmp=$(mktemp -d) || exit 1
  trap 'rm -rf "$tmp"' EXIT
  while IFS= read -r file; do
    rm -rf "${tmp:?}"/* && mkdir -p "$tmp/root" && cp "$probe/$file" "$tmp/root/"
    if check "$tmp/root" >/dev/null; then
      echo "not caught: $file"
      failed=1
    fi
  done < <(cd "$probe" && find . -type f ! -path './vmctl/*' ! -name '*.md' | sed 's|^\./||' | sort)
  rm -rf "${tmp:?}"/* && mkdir -p "$tmp/root" && cp -r "$probe/vmctl" "$tmp/root/"
  if ! check "$tmp/root"; then
    echo "the CLI (vmctl/) was refused; it is the one place that prints"
    failed=1
  fi
  [[ $failed == 0 ]] && echo "check-no-output --self-test: every probe is caught, vmctl/ is allowed"
  return $failed
}

if [[ ${1:-} == --self-test ]]; then
  self_test "${2:?usage: check-no-output.sh --self-test PROBE_DIR}"
else
  check "${@:?usage: check-no-output.sh DIR…}"
fi
