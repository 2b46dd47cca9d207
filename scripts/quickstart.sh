#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# README command (1): bring up a single-node dew (built-in bus, SQLite, local blobs), deploy the
# sample app and print its URL. Idempotent.
#
# dew is being built issue by issue; this script builds what exists and says plainly which
# components are not there yet instead of pretending to deploy.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$top/build

"$top/scripts/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] || ./autogen.sh >/dev/null
mkdir -p "$builddir"
cd "$builddir"
"$top/configure" --quiet
make -j"$(nproc)" >/dev/null
echo "quickstart: built dew in $builddir"

# The daemons a single node runs, and the CLI that deploys the sample app.
components=(
	"bus/dew-bus:built-in message bus"
	"runtime/dew-run:container runtime"
	"stacks/dew-stage:staging executor"
	"dea/dew-dea:droplet execution agent"
	"controller/dew-controller:controller (REST API)"
	"router/dew-router:HTTP router"
	"healthd/dew-healthd:health manager"
	"cli/dew:developer CLI"
)
missing=0
for c in "${components[@]}"; do
	path=${c%%:*} what=${c#*:}
	if [ -x "$builddir/$path" ]; then
		echo "  present: $(basename "$path") ($what)"
	else
		echo "  missing: $(basename "$path") ($what)"
		missing=$((missing + 1))
	fi
done
if [ $missing -gt 0 ]; then
	echo "quickstart: $missing of ${#components[@]} components do not exist yet, so no app can be deployed."
	echo "quickstart: nothing was started. See README.md (Status) for what is built so far."
	exit 1
fi
