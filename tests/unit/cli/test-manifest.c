// SPDX-License-Identifier: MIT
/*
 * Unit tests of cli/manifest.c: a full Cloud Foundry manifest, several apps, paths joined to
 * the manifest's directory, sizes, and the errors that name the line: malformed YAML, wrong
 * types, a missing name, duplicate names, bounds.
 */
#include <string.h>

#include "alloc.h"
#include "manifest.h"
#include "tap.h"

static int parse(const char *text, struct manifest *m, struct dew_error **err)
{
	return manifest_parse(text, strlen(text), "manifest.yml", "/src", m, NULL, err);
}

static void test_full(void)
{
	struct manifest m;
	struct dew_error *err = NULL;
	const char *text = "---\n"
			   "applications:\n"
			   "- name: web\n"
			   "  path: site\n"
			   "  memory: 256M\n"
			   "  disk_quota: 1G\n"
			   "  instances: 2\n"
			   "  command: python3 app.py\n"
			   "  buildpack: python\n"
			   "  stack: host\n"
			   "  env:\n"
			   "    GREETING: hello\n"
			   "    COUNT: 3\n"
			   "  routes:\n"
			   "  - route: web.example.com\n"
			   "  - route: www.example.com\n"
			   "- name: worker\n"
			   "  path: /abs/worker\n"
			   "  memory: 512\n"
			   "  no-route: true\n"
			   "  timeout: 80\n"
			   "- name: plain\n";
	if (!tap_is_int(parse(text, &m, &err), 0, "a full manifest parses"))
		tap_diag("%s", dew_error_msg(err));
	if (!tap_is_int((long)m.n, 3, "three apps"))
		return;
	struct manifest_app *a = &m.apps[0];
	tap_is_str(a->name, "web", "name");
	tap_is_str(a->path, "/src/site", "path joined to the manifest's directory");
	tap_is_int(a->memory, 256, "memory 256M");
	tap_is_int(a->disk, 1024, "disk_quota 1G");
	tap_is_int(a->instances, 2, "instances");
	tap_is_str(a->command, "python3 app.py", "command");
	tap_is_str(a->buildpack, "python", "buildpack");
	tap_is_str(a->stack, "host", "stack");
	tap_is_str(json_string_value(json_object_get(a->env, "COUNT")), "3", "an env number is a string");
	tap_is_str(json_string_value(json_array_get(a->routes, 1)), "www.example.com", "routes");
	tap_is_int(a->no_route, -1, "no-route unset");
	tap_is_int((long)a->line, 3, "the app's line");
	a = &m.apps[1];
	tap_is_str(a->path, "/abs/worker", "an absolute path stays");
	tap_is_int(a->memory, 512, "memory as a number of MB");
	tap_is_int(a->no_route, 1, "no-route: true");
	tap_ok(!a->routes && !a->env && !a->command, "what is not given is unset");
	a = &m.apps[2];
	tap_is_str(a->path, "/src", "no path: the manifest's directory");
	tap_ok(a->memory == -1 && a->instances == -1 && a->disk == -1, "no sizes: -1");
	manifest_select(&m, 1);
	tap_ok(m.n == 1 && !strcmp(m.apps[0].name, "worker"), "manifest_select keeps one app");
	manifest_free(&m);
}

/* text fails to parse with an error containing want. */
static void fails(const char *text, const char *want, const char *what)
{
	struct manifest m;
	struct dew_error *err = NULL;
	int r = parse(text, &m, &err);
	tap_ok(r < 0, "%s: refused", what);
	tap_has_str(dew_error_msg(err), want, "%s: the error says so", what);
	dew_error_free(err);
	if (r == 0)
		manifest_free(&m);
}

static void test_errors(void)
{
	fails("applications:\n- name: a\n  memory: [1\n", "manifest.yml:", "malformed YAML");
	fails("applications:\n- name: a\n  memory: lots\n", "manifest.yml:3: `memory` must be a size",
	      "a bad size");
	fails("applications:\n- name: a\n  instances: two\n", "manifest.yml:3: `instances` must be a number",
	      "a bad count");
	fails("applications:\n- name: a\n  no-route: maybe\n",
	      "manifest.yml:3: `no-route` must be true or false", "a bad boolean");
	fails("applications:\n- name: a\n  env: [x]\n", "manifest.yml:3: `env` must be a mapping",
	      "env as a list");
	fails("applications:\n- name: a\n  command: {x: y}\n", "manifest.yml:3: `command` must be a string",
	      "a mapping for a string");
	fails("applications:\n- name: a\n  routes:\n  - web.example.com\n",
	      "manifest.yml:4: each of `routes`", "a route without route:");
	fails("applications:\n- path: x\n", "manifest.yml:2: an application has no `name`", "no name");
	fails("applications:\n- name: a\n- name: a\n", "manifest.yml:3: two applications are named `a`",
	      "a name twice");
	fails("name: a\n", "no `applications` list", "no applications");
	fails("applications: web\n", "`applications` must be a list", "applications not a list");
	fails("applications: []\n", "`applications` is empty", "no app");
	fails("", "a manifest is a mapping", "an empty file");
	fails("applications:\n- name: a\n  memory: 99999999G\n", "must be a size", "a size over the bound");
}

static void test_sizes(void)
{
	int64_t mb = 0;
	tap_ok(manifest_parse_mb("1g", &mb) == 0 && mb == 1024, "1g is 1024 MB");
	tap_ok(manifest_parse_mb("128MB", &mb) == 0 && mb == 128, "128MB");
	tap_ok(manifest_parse_mb("0", &mb) < 0, "0 is refused");
	tap_ok(manifest_parse_mb("-5M", &mb) < 0, "a negative size is refused");
	tap_ok(manifest_parse_mb("5T", &mb) < 0, "an unknown unit is refused");
}

int main(void)
{
	test_full();
	test_errors();
	test_sizes();
	return tap_done();
}
