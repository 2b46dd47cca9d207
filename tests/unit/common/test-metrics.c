// SPDX-License-Identifier: MIT
/* Unit tests of common/metrics.h: Prometheus text output. */
#include <string.h>

#include "alloc.h"
#include "metrics.h"
#include "tap.h"

int main(void)
{
	struct dew_buf out = DEW_BUF_INIT;
	dew_metrics_counter(&out, "dew_bus_msgs_in_total", "Messages received.", 42);
	tap_is_str(out.data,
		   "# HELP dew_bus_msgs_in_total Messages received.\n"
		   "# TYPE dew_bus_msgs_in_total counter\n"
		   "dew_bus_msgs_in_total 42\n",
		   "a counter with HELP and TYPE");
	dew_buf_reset(&out);

	dew_metrics_sample(&out, "dew_requests_total",
			   (const char *[]){ "route", "/v1/apps", "note", "say \"hi\"\\\n", NULL }, 3);
	tap_is_str(out.data, "dew_requests_total{route=\"/v1/apps\",note=\"say \\\"hi\\\"\\\\\\n\"} 3\n",
		   "labels are escaped");
	dew_buf_reset(&out);

	dew_metrics_gauge(&out, "g", "Line\nbreak and \\.", 0.25);
	tap_has_str(out.data, "# HELP g Line\\nbreak and \\\\.\n", "HELP escapes newline and backslash");
	tap_has_str(out.data, "g 0.25\n", "fractional gauge");
	dew_buf_reset(&out);

	static const double bounds[] = { 0.001, 0.01, 0.1 };
	struct dew_histogram h;
	dew_histogram_init(&h, bounds, 3);
	dew_histogram_observe(&h, 0.0005);
	dew_histogram_observe(&h, 0.005);
	dew_histogram_observe(&h, 0.005);
	dew_histogram_observe(&h, 5);
	dew_histogram_write(&out, "lat_seconds", "Latency.", &h);
	tap_has_str(out.data, "lat_seconds_bucket{le=\"0.001\"} 1\n", "first bucket");
	tap_has_str(out.data, "lat_seconds_bucket{le=\"0.01\"} 3\n", "buckets are cumulative");
	tap_has_str(out.data, "lat_seconds_bucket{le=\"0.1\"} 3\n", "empty bucket keeps the running total");
	tap_has_str(out.data, "lat_seconds_bucket{le=\"+Inf\"} 4\n", "+Inf bucket counts everything");
	tap_has_str(out.data, "lat_seconds_count 4\n", "count");
	tap_has_str(out.data, "lat_seconds_sum 5.0105", "sum");
	dew_histogram_close(&h);
	dew_buf_reset(&out);

	dew_metrics_process(&out, 1700000000);
	tap_has_str(out.data, "process_resident_memory_bytes ", "resident memory");
	tap_has_str(out.data, "process_open_fds ", "open fds");
	tap_has_str(out.data, "process_start_time_seconds 1700000000\n", "start time");
	tap_has_str(out.data, "# TYPE process_cpu_seconds_total counter\n", "cpu seconds is a counter");
	dew_buf_close(&out);
	return tap_done();
}
