#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dew push against a real dew-bus, dew-controller and dew-dea (issue #8): each sample app pushed
# to RUNNING and answering at its instance's address; a re-push of an unchanged app names the
# package the push cache remembers (only the file list with --no-cache, or when the controller
# lacks the package, or the cache is damaged), a changed file is the only file hashed and sent; a manifest of two apps, flags over
# the manifest; .cfignore honoured; a symlink out of the app refused before anything is created;
# a crashing app and one over its memory exit 1 with the reason and the log lines; usage errors
# exit 2; --json is one document.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
. "$(dirname "$0")/../lib/cli-lib.sh"
dew_test_init cli-push 300

command -v cc >/dev/null || dew_fail "cc is needed to build the binary sample app"
export DEW_WAIT_TIMEOUT=90
cli_lib_start --staging-concurrency 2

# app NAME FIXTURE: a writable copy of a fixture app as $T/apps/NAME.
app() {
	mkdir -p "$T/apps"
	cp -R "$top_srcdir/tests/fixtures/apps/$2" "$T/apps/$1" && chmod -R u+w "$T/apps/$1" || dew_fail "copy $2"
}
# answers NAME BODY: the first instance of NAME answers / with BODY (in its first line).
answers() {
	local out addr
	out=$("$DEW" --json app "$1") || dew_fail "dew --json app $1"
	addr=$(jget "$out" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
	dew_assert_contains "$(curl -sS --max-time 5 "http://$addr/")" "$2" "$1 answers at $addr"
}

dew target "$CC_URL"
expect_rc 0 "target"
dew login -u alice --password-stdin <<<"${PW[alice]}"
expect_rc 0 "login"

# ---- usage -----------------------------------------------------------------------------------------
mkdir -p "$T/empty"
OUT=
(cd "$T/empty" && "$DEW" push >/dev/null 2>"$T/usage.err") && RC=0 || RC=$?
ERR=$(cat "$T/usage.err")
expect_rc 2 "push without NAME or manifest"
dew_assert_contains "$ERR" "manifest.yml" "it says to name the app or bring a manifest"
dew push web -m 1X -p "$T/empty"
expect_rc 2 "push with a malformed memory size"
dew push web --bogus
expect_rc 2 "push with an unknown option"
dew push web -p "$T/empty"
expect_rc 1 "push of an empty directory"
dew_assert_contains "$ERR" "nothing to push" "it says there is nothing to push"

# ---- every sample app -------------------------------------------------------------------------------
for fixture in static python node binary shell; do
	app "$fixture" "$fixture"
	[ "$fixture" != binary ] || cc -static -O2 -o "$T/apps/binary/server" "$T/apps/binary/server.c" ||
		dew_fail "build binary/server.c"
	dew push "$fixture" -p "$T/apps/$fixture" -m 64M
	expect_rc 0 "push $fixture"
	dew_assert_contains "$OUT" "1 of 1 running" "$fixture: the instance is reported running"
	answers "$fixture" "hello from $fixture"
	[ "$fixture" = static ] || dew delete "$fixture" -f
done

# ---- re-push: only what changed ---------------------------------------------------------------------
nfiles=$(find "$T/apps/static" -type f | wc -l)
dew --json push static -p "$T/apps/static" -m 64M
expect_rc 0 "re-push static unchanged (--json)"
jcheck "$OUT" 'j["uploaded"]["files"] == 0 and j["matched"]["files"] == '"$nfiles" \
	"nothing uploaded, all $nfiles files matched"
jcheck "$OUT" 'j["cache"]["package"] and j["sent"]["resource_match"] == 0 and j["sent"]["bits"] < 200' \
	"the push cache named the package: no file list sent"
jcheck "$OUT" '[i["state"] for i in j["instances"]] == ["RUNNING"] and j["app"]["name"] == "static"' \
	"--json: one document with the app and its RUNNING instance"
sent=$(jget "$OUT" 'j["sent"]["bits"]')
grep -q "bits of static: package [0-9a-f]* named by the client (unchanged)" "$T/cc.log" ||
	dew_fail "the controller did not log an unchanged package named by the client"
dew_ok "the controller got an unchanged package named by the client ($sent bytes sent)"
# The first push saw files created within the cache's 2 s racy window; the re-push above
# remembered them all, so this one hashes nothing.
dew --json push static -p "$T/apps/static"
expect_rc 0 "re-push static unchanged again"
jcheck "$OUT" 'j["cache"] == {"hashes": '"$nfiles"', "package": True} and j["uploaded"]["files"] == 0' \
	"every hash came from the push cache"
dew --json push static -p "$T/apps/static" --no-cache
expect_rc 0 "re-push static unchanged with --no-cache"
jcheck "$OUT" 'j["uploaded"]["files"] == 0 and j["matched"]["files"] == '"$nfiles"' and j["cache"] == {"hashes": 0, "package": False}' \
	"--no-cache: every file hashed and matched, nothing uploaded"
jcheck "$OUT" 'j["sent"]["bits"] < 400 + 150 * '"$nfiles"' and j["sent"]["resource_match"] > 0' \
	"--no-cache: only the file list was sent"
grep -q "bits of static: package [0-9a-f]*, $nfiles files (unchanged)" "$T/cc.log" ||
	dew_fail "the controller did not log an unchanged package of $nfiles files"
dew_ok "the controller got an unchanged package of $nfiles files"
# A cache naming a package the controller does not hold: the push falls back to the file list.
cache=$(ls -t "$DEW_HOME"/cache/push-* | head -n 1) # static's: the last saved
[ "$(stat -c %a "$cache")" = 600 ] && [ "$(stat -c %a "$DEW_HOME/cache")" = 700 ] ||
	dew_fail "the push cache is not private"
dew_ok "the push cache is mode 0600 in a 0700 directory"
sed -i -E '3s/ [0-9a-f]{64}$/ '"$(printf '0%.0s' $(seq 64))"'/' "$cache"
dew --json push static -p "$T/apps/static"
expect_rc 0 "push with a cache naming an unknown package"
jcheck "$OUT" 'not j["cache"]["package"] and j["uploaded"]["files"] == 0 and j["matched"]["files"] == '"$nfiles" \
	"the controller lacked it: the file list was matched instead"
printf 'dew-push-cache 1\nsaved x\nf 1 2\n' >"$cache"
dew --json push static -p "$T/apps/static"
expect_rc 0 "push with a damaged cache"
jcheck "$OUT" 'j["cache"]["hashes"] == 0 and j["uploaded"]["files"] == 0' "a damaged cache is ignored"

echo "body { color: teal; }" >>"$T/apps/static/css/site.css"
size=$(stat -c %s "$T/apps/static/css/site.css")
dew --json push static -p "$T/apps/static"
expect_rc 0 "push static with one file changed"
jcheck "$OUT" 'j["uploaded"] == {"files": 1, "bytes": '"$size"'} and j["matched"]["files"] == '"$((nfiles - 1))" \
	"exactly the changed file was uploaded"
jcheck "$OUT" 'j["sent"]["bits"] < '"$size"' + 4000 + 150 * '"$nfiles" "the bytes sent are that file's and the resources"
jcheck "$OUT" 'j["cache"] == {"hashes": '"$((nfiles - 1))"', "package": False}' \
	"only the changed file was hashed again"
addr=$(jget "$OUT" '"%s:%s" % (j["instances"][0]["host"], j["instances"][0]["port"])')
dew_assert_contains "$(curl -sS --max-time 5 "http://$addr/css/site.css")" "teal" "the new version serves the changed file"

# ---- ignore files and symlinks -----------------------------------------------------------------------
app ign static
printf 'secret.txt\n*.log\ntmp/\n!keep.log\n' >"$T/apps/ign/.cfignore"
echo secret >"$T/apps/ign/secret.txt"
echo noise >"$T/apps/ign/debug.log"
echo kept >"$T/apps/ign/keep.log"
mkdir -p "$T/apps/ign/tmp" "$T/apps/ign/.git"
echo scratch >"$T/apps/ign/tmp/scratch"
echo "[core]" >"$T/apps/ign/.git/config"
ln -s index.html "$T/apps/ign/home.html"
dew --json push ign -p "$T/apps/ign" -m 64M
expect_rc 0 "push an app with a .cfignore and a symlink inside"
jcheck "$OUT" 'j["uploaded"]["files"] + j["matched"]["files"] == '"$((nfiles + 2))" \
	"the app's files, keep.log and the symlink were sent, nothing ignored"
for f in secret.txt debug.log tmp/scratch .git/config .cfignore; do
	api R GET "/v1/apps/ign/files/app/$f" alice
	expect 404 "ignored $f is not in the instance"
done
api R GET "/v1/apps/ign/files/app/keep.log" alice
expect 200 "keep.log (negated) is in the instance"
dew delete ign -f

app out static
ln -s /etc/passwd "$T/apps/out/passwd"
dew push out -p "$T/apps/out"
expect_rc 1 "push an app with a symlink out of it"
dew_assert_contains "$ERR" "points outside the app" "it says the symlink points outside"
dew_assert_contains "$ERR" "passwd" "naming the link"
api R GET /v1/apps/out alice
expect 404 "nothing was created"
rm "$T/apps/out/passwd"
mkfifo "$T/apps/out/pipe"
dew push out -p "$T/apps/out"
expect_rc 1 "push an app with a fifo"
dew_assert_contains "$ERR" "\`pipe\` is a fifo" "it names the fifo"

# ---- manifests ------------------------------------------------------------------------------------
mkdir -p "$T/multi"
app py1 python
app sh1 shell
cat >"$T/multi/manifest.yml" <<EOF
applications:
- name: m1
  path: ../apps/py1
  memory: 64M
  instances: 1
  env:
    GREETING: hi
- name: m2
  path: ../apps/sh1
  memory: 48M
  no-route: true
EOF
(cd "$T/multi" && "$DEW" push -m 96M >/dev/null 2>"$T/usage.err") && RC=0 || RC=$?
ERR=$(cat "$T/usage.err")
expect_rc 2 "flags with a manifest of two apps and no NAME"
(cd "$T/multi" && "$DEW" --json push >"$T/multi.out" 2>"$T/multi.err") && RC=0 || RC=$?
OUT=$(cat "$T/multi.out") ERR=$(cat "$T/multi.err")
expect_rc 0 "push a manifest of two apps"
jcheck "$OUT" '[a["name"] for a in j] == ["m1", "m2"] and all(i["state"] == "RUNNING" for a in j for i in a["instances"])' \
	"--json: a list of both apps, RUNNING"
dew --json app m1
jcheck "$OUT" 'j["app"]["memory"] == 64 and j["app"]["env"] == {"GREETING": "hi"} and j["app"]["routes"] == ["m1.dew.test"]' \
	"m1 has the manifest's memory, env and its default route"
dew --json app m2
jcheck "$OUT" 'j["app"]["memory"] == 48 and j["app"]["routes"] == []' "m2 has 48 MB and no route (no-route)"
answers m2 "hello from shell"
dew push m1 -f "$T/multi/manifest.yml" -m 80M --hostname hello
expect_rc 0 "push m1 of the manifest with -m and --hostname"
dew --json app m1
jcheck "$OUT" 'j["app"]["memory"] == 80 and j["app"]["routes"] == ["hello.dew.test"] and j["app"]["instances"] == 1' \
	"the flags won over the manifest"
answers m1 "hello from python"
dew push nosuch -f "$T/multi/manifest.yml"
expect_rc 1 "a NAME the manifest does not have"
printf 'applications:\n- name: bad\n  memory: lots\n' >"$T/bad.yml"
dew push -f "$T/bad.yml"
expect_rc 1 "a manifest with a malformed memory"
dew_assert_contains "$ERR" "bad.yml:3" "the error names the line"
dew delete m1 -f
dew delete m2 -f

# ---- --no-start, crashes, memory -----------------------------------------------------------------
app later python
dew push later -p "$T/apps/later" --no-start
expect_rc 0 "push --no-start"
dew --json app later
jcheck "$OUT" 'j["app"]["state"] == "STOPPED"' "the app stays STOPPED"
dew delete later -f

app crash python
dew push crash -p "$T/apps/crash" -m 64M -c "python3 -c 'import sys; print(\"about to fail\"); sys.exit(3)'"
expect_rc 1 "push an app that exits"
dew_assert_contains "$ERR" "crash did not start" "it says the app did not start"
dew_assert_contains "$ERR" "exit" "with the exit status"
dew_assert_contains "$ERR" "about to fail" "and the instance's last log lines"
dew delete crash -f

app oom python
dew push oom -p "$T/apps/oom" -m 32M -c "python3 -c 'print(\"allocating\", flush=True); x=bytearray(256<<20); import time; time.sleep(60)'"
expect_rc 1 "push an app over its memory"
dew_assert_contains "$ERR" "out of memory" "it says out of memory"
dew_assert_contains "$ERR" "allocating" "with the instance's last log lines"
dew delete oom -f

app nodetect broken-nodetect
echo data >"$T/apps/nodetect/data.txt"
dew push nodetect -p "$T/apps/nodetect" -m 64M
expect_rc 1 "push an app no buildpack detects"
dew_assert_contains "$ERR" "staging of nodetect failed" "it says staging failed"

cc_sanitizer_check
dew_pass
