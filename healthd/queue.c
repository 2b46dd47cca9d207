// SPDX-License-Identifier: MIT
/*
 * The start queue (queue.h): one line per priority, each a JSON array of {guid, index} in arrival
 * order, and an index "<guid>/<index>" -> priority so an index is queued once. Lines are short
 * (what the rate limit holds back), so moving an entry up scans its line.
 */
#include "queue.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

const char *const hm_priority_names[HM_N_PRIOS] = {
	[HM_PRIO_EVACUATION] = "evacuation",
	[HM_PRIO_CRASH] = "crash",
	[HM_PRIO_SWEEP] = "sweep",
};

static const struct {
	const char *reason;
	enum hm_priority prio;
} reason_prios[] = {
	{ "DEA_EVACUATION", HM_PRIO_EVACUATION },
	{ "CRASHED", HM_PRIO_CRASH },
	{ "DEA_SHUTDOWN", HM_PRIO_CRASH },
};

enum hm_priority hm_priority_of_reason(const char *reason)
{
	for (size_t i = 0; reason && i < DEW_ARRAY_SIZE(reason_prios); i++)
		if (!strcmp(reason, reason_prios[i].reason))
			return reason_prios[i].prio;
	return HM_PRIO_SWEEP;
}

struct hm_queue {
	json_t *line[HM_N_PRIOS]; /* [{guid, index}] */
	json_t *where;		  /* "<guid>/<index>" -> priority */
};

/* guid is an id of [A-Za-z0-9_.-] (actual_id_ok), so '/' cannot be part of it. */
static void queue_key(char *key, size_t n, const char *guid, int64_t index)
{
	snprintf(key, n, "%s/%" PRId64, guid, index);
}

struct hm_queue *hm_queue_new(void)
{
	struct hm_queue *q = xzalloc(sizeof(*q));
	for (int p = 0; p < HM_N_PRIOS; p++)
		q->line[p] = json_array();
	q->where = json_object();
	return q;
}

void hm_queue_free(struct hm_queue *q)
{
	if (!q)
		return;
	for (int p = 0; p < HM_N_PRIOS; p++)
		json_decref(q->line[p]);
	json_decref(q->where);
	free(q);
}

/* Remove guid's index from line p. */
static void queue_unlink(struct hm_queue *q, int p, const char *guid, int64_t index)
{
	json_t *e;
	size_t k;
	json_array_foreach (q->line[p], k, e) {
		if (json_integer_value(json_object_get(e, "index")) == index &&
		    !strcmp(json_string_value(json_object_get(e, "guid")), guid)) {
			json_array_remove(q->line[p], k);
			return;
		}
	}
}

bool hm_queue_push(struct hm_queue *q, const char *guid, int64_t index, enum hm_priority prio)
{
	char key[96];
	queue_key(key, sizeof key, guid, index);
	json_t *at = json_object_get(q->where, key);
	if (at && json_integer_value(at) <= prio)
		return false;
	if (at)
		queue_unlink(q, (int)json_integer_value(at), guid, index);
	json_array_append_new(q->line[prio],
			      json_pack("{s:s, s:I}", "guid", guid, "index", (json_int_t)index));
	json_object_set_new(q->where, key, json_integer(prio));
	return !at;
}

bool hm_queue_pop(struct hm_queue *q, char **guid, int64_t *index, enum hm_priority *prio)
{
	for (int p = 0; p < HM_N_PRIOS; p++) {
		json_t *e = json_array_get(q->line[p], 0);
		if (!e)
			continue;
		*guid = xstrdup(json_string_value(json_object_get(e, "guid")));
		*index = json_integer_value(json_object_get(e, "index"));
		*prio = (enum hm_priority)p;
		char key[96];
		queue_key(key, sizeof key, *guid, *index);
		json_object_del(q->where, key);
		json_array_remove(q->line[p], 0);
		return true;
	}
	return false;
}

bool hm_queue_has(const struct hm_queue *q, const char *guid, int64_t index)
{
	char key[96];
	queue_key(key, sizeof key, guid, index);
	return json_object_get(q->where, key) != NULL;
}

size_t hm_queue_forget(struct hm_queue *q, const char *guid)
{
	size_t gone = 0;
	for (int p = 0; p < HM_N_PRIOS; p++) {
		for (size_t k = 0; k < json_array_size(q->line[p]);) {
			json_t *e = json_array_get(q->line[p], k);
			if (strcmp(json_string_value(json_object_get(e, "guid")), guid) != 0) {
				k++;
				continue;
			}
			char key[96];
			queue_key(key, sizeof key, guid, json_integer_value(json_object_get(e, "index")));
			json_object_del(q->where, key);
			json_array_remove(q->line[p], k);
			gone++;
		}
	}
	return gone;
}

size_t hm_queue_len(const struct hm_queue *q)
{
	return json_object_size(q->where);
}
