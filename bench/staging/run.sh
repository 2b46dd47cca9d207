#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Staging time per sample app (median of 5 `dew-stage` runs, from start to droplet written) and
# droplet sizes, with the host stack. Needs root (containers). Prints a table; never fails on a
# missed target, only when staging itself fails.
# env: DEW_STAGE (the dew-stage binary), DEW_STACKS_BUILT (build tree's stacks/ with host/ built),
#      DEW_SRC (source tree), BENCH_RUNS (default 5)
set -euo pipefail
: "${DEW_STAGE:?}" "${DEW_STACKS_BUILT:?}" "${DEW_SRC:?}"
runs=${BENCH_RUNS:-5}
tmp=$(mktemp -d /var/tmp/dew-bench-staging.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/stacks"
ln -s "$DEW_STACKS_BUILT/host" "$tmp/stacks/host"
ln -s "$DEW_SRC/stacks/buildpacks" "$tmp/stacks/buildpacks"

apps="static shell binary python"
command -v node >/dev/null && apps="$apps node"
echo "bench: $runs x dew-stage per app ($apps)" >&2
printf '## Staging time per sample app (median of %s), host stack\n\n' "$runs"
printf '| app | buildpack | median ms | min ms | max ms | droplet bytes | target |\n|---|---|---|---|---|---|---|\n'
for app in $apps; do
	src=$DEW_SRC/tests/fixtures/apps/$app
	if [ "$app" = binary ]; then
		cp -r "$src" "$tmp/src-binary"
		cc -static -O2 -o "$tmp/src-binary/server" "$tmp/src-binary/server.c"
		src=$tmp/src-binary
	fi
	tar -C "$src" -czf "$tmp/$app.tgz" .
	times=()
	for i in $(seq "$runs"); do
		t0=$(date +%s%N)
		out=$("$DEW_STAGE" --root "$tmp/state" --json --stacks-dir "$tmp/stacks" "$tmp/$app.tgz" \
			"$tmp/$app.droplet" 2>"$tmp/$app.log") || { cat "$tmp/$app.log" >&2; exit 1; }
		t1=$(date +%s%N)
		times+=($(( (t1 - t0) / 1000 )))
	done
	python3 - "$app" "$out" "${times[@]}" <<'PY'
import json, statistics, sys
app, out, times = sys.argv[1], json.loads(sys.argv[2]), [int(t) / 1000 for t in sys.argv[3:]]
med = statistics.median(times)
target = ("< 300 ms: " + ("met" if med < 300 else "MISSED")) if app in ("static", "shell", "binary") else "-"
print(f"| {app} | {out['buildpack']} | {med:.0f} | {min(times):.0f} | {max(times):.0f} | {out['size']} | {target} |")
PY
done
