#!/bin/sh
# Checks the nebula-vm zone brand: shellcheck on its scripts, xmllint on its
# XML files. Both tools are required (scripts/debian-packages.txt lists them).
# Usage: check-brand.sh <brand directory>
set -u

dir=${1:-$(dirname "$0")/../../brand/nebula-vm}
status=0

for tool in shellcheck xmllint; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check-brand: $tool is not installed (make deps installs it)" >&2
		exit 1
	fi
done
[ -d "$dir" ] || { echo "check-brand: no directory $dir" >&2; exit 1; }

for f in install boot halt uninstall init; do
	if [ ! -f "$dir/$f" ]; then
		echo "check-brand: $dir/$f is missing" >&2
		status=1
	elif [ ! -x "$dir/$f" ]; then
		echo "check-brand: $dir/$f is not executable" >&2
		status=1
	elif ! shellcheck -s sh "$dir/$f"; then
		status=1
	fi
done

for f in config.xml platform.xml; do
	if ! xmllint --noout "$dir/$f"; then
		status=1
	fi
done

if [ "$status" -eq 0 ]; then
	echo "check-brand: $dir is fine"
fi
exit "$status"
