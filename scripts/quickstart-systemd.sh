# shellcheck shell=bash disable=SC2154 # the variables named below are quickstart.sh's
# SPDX-License-Identifier: MIT
# The systemd half of scripts/quickstart.sh (sourced by it, never run alone): when systemd is
# PID 1 the daemons run as the installed units rather than as background processes.
#
# `make install` puts the binaries, units and a default dew.conf (secrets drawn) in place; a
# drop-in per unit adds the quickstart's few flags (domain, router port, the DEA's memory) to the
# unit's own command line, so the installed dew.conf stays as `make install` wrote it. What was
# installed or created is listed in $dir, so that `--stop` removes exactly that.
# Uses from quickstart.sh: $builddir $dir $run $domain $pw_file, say, die, port_free.

units="dew-bus dew-controller dew-dea dew-router dew-healthd"
dropin_name=50-quickstart.conf

# make_var NAME: an installation directory as the build tree was configured (expanded).
make_var() {
	# shellcheck disable=SC2016 # $($*) is for make
	printf 'print-%%:\n\t@echo $($*)\n' | make -s --no-print-directory -C "$builddir" -f Makefile -f - "print-$1"
}

# systemd_dropin UNIT FLAGS...: the unit's own ExecStart plus FLAGS, as a drop-in.
systemd_dropin() {
	local unit=$1 exec d
	shift
	exec=$(sed -n 's/^ExecStart=//p' "$unitdir/$unit.service")
	[ -n "$exec" ] || die "no ExecStart in $unitdir/$unit.service"
	d=/etc/systemd/system/$unit.service.d
	mkdir -p "$d"
	printf '# Written by dew'"'"'s scripts/quickstart.sh; removed by its --stop.\n[Service]\nExecStart=\nExecStart=%s %s\n' \
		"$exec" "$*" >"$d/$dropin_name"
}

systemd_start() {
	local sbindir conf
	sbindir=$(make_var sbindir)
	unitdir=$(make_var systemdunitdir)
	conf=$(make_var sysconfdir)/dew/dew.conf
	mkdir -p "$run"
	chmod 700 "$dir"
	# Remember what existed before, so that --stop leaves an admin's own config and state alone.
	[ -e "$run/systemd" ] || {
		[ -e "$conf" ] || echo "$conf" >>"$run/created"
		[ -e /var/lib/dew ] || echo /var/lib/dew >>"$run/created"
		[ -e /run/dew ] || echo /run/dew >>"$run/created"
		touch "$run/systemd"
	}
	make -C "$builddir" install >/dev/null
	say "installed dew (binaries in $sbindir, units in $unitdir, config $conf)"

	router_port=80
	if [ -f "$run/router.port" ]; then
		router_port=$(cat "$run/router.port")
	elif ! port_free 80; then
		router_port=8080
		say "port 80 is taken: the router listens on 8080"
	fi
	echo "$router_port" >"$run/router.port"
	systemd_dropin dew-controller --domain "$domain"
	systemd_dropin dew-dea --max-memory 2G
	systemd_dropin dew-router --listen "0.0.0.0:$router_port"
	systemctl daemon-reload

	if [ ! -s "$pw_file" ]; then
		(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pw_file")
		"$sbindir/dew-controller" --create-admin admin <"$pw_file" >/dev/null ||
			die "could not create the admin user (an existing /var/lib/dew with its own admin?)"
	fi
	# Type=notify units: the start jobs end once each daemon has said READY=1.
	# shellcheck disable=SC2086 # $units is a list
	systemctl enable --now $units >/dev/null 2>&1 || true
	local u
	for u in $units; do
		if ! systemctl is-active --quiet "$u"; then
			journalctl -u "$u" -n 20 --no-pager >&2
			die "$u did not start (journalctl -u $u)"
		fi
	done
	for _ in $(seq 100); do
		curl -sf http://127.0.0.1:9022/v1/info >/dev/null && break
		sleep 0.1
	done
	say "dew runs under systemd: systemctl status $units; logs: journalctl -u 'dew-*'"
}

systemd_stop() {
	local sbindir id u
	[ -f "$builddir/Makefile" ] || die "$builddir/Makefile is gone: cannot uninstall what was installed from it"
	sbindir=$(make_var sbindir)
	# shellcheck disable=SC2086 # $units is a list
	systemctl disable --now $units >/dev/null 2>&1 || true
	say "stopped and disabled $units"
	# The DEA's unit leaves the apps running when it stops (KillMode=process, on_shutdown=keep):
	# delete them, and their monitors end with them.
	if [ -x "$sbindir/dew-run" ] && [ -d /run/dew/containers ]; then
		"$sbindir/dew-run" --root /run/dew/containers list 2>/dev/null | awk 'NR > 1 { print $1 }' |
			while read -r id; do
				"$sbindir/dew-run" --root /run/dew/containers delete -f "$id" >/dev/null 2>&1 || true
			done
	fi
	for u in $units; do
		rm -f "/etc/systemd/system/$u.service.d/$dropin_name"
		rmdir "/etc/systemd/system/$u.service.d" 2>/dev/null || true
	done
	make -C "$builddir" uninstall >/dev/null
	systemctl daemon-reload
	# shellcheck disable=SC2086 # $units is a list
	systemctl reset-failed $units >/dev/null 2>&1 || true
	say "uninstalled dew"
	if [ -f "$run/created" ]; then
		while read -r path; do
			rm -rf "$path"
			say "removed $path"
		done <"$run/created"
	fi
}
