#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the host stack into DIR: DIR/rootfs, a root with no program of its own (the host's /usr,
# and /bin, /sbin, /lib* where they are real directories, are bound into it read-only by the
# runtime) and a small generated /etc; DIR/stack.json, stack.json.in plus the mounts this host
# needs. Idempotent and fast: rerun it whenever the host's layout changes (`make stacks` does).
set -eu
umask 022

usage="usage: build-rootfs.sh DIR"
[ $# -eq 1 ] || { echo "$usage" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
root=$dir/rootfs
etc=$root/etc

# put FILE: stdin into FILE through a temporary file and a rename, so a container reading FILE
# while the stack is rebuilt sees the old content or the new one.
put() {
	cat >"$1.new"
	mv -f "$1.new" "$1"
}

# link NAME TARGET: make NAME a symlink to TARGET, replacing an old link or an empty directory.
link() {
	[ -L "$1" ] && [ "$(readlink "$1")" = "$2" ] && return 0
	[ -d "$1" ] && [ ! -L "$1" ] && rmdir "$1"
	ln -sfn "$2" "$1.new"
	mv -Tf "$1.new" "$1"
}

# mount_json SOURCE: one entry of the "mounts" array, binding a host path at the same place.
mounts=
mount_json() {
	entry=$(printf '\t\t{"source": "%s", "target": "%s", "readonly": true}' "$1" "$1")
	mounts=${mounts:+$mounts,
}$entry
}

# What the runtime mounts over (docs/container-spec.md) and what the stack's mounts need.
mkdir -p "$root/proc" "$root/dev" "$root/sys" "$root/tmp" "$root/run" "$root/home/vcap/app" \
	"$root/usr" "$etc/ssl"
mount_json /usr

# /bin, /sbin, /lib*: on a merged-/usr host they are symlinks into /usr and the root gets the
# same symlinks; where they are real directories the root gets a mount point and a mount.
for d in bin sbin lib lib32 lib64 libx32; do
	if [ -L "/$d" ]; then
		link "$root/$d" "$(readlink "/$d")"
	elif [ -d "/$d" ]; then
		[ -L "$root/$d" ] && rm -f "$root/$d"
		mkdir -p "$root/$d"
		mount_json "/$d"
	elif [ -L "$root/$d" ]; then
		rm -f "$root/$d"
	elif [ -d "$root/$d" ]; then
		rmdir "$root/$d"
	fi
done

# The CA certificates are bound from the host (public data, kept current by the host's
# update-ca-certificates); /etc/ssl/private never reaches the container.
if [ -d /etc/ssl/certs ]; then
	mkdir -p "$etc/ssl/certs"
	mount_json /etc/ssl/certs
fi
if [ -f /etc/ssl/openssl.cnf ]; then
	put "$etc/ssl/openssl.cnf" </etc/ssl/openssl.cnf
fi

put "$etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
vcap:x:1000:1000:vcap:/home/vcap:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
put "$etc/group" <<'EOF'
root:x:0:
vcap:x:1000:
nogroup:x:65534:
EOF
# The container's hostname is set by the runtime; the root is shared by every container, so
# it cannot be listed here.
put "$etc/hosts" <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
put "$etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
shadow: files
hosts: files dns
networks: files
protocols: files
services: files
EOF

# DNS as the host resolves, but past systemd-resolved's stub, which only listens in the host's
# network namespace.
resolv=/etc/resolv.conf
if grep -qs '^nameserver 127\.0\.0\.53' "$resolv" && [ -s /run/systemd/resolve/resolv.conf ]; then
	resolv=/run/systemd/resolve/resolv.conf
fi
if [ -s "$resolv" ]; then
	put "$etc/resolv.conf" <"$resolv"
else
	echo 'nameserver 127.0.0.1' | put "$etc/resolv.conf"
fi

# Host data that programs from the host's /usr expect next to them: the loader's cache, service
# and protocol names, and the alternatives (/usr/bin/awk -> /etc/alternatives/awk -> mawk).
for f in ld.so.cache services protocols; do
	[ -f "/etc/$f" ] && put "$etc/$f" <"/etc/$f"
done
if [ -L /etc/os-release ]; then
	link "$etc/os-release" "$(readlink /etc/os-release)"
elif [ -f /etc/os-release ]; then
	put "$etc/os-release" </etc/os-release
fi
link "$etc/mtab" ../proc/self/mounts
# Copied only when the host's changed since the last copy (hundreds of symlinks: the slow part).
if [ -d /etc/alternatives ] && ! [ "$etc/alternatives" -nt /etc/alternatives ]; then
	rm -rf "$etc/alternatives.new"
	cp -RP /etc/alternatives "$etc/alternatives.new"
	rm -rf "$etc/alternatives"
	mv "$etc/alternatives.new" "$etc/alternatives"
fi

MOUNTS=$mounts awk '$0 == "@MOUNTS@" { print ENVIRON["MOUNTS"]; next } { print }' \
	"$here/stack.json.in" | put "$dir/stack.json"
