#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Staging driven by dew-controller (issue #7, DESIGN.md section 5.1) with a real dew-bus, a real
# dew-dea staging in containers of the host stack and a real controller: bits uploaded to a
# STARTED app are staged (STAGED, detected buildpack, the droplet in the blob store), the staging
# log is kept and served to the owner only, a package no buildpack detects is FAILED with the
# DEA's reason, and with no DEA subscribed the app is FAILED saying so.
set -u
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/dea-lib.sh"
. "$(dirname "$0")/../lib/cc-lib.sh"
dew_test_init controller-staging 90

dea_lib_init
dea_start dea --staging-concurrency 1
cc_start
cc_user alice
cc_user bob

# ---- a python app is staged ------------------------------------------------------------------
push py python
wait_package py STAGED 60
dew_ok "py is STAGED"
dew_assert_eq "$(jget "$APP" 'j.get("detected_buildpack")')" python "py's detected buildpack is python"
dew_assert_eq "$(jget "$APP" 'j.get("staging_error", "")')" "" "py has no staging_error"
ls "$T/blobs/droplets" | grep -Eq '^[0-9a-f]{64}$' || dew_fail "no droplet in $T/blobs/droplets"
dew_ok "the droplet is in the blob store"
grep -q "app py (.*) staged: droplet" "$T/cc.log" || dew_fail "the controller did not log the staging"

api LOG GET /v1/apps/py/staging_log alice
expect 200 "GET py's staging_log"
[ "$(grep -c . <<<"$LOG")" -ge 2 ] || dew_fail "py's staging log has fewer than 2 lines: $LOG"
dew_ok "py's staging log has $(grep -c . <<<"$LOG") lines"
dew_assert_contains "$LOG" "python" "py's staging log names the buildpack"
api R GET /v1/apps/py/staging_log bob
expect 404 "bob cannot read alice's staging log"
dew_http R "$CC_URL/v1/apps/py/staging_log"
expect 401 "the staging log needs a token"

# ---- a package no buildpack detects ----------------------------------------------------------
push nodetect broken-nodetect
wait_package nodetect FAILED 60
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no buildpack detected" \
	"nodetect FAILED: no buildpack detected"

# ---- no DEA ------------------------------------------------------------------------------------
dew_stop "$dea_PID" 10
# The recorder subscribes to every subject, `staging` included: it would be a responder.
dew_stop "$recorder_PID" 5
push lonely python
wait_package lonely FAILED 15
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no DEA is staging" "lonely FAILED: no DEA is staging"

# "restage": true stages again (and fails the same way without a DEA).
api R PUT /v1/apps/py alice '{"restage":true}'
expect 200 "restage py"
wait_package py FAILED 15
dew_assert_contains "$(jget "$APP" 'j.get("staging_error")')" "no DEA is staging" "py restaged without a DEA: FAILED"

cc_sanitizer_check
dew_pass
