/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition (version 0.0.4) helpers: HELP/TYPE headers, samples with escaped
 * labels, fixed-bucket histograms, and the process_* metrics every daemon reports.
 */
#ifndef DEW_METRICS_H
#define DEW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum dew_metric_type {
	DEW_METRIC_COUNTER,
	DEW_METRIC_GAUGE,
	DEW_METRIC_HISTOGRAM,
};

/* "# HELP name help" and "# TYPE name type" lines. */
void dew_metrics_header(struct dew_buf *out, const char *name, enum dew_metric_type type, const char *help);

/*
 * One sample line. labels is NULL or a NULL-terminated list of name, value pairs
 * ((const char *[]){"route", "/v1/apps", NULL}); values are escaped as the format requires.
 */
void dew_metrics_sample(struct dew_buf *out, const char *name, const char *const *labels, double value);

/* Header plus one unlabelled sample: the common case. */
void dew_metrics_counter(struct dew_buf *out, const char *name, const char *help, uint64_t value);
void dew_metrics_gauge(struct dew_buf *out, const char *name, const char *help, double value);

/* A histogram with fixed upper bounds (seconds or any unit), cumulative when written. */
struct dew_histogram {
	const double *bounds; /* ascending, not owned */
	size_t n_bounds;
	uint64_t *counts; /* n_bounds + 1 (the last is +Inf), owned */
	uint64_t count;
	double sum;
};

void dew_histogram_init(struct dew_histogram *h, const double *bounds, size_t n_bounds);
void dew_histogram_close(struct dew_histogram *h);
void dew_histogram_observe(struct dew_histogram *h, double value);
/* _bucket{le=…}, _sum and _count lines (header included). */
void dew_histogram_write(struct dew_buf *out, const char *name, const char *help,
			 const struct dew_histogram *h);

/*
 * process_resident_memory_bytes, process_open_fds, process_cpu_seconds_total,
 * process_start_time_seconds (start_time: Unix seconds when the daemon started).
 */
void dew_metrics_process(struct dew_buf *out, double start_time);

#endif
