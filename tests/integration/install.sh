#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install DESTDIR=…` from the build tree under test lays out a node: every binary (they
# run), every man page, the systemd units (ExecStart at the installed binaries, man pages that
# exist, `systemd-analyze verify` clean, the DEA's Delegate=yes and KillMode=process), the bash
# completion, the stacks the DEA loads, and a default dew.conf (0600, secrets drawn, accepted by
# every daemon, its commented values the real defaults) that a reinstall and an uninstall keep.
set -u
. "$(dirname "$0")/../lib/lib.sh"
dew_test_init install 300

dest=$T/dest
daemons="bus controller dea router healthd"
sbin_programs="dew-bus dew-controller dew-dea dew-router dew-healthd dew-run dew-stage"

# The make running this test exports its job server and flags; the nested make must not use them.
nested_make() { (cd "$top_builddir" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"); }

# The install directories as this build tree configured them (prefix, distcheck's included).
# shellcheck disable=SC2016 # $($*) is for make
printf 'print-%%:\n\t@echo $($*)\n' >"$T/print.mk"
# The last line: a Makefile older than its Makefile.am is regenerated first, which prints.
dir_of() { nested_make -s --no-print-directory -f Makefile -f "$T/print.mk" "print-$1" | tail -n 1; }
for v in bindir sbindir mandir sysconfdir pkgdatadir datadir systemdunitdir; do
	val=$(dir_of "$v")
	case "$val" in /*) ;; *) dew_fail "cannot read $v from $top_builddir/Makefile (got '$val')" ;; esac
	printf -v "$v" '%s' "$val"
done

nested_make install DESTDIR="$dest" >"$T/install.log" 2>&1 || {
	tail -n 30 "$T/install.log" >&2
	dew_fail "make install DESTDIR=$dest failed"
}
dew_ok "make install DESTDIR=… succeeds"
# Nothing may land outside DESTDIR: the layout is checked below, and the tree must hold only it.
outside=$(cd "$dest" && find . -type f | sed 's|^\.||' | grep -v -e "^$bindir/" -e "^$sbindir/" -e "^$mandir/" \
	-e "^$sysconfdir/dew/" -e "^$pkgdatadir/" -e "^$datadir/bash-completion/" -e "^$systemdunitdir/")
dew_assert_eq "$outside" "" "every installed file is in one of the expected directories"

# ---- binaries and man pages -----------------------------------------------------------------
for p in $sbin_programs; do
	[ -x "$dest$sbindir/$p" ] || dew_fail "$sbindir/$p is not installed"
	out=$("$dest$sbindir/$p" --version 2>&1) || dew_fail "$sbindir/$p --version failed: $out"
	[ -f "$dest$mandir/man8/$p.8" ] || dew_fail "$p is installed without its man page $p(8)"
done
dew_ok "the daemons and tools are in $sbindir, run, and have their man page in section 8"
[ -x "$dest$bindir/dew" ] || dew_fail "$bindir/dew is not installed"
out=$("$dest$bindir/dew" --version 2>&1) || dew_fail "dew --version failed: $out"
[ -f "$dest$mandir/man1/dew.1" ] || dew_fail "dew(1) is not installed"
dew_ok "the CLI is in $bindir, runs, and has dew(1)"
for page in "$top_srcdir"/man/*.[1-8]; do
	name=$(basename "$page")
	cmp -s "$page" "$dest$mandir/man${name##*.}/$name" || dew_fail "man page $name is not installed"
done
dew_ok "every page of man/ is installed in its section"
cmp -s "$top_srcdir/cli/dew.bash-completion" "$dest$datadir/bash-completion/completions/dew" ||
	dew_fail "the bash completion is not $datadir/bash-completion/completions/dew"
dew_ok "the bash completion is installed as completions/dew"

# ---- stacks ---------------------------------------------------------------------------------
stacks=$dest$pkgdatadir/stacks
for bp in static python node binary shell; do
	for s in detect compile release; do
		[ -x "$stacks/buildpacks/$bp/bin/$s" ] || dew_fail "buildpack $bp lacks an executable bin/$s"
	done
done
dew_ok "the five buildpacks are installed with bin/detect, compile and release"
show=$("$top_builddir/tests/lib/stack-show" "$stacks" host 2>&1) || dew_fail "the installed host stack does not load: $show"
dew_assert_contains "$show" '"name"' "the installed host stack loads as the DEA loads it"
dea_stacks=$("$dest$sbindir/dew-dea" --print-config -c /dev/null | sed -n 's/^stacks_dir = //p')
dew_assert_eq "$dea_stacks" "$pkgdatadir/stacks" "the DEA's default stacks_dir is where the stacks are installed"

# ---- dew.conf -------------------------------------------------------------------------------
conf=$dest$sysconfdir/dew/dew.conf
[ -f "$conf" ] || dew_fail "$sysconfdir/dew/dew.conf is not installed"
dew_assert_eq "$(stat -c %a "$conf")" 600 "dew.conf is mode 0600 (it holds secrets)"
placeholders() { grep -oE '@[a-z_]+@' "$1" | sort -u | tr '\n' ' '; }
dew_assert_eq "$(placeholders "$conf")" "" "dew.conf has no template placeholder left"
for d in $daemons; do
	out=$("$dest$sbindir/dew-$d" -c "$conf" --print-config 2>&1) || dew_fail "dew-$d refuses dew.conf: $out"
	printf '%s\n' "$out" >"$T/effective-$d"
done
dew_ok "every daemon accepts the installed dew.conf"
secret_of() { awk -v s="[$1]" '/^\[/ { in_s = ($0 == s) } in_s && $1 == "internal_secret" { print $3 }' "$conf"; }
cc_secret=$(secret_of controller)
[ ${#cc_secret} -ge 32 ] || dew_fail "the controller's internal_secret is not set (got '$cc_secret')"
dew_assert_eq "$(secret_of healthd)" "$cc_secret" "healthd has the controller's internal_secret"
grep -q '^files_secret = [0-9a-f]\{48\}$' "$conf" || dew_fail "the DEA's files_secret is not drawn"
dew_ok "the DEA's files_secret is drawn"
# A commented `#key = value` line shows the default: each must be what the daemon really uses
# (the global lines are checked against the controller's defaults).
section=controller
checked=0
while IFS= read -r line; do
	case "$line" in
	'['*']') section=${line#[}; section=${section%]} ;;
	'#'[a-z]*' = '*)
		shown=${line#\#}
		grep -qxF "$shown" "$T/effective-$section" ||
			dew_fail "dew.conf shows '$shown' in [$section], but dew-$section has: $(grep "^${shown%% *} " "$T/effective-$section")"
		checked=$((checked + 1)) ;;
	esac
done <"$conf"
[ "$checked" -ge 20 ] || dew_fail "only $checked commented defaults found in dew.conf"
dew_ok "the $checked defaults dew.conf shows in comments are the daemons' defaults"

# ---- units ----------------------------------------------------------------------------------
units=$dest$systemdunitdir
for d in $daemons; do
	unit=$units/dew-$d.service
	[ -f "$unit" ] || dew_fail "$systemdunitdir/dew-$d.service is not installed"
	dew_assert_eq "$(placeholders "$unit")" "" "dew-$d.service has no template placeholder left"
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	bin=${exec%% *}
	dew_assert_eq "$bin" "$sbindir/dew-$d" "dew-$d.service starts the installed dew-$d"
	docs=$(sed -n 's/^Documentation=//p' "$unit")
	dew_assert_contains "$docs" "man:dew-$d(8)" "dew-$d.service documents man:dew-$d(8)"
	for ref in $docs; do
		case "$ref" in
		man:*) page=${ref#man:}; n=${page%(*}; s=${page#*(}; s=${s%)}
			[ -f "$dest$mandir/man$s/$n.$s" ] || dew_fail "dew-$d.service: $ref is not an installed page" ;;
		*) dew_fail "dew-$d.service: Documentation=$ref is not a man page" ;;
		esac
	done
done
dew_ok "every Documentation= of the units names an installed man page"
dea_unit=$(cat "$units/dew-dea.service")
dew_assert_contains "$dea_unit" $'\nDelegate=yes\n' "the DEA's unit delegates its cgroup (Delegate=yes)"
dew_assert_contains "$dea_unit" $'\nKillMode=process\n' "a stop of the DEA's unit ends the DEA alone (KillMode=process)"
dew_assert_contains "$(sed -n 's/^ExecStart=//p' "$units/dew-dea.service")" "on_shutdown=keep" \
	"the DEA's unit leaves the apps running when the DEA stops (on_shutdown=keep)"
for d in bus router; do
	dew_assert_contains "$(cat "$units/dew-$d.service")" "LoadCredential=dew.conf:$sysconfdir/dew/dew.conf" \
		"dew-$d.service (a dynamic user) gets the root-only dew.conf as a credential"
done

# systemd is not PID 1 here and the unit paths are not installed on this host: verify copies of
# the units whose Exec lines point into DESTDIR (the binaries must exist and be executable there),
# with the man pages found in DESTDIR too (verify runs `man` for each Documentation= line).
if ! command -v systemd-analyze >/dev/null; then
	dew_skip_check "systemd-analyze verify" "systemd-analyze is not installed (apt-get install systemd)" systemd
else
	mkdir -p "$T/verify"
	for d in $daemons; do
		sed "s|^\(Exec[A-Za-z]*=[-@:+!]*\)$sbindir/|\1$dest$sbindir/|" "$units/dew-$d.service" >"$T/verify/dew-$d.service"
	done
	verify() { MANPATH=$dest$mandir systemd-analyze verify "$@" 2>&1; }
	out=$(verify "$T"/verify/*.service) || dew_fail "systemd-analyze verify failed: $out"
	dew_assert_eq "$out" "" "systemd-analyze verify passes on every unit, without a warning"
	# The check can fail: a unit whose binary is missing, or with an unknown key, is reported.
	sed "s|$dest$sbindir/dew-bus|$dest$sbindir/dew-nonesuch|" "$T/verify/dew-bus.service" >"$T/verify-bad.service"
	out=$(verify "$T/verify-bad.service") && dew_fail "verify accepted a unit whose ExecStart does not exist"
	dew_assert_contains "$out" "dew-nonesuch" "verify reports a unit whose binary is missing"
	sed 's/^Delegate=yes/Delegatee=yes/' "$T/verify/dew-dea.service" >"$T/verify-bad.service"
	dew_assert_contains "$(verify "$T/verify-bad.service")" "Delegatee" "verify reports an unknown key"
fi

# ---- reinstall and uninstall keep the admin's dew.conf --------------------------------------
printf '\n# edited by the admin\n' >>"$conf"
edited=$(cat "$conf")
nested_make install DESTDIR="$dest" >"$T/install2.log" 2>&1 || dew_fail "a second make install failed"
dew_assert_eq "$(cat "$conf")" "$edited" "a reinstall keeps the admin's edited dew.conf"
nested_make uninstall DESTDIR="$dest" >"$T/uninstall.log" 2>&1 || dew_fail "make uninstall failed"
left=$(cd "$dest" && find . -type f | sed 's|^\.||')
dew_assert_eq "$left" "$sysconfdir/dew/dew.conf" "make uninstall removes everything but dew.conf"
dew_pass
