// SPDX-License-Identifier: MIT
/*
 * stack-show: load a stack the way the DEA will (dew_stack_load with probing), apply it to an
 * empty container spec and print what came out as JSON: name, description, runtimes, and the
 * spec's rootfs and mounts. Integration tests turn that into a container spec for dew-run.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "json.h"
#include "stack.h"

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int main(int argc, char **argv)
{
	struct dew_error *err = NULL;
	struct dew_stack *stack = NULL;
	bool probe = true;

	if (argc == 4 && strcmp(argv[1], "--no-probe") == 0) {
		probe = false;
		argv++;
		argc--;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: stack-show [--no-probe] STACKS_DIR NAME\n");
		return 2;
	}
	if (dew_stack_load(argv[1], argv[2], probe, &stack, &err) < 0) {
		fprintf(stderr, "stack-show: %s\n", dew_error_msg(err));
		dew_error_free(err);
		return 1;
	}
	struct dewrt_spec spec = { 0 };
	dew_stack_apply(stack, &spec);
	json_t *mounts = json_array();
	for (size_t i = 0; i < spec.n_mounts; i++)
		json_array_append_new(mounts,
				      json_pack("{s:s, s:s, s:b}", "source", spec.mounts[i].source, "target",
						spec.mounts[i].target, "readonly", spec.mounts[i].readonly));
	json_t *out =
		json_pack("{s:s, s:s, s:o, s:s, s:o}", "name", stack->name, "description", stack->description,
			  "runtimes", strv_json(stack->runtimes), "rootfs", spec.rootfs, "mounts", mounts);
	char *s = dew_json_dumps(out);
	puts(s);
	free(s);
	json_decref(out);
	for (size_t i = 0; i < spec.n_mounts; i++) {
		free(spec.mounts[i].source);
		free(spec.mounts[i].target);
	}
	free(spec.mounts);
	free(spec.rootfs);
	dew_stack_free(stack);
	return 0;
}
