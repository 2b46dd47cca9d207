#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the bookworm stack into DIR: DIR/rootfs, a real Debian 12 root made by debootstrap
# (minbase plus python3, nodejs and ca-certificates) with the mount points the runtime needs and
# a vcap user, and DIR/stack.json. Needs root, debootstrap and the network (~150 MB); the
# mirror is the host's Debian mirror from its APT sources unless DEW_DEBIAN_MIRROR is set.
# Rerunning it keeps a finished debootstrap and redoes only the steps after it.
set -eu
umask 022

usage="usage: build.sh DIR"
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
dir=$1
root=$dir/rootfs
suite=bookworm

die() {
	echo "build.sh: $*" >&2
	exit 1
}

# The first Debian mirror of the host's APT sources that serves $suite itself (not -security or
# -updates): one-line sources.list entries and deb822 .sources files.
host_mirror() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { print $i; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v suite="$suite" '
			BEGIN { RS = ""; FS = "\n" }
			{
				uri = ""; ok = 0; deb = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
					if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
					if ($i ~ /^Suites:/) {
						n = split($i, s, /[ \t]+/)
						for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1
					}
				}
				if (deb && ok && uri != "") { print uri; exit }
			}' "$f"
	done
}

[ "$(id -u)" = 0 ] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
mirror=${DEW_DEBIAN_MIRROR:-$(host_mirror | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

# The marker is written once debootstrap has finished; without it a previous run was cut short.
mkdir -p "$dir"
if [ ! -f "$dir/.debootstrap-done" ]; then
	rm -rf "$root"
	echo "build.sh: debootstrap $suite from $mirror into $root"
	debootstrap --variant=minbase --include=python3,nodejs,ca-certificates "$suite" "$root" "$mirror"
	touch "$dir/.debootstrap-done"
fi

# The mount points the runtime needs (docs/container-spec.md) and the app user.
mkdir -p "$root/proc" "$root/dev" "$root/sys" "$root/tmp" "$root/run" "$root/home/vcap/app"
grep -q '^vcap:' "$root/etc/group" || echo 'vcap:x:1000:' >>"$root/etc/group"
grep -q '^vcap:' "$root/etc/passwd" || echo 'vcap:x:1000:1000:vcap:/home/vcap:/bin/sh' >>"$root/etc/passwd"
if [ -f "$root/etc/shadow" ] && ! grep -q '^vcap:' "$root/etc/shadow"; then
	echo 'vcap:!:19000:0:99999:7:::' >>"$root/etc/shadow"
fi
# debootstrap copies the host's /etc/hosts; the containers get a neutral one.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# Package lists and downloaded .debs are of no use in a read-only root.
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

cat >"$dir/stack.json.new" <<'EOF'
{
	"name": "bookworm",
	"description": "Debian 12 (bookworm) minbase with python3, nodejs and ca-certificates, built by debootstrap.",
	"rootfs": "rootfs",
	"runtimes": ["python3", "node", "perl", "sh"]
}
EOF
mv -f "$dir/stack.json.new" "$dir/stack.json"
echo "build.sh: the bookworm stack is in $dir"
