// SPDX-License-Identifier: MIT
/*
 * Prometheus text format writer. Numbers are written with %.17g so counters round-trip;
 * label values escape backslash, double quote and newline as the format requires.
 */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc.h"

static const char *type_name(enum dew_metric_type type)
{
	switch (type) {
	case DEW_METRIC_COUNTER:
		return "counter";
	case DEW_METRIC_GAUGE:
		return "gauge";
	case DEW_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

void dew_metrics_header(struct dew_buf *out, const char *name, enum dew_metric_type type, const char *help)
{
	dew_buf_printf(out, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			dew_buf_puts(out, "\\\\");
		else if (*p == '\n')
			dew_buf_puts(out, "\\n");
		else
			dew_buf_putc(out, *p);
	}
	dew_buf_printf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

static void label_value(struct dew_buf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			dew_buf_putc(out, '\\'), dew_buf_putc(out, *v);
		else if (*v == '\n')
			dew_buf_puts(out, "\\n");
		else
			dew_buf_putc(out, *v);
	}
}

static void number(struct dew_buf *out, double value)
{
	if (isnan(value))
		dew_buf_puts(out, "NaN");
	else if (isinf(value))
		dew_buf_puts(out, value > 0 ? "+Inf" : "-Inf");
	else if (value == (double)(int64_t)value && fabs(value) < 9e15)
		dew_buf_printf(out, "%lld", (long long)value);
	else
		dew_buf_printf(out, "%.17g", value);
}

void dew_metrics_sample(struct dew_buf *out, const char *name, const char *const *labels, double value)
{
	dew_buf_puts(out, name);
	if (labels && labels[0]) {
		dew_buf_putc(out, '{');
		for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
			dew_buf_printf(out, "%s%s=\"", i ? "," : "", labels[i]);
			label_value(out, labels[i + 1]);
			dew_buf_putc(out, '"');
		}
		dew_buf_putc(out, '}');
	}
	dew_buf_putc(out, ' ');
	number(out, value);
	dew_buf_putc(out, '\n');
}

void dew_metrics_counter(struct dew_buf *out, const char *name, const char *help, uint64_t value)
{
	dew_metrics_header(out, name, DEW_METRIC_COUNTER, help);
	dew_buf_printf(out, "%s %llu\n", name, (unsigned long long)value);
}

void dew_metrics_gauge(struct dew_buf *out, const char *name, const char *help, double value)
{
	dew_metrics_header(out, name, DEW_METRIC_GAUGE, help);
	dew_metrics_sample(out, name, NULL, value);
}

void dew_histogram_init(struct dew_histogram *h, const double *bounds, size_t n_bounds)
{
	h->bounds = bounds;
	h->n_bounds = n_bounds;
	h->counts = xcalloc(n_bounds + 1, sizeof *h->counts);
	h->count = 0;
	h->sum = 0;
}

void dew_histogram_close(struct dew_histogram *h)
{
	free(h->counts);
	h->counts = NULL;
}

void dew_histogram_observe(struct dew_histogram *h, double value)
{
	size_t i = 0;
	while (i < h->n_bounds && value > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += value;
}

void dew_histogram_write(struct dew_buf *out, const char *name, const char *help,
			 const struct dew_histogram *h)
{
	cleanup_free char *bucket = xasprintf("%s_bucket", name);
	char le[32];
	uint64_t cumulative = 0;

	dew_metrics_header(out, name, DEW_METRIC_HISTOGRAM, help);
	for (size_t i = 0; i <= h->n_bounds; i++) {
		cumulative += h->counts[i];
		if (i < h->n_bounds)
			snprintf(le, sizeof le, "%g", h->bounds[i]);
		else
			snprintf(le, sizeof le, "+Inf");
		dew_metrics_sample(out, bucket, (const char *[]){ "le", le, NULL }, (double)cumulative);
	}
	dew_buf_printf(out, "%s_sum ", name);
	number(out, h->sum);
	dew_buf_printf(out, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

static long resident_pages(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident;
}

void dew_metrics_process(struct dew_buf *out, double start_time)
{
	struct rusage ru;
	double cpu = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		      ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;

	long pages = resident_pages();
	if (pages >= 0)
		dew_metrics_gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
				  (double)pages * (double)sysconf(_SC_PAGESIZE));
	long fds = open_fds();
	if (fds >= 0)
		dew_metrics_gauge(out, "process_open_fds", "Number of open file descriptors.", (double)fds);
	dew_metrics_header(out, "process_cpu_seconds_total", DEW_METRIC_COUNTER,
			   "Total user and system CPU time spent in seconds.");
	dew_metrics_sample(out, "process_cpu_seconds_total", NULL, cpu);
	dew_metrics_gauge(out, "process_start_time_seconds",
			  "Start time of the process since the Unix epoch.", start_time);
}
