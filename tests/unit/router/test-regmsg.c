// SPDX-License-Identifier: MIT
/* Unit tests of router/regmsg.h: router.register payloads, good and hostile. */
#include <string.h>

#include "regmsg.h"
#include "tap.h"

static int parse(const char *s)
{
	struct regmsg m;
	cleanup_error struct dew_error *err = NULL;
	int r = regmsg_parse(s, strlen(s), &m, &err);
	regmsg_close(&m);
	return r;
}

int main(void)
{
	struct regmsg m;
	cleanup_error struct dew_error *err = NULL;
	const char *full =
		"{\"host\":\"10.0.0.1\",\"port\":61001,\"uris\":[\"a.com\",\"b.com/x\"],\"app\":\"app-1\","
		"\"private_instance_id\":\"i-1\",\"private_instance_index\":3,\"tags\":{\"component\":"
		"\"dea\"},"
		"\"stale_threshold_in_seconds\":30,\"options\":{\"loadbalancing\":\"least-connection\"}}";
	tap_is_int(regmsg_parse(full, strlen(full), &m, &err), 0, "a full message");
	tap_ok(m.ep.port == 61001 && m.ep.instance_index == 3 && m.ep.threshold_ms == 30000 &&
		       m.ep.lb == TABLE_LB_LEAST_CONN,
	       "fields read");
	tap_is_str(m.uris[1], "b.com/x", "uris read");
	regmsg_close(&m);
	tap_is_int(parse("{\"host\":\"10.0.0.1\",\"port\":1,\"uris\":[\"a.com\"],\"tags\":{},\"app\":\"x\","
			 "\"private_instance_id\":\"y\"}"),
		   0, "the minimal 2013 message");
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"port\":1,\"uris\":[\"a\"]}",
		"{\"host\":\"h\",\"port\":0,\"uris\":[\"a\"]}",
		"{\"host\":\"h\",\"port\":70000,\"uris\":[\"a\"]}",
		"{\"host\":\"h\",\"port\":\"80\",\"uris\":[\"a\"]}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[]}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[1]}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a b\"]}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a\"],\"private_instance_id\":\"x;y\"}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a\"],\"app\":\"x\\r\\nEvil: 1\"}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a\"],\"stale_threshold_in_seconds\":-1}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a\"],\"options\":{\"loadbalancing\":\"random\"}}",
		"{\"host\":\"h\",\"port\":1,\"uris\":[\"a\"],\"tags\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_is_int(parse(bad[i]), -22, "refused: %s", bad[i]);
	return tap_done();
}
