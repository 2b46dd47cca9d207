#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install the Debian/Ubuntu packages dew needs to build and test (scripts/packages.txt).
# Idempotent: packages already installed are left alone. Needs root (or sudo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive

# Pick the first alternative of each line that the archive knows.
want=()
missing=()
pick() {
	local alt
	for alt in ${1//|/ }; do
		if dpkg-query -W -f='${Status}' "$alt" 2>/dev/null | grep -q 'install ok installed'; then
			return 0
		fi
	done
	for alt in ${1//|/ }; do
		if apt-cache show "$alt" >/dev/null 2>&1; then
			want+=("$alt")
			return 0
		fi
	done
	missing+=("$1")
}

# Refresh the package lists when they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
	echo "install-deps: apt-get update"
	$SUDO apt-get update -qq
fi

while read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	pick "$line"
done <"$here/packages.txt"

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: the package archive has none of: ${missing[*]}" >&2
	exit 1
fi
if [ ${#want[@]} -gt 0 ]; then
	echo "install-deps: installing ${want[*]}"
	$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
# Node.js and npm run the independent NATS client in the tests. Machines that already have a
# Node.js (for instance from NodeSource, which bundles npm) keep it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "install-deps: installing nodejs npm"
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "install-deps: all build and test dependencies are installed"
