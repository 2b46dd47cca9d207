// SPDX-License-Identifier: MIT
/*
 * Unit tests of common/parse.c: every parser on good input, bad input (including leading and
 * trailing blanks, trailing garbage and, for canonical digits, leading zeros) and overflow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "tap.h"

static void test_int64(void)
{
	static const struct {
		const char *in;
		int ret;
		int64_t want;
	} cases[] = {
		{ "0", 0, 0 },
		{ "42", 0, 42 },
		{ "-7", 0, -7 },
		{ "007", 0, 7 },
		{ "-0", 0, 0 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", -ERANGE, 0 },
		{ "-9223372036854775809", -ERANGE, 0 },
		{ "99999999999999999999999", -ERANGE, 0 },
		{ "99999999999999999999999x", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "-", -EINVAL, 0 },
		{ "--1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ " 1", -EINVAL, 0 },
		{ "1 ", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
		{ "0x10", -EINVAL, 0 },
		{ "1.5", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t v = 12345;
		int r = dew_parse_int64(cases[i].in, &v);
		tap_is_int(r, cases[i].ret, "int64 `%s` returns %d", cases[i].in, cases[i].ret);
		tap_is_int(v, r == 0 ? cases[i].want : 12345, "int64 `%s` value", cases[i].in);
	}
}

static void test_uint64(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 0 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "-1", -EINVAL, 0 },
		{ "+1", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ " 5", -EINVAL, 0 },
		{ "5\t", -EINVAL, 0 },
		{ "12a", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 99;
		int r = dew_parse_uint64(cases[i].in, &v);
		tap_is_int(r, cases[i].ret, "uint64 `%s` returns %d", cases[i].in, cases[i].ret);
		tap_ok(v == (r == 0 ? cases[i].want : 99), "uint64 `%s` value", cases[i].in);
	}
}

static void test_digits(void)
{
	static const struct {
		const char *in;
		size_t len; /* of in, unless 0 */
		uint64_t max;
		int ret;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 10, 0, 0 },
		{ "7", 0, 7, 0, 7 },
		{ "8", 0, 7, -ERANGE, 0 },
		{ "1000", 0, 1000, 0, 1000 },
		{ "1001", 0, 1000, -ERANGE, 0 },
		{ "9223372036854775807", 0, INT64_MAX, 0, INT64_MAX },
		{ "9223372036854775808", 0, INT64_MAX, -ERANGE, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
		{ "123$rest", 3, UINT64_MAX, 0, 123 }, /* only len bytes are read */
		{ "12", 1, UINT64_MAX, 0, 1 },
		{ "", 0, UINT64_MAX, -EINVAL, 0 },
		{ "007", 0, UINT64_MAX, -EINVAL, 0 }, /* one spelling per number */
		{ "00", 0, UINT64_MAX, -EINVAL, 0 },
		{ "-1", 0, UINT64_MAX, -EINVAL, 0 },
		{ "+1", 0, UINT64_MAX, -EINVAL, 0 },
		{ " 1", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1 ", 0, UINT64_MAX, -EINVAL, 0 },
		{ "1a", 0, UINT64_MAX, -EINVAL, 0 },
		{ "99999999999999999999999x", 0, UINT64_MAX, -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 99;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		int r = dew_parse_digits(cases[i].in, len, cases[i].max, &v);
		tap_is_int(r, cases[i].ret, "digits `%.*s` (max %" PRIu64 ") returns %d", (int)len,
			   cases[i].in, cases[i].max, cases[i].ret);
		tap_ok(v == (r == 0 ? cases[i].want : 99), "digits `%.*s` value", (int)len, cases[i].in);
	}
}

static void test_hex_digit(void)
{
	tap_ok(dew_hex_digit('0') == 0 && dew_hex_digit('9') == 9 && dew_hex_digit('a') == 10 &&
		       dew_hex_digit('F') == 15,
	       "hex digits: 0, 9, a, F");
	tap_ok(dew_hex_digit('g') == -1 && dew_hex_digit('/') == -1 && dew_hex_digit(':') == -1 &&
		       dew_hex_digit('@') == -1 && dew_hex_digit('`') == -1 && dew_hex_digit('\0') == -1,
	       "not hex digits: the characters around the ranges and NUL");
}

static void test_bool(void)
{
	static const struct {
		const char *in;
		int ret;
		bool want;
	} cases[] = {
		{ "true", 0, true },
		{ "TRUE", 0, true },
		{ "yes", 0, true },
		{ "On", 0, true },
		{ "1", 0, true },
		{ "false", 0, false },
		{ "No", 0, false },
		{ "OFF", 0, false },
		{ "0", 0, false },
		{ "", -EINVAL, false },
		{ "y", -EINVAL, false },
		{ "2", -EINVAL, false },
		{ " true", -EINVAL, false },
		{ "true ", -EINVAL, false },
		{ "enable", -EINVAL, false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		bool v = !cases[i].want;
		int r = dew_parse_bool(cases[i].in, &v);
		tap_is_int(r, cases[i].ret, "bool `%s` returns %d", cases[i].in, cases[i].ret);
		if (r == 0)
			tap_ok(v == cases[i].want, "bool `%s` is %s", cases[i].in,
			       cases[i].want ? "true" : "false");
	}
}

static void test_size(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 0 },
		{ "1024", 0, 1024 },
		{ "512B", 0, 512 },
		{ "64K", 0, 64 << 10 },
		{ "64k", 0, 64 << 10 },
		{ "64KiB", 0, 64 << 10 },
		{ "64kib", 0, 64 << 10 },
		{ "64KB", 0, 64 << 10 },
		{ "1M", 0, 1 << 20 },
		{ "1MB", 0, 1 << 20 },
		{ "1MiB", 0, 1 << 20 },
		{ "2G", 0, UINT64_C(2) << 30 },
		{ "1T", 0, UINT64_C(1) << 40 },
		{ "1P", 0, UINT64_C(1) << 50 },
		{ "15E", 0, UINT64_C(15) << 60 },
		{ "16E", -ERANGE, 0 },
		{ "17179869184G", -ERANGE, 0 },
		{ "17179869183G", 0, UINT64_C(17179869183) << 30 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "1.5M", -EINVAL, 0 },
		{ "1 M", -EINVAL, 0 },
		{ " 1M", -EINVAL, 0 },
		{ "1M ", -EINVAL, 0 },
		{ "1X", -EINVAL, 0 },
		{ "1iB", -EINVAL, 0 },
		{ "1KiBB", -EINVAL, 0 },
		{ "1Kb2", -EINVAL, 0 },
		{ "-1K", -EINVAL, 0 },
		{ "lots", -EINVAL, 0 },
		{ "99999999999999999999999Q", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 7;
		int r = dew_parse_size(cases[i].in, &v);
		tap_is_int(r, cases[i].ret, "size `%s` returns %d", cases[i].in, cases[i].ret);
		tap_ok(v == (r == 0 ? cases[i].want : 7), "size `%s` value", cases[i].in);
	}
}

static void test_duration(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t want;
	} cases[] = {
		{ "250ms", 0, 250 },
		{ "0", 0, 0 },
		{ "2", 0, 2000 },
		{ "2s", 0, 2000 },
		{ "2S", 0, 2000 },
		{ "2m", 0, 120000 },
		{ "1h", 0, 3600000 },
		{ "1d", 0, 86400000 },
		{ "10MS", 0, 10 },
		{ "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709551615s", -ERANGE, 0 },
		{ "213503982334d", 0, UINT64_C(213503982334) * 86400000 },
		{ "213503982335d", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ "1sec", -EINVAL, 0 },
		{ "1w", -EINVAL, 0 },
		{ "1mss", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1s ", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = 7;
		int r = dew_parse_duration_ms(cases[i].in, &v);
		tap_is_int(r, cases[i].ret, "duration `%s` returns %d", cases[i].in, cases[i].ret);
		tap_ok(v == (r == 0 ? cases[i].want : 7), "duration `%s` value", cases[i].in);
	}
}

static void test_hostport(void)
{
	static const struct {
		const char *in;
		int ret;
		const char *host;
		int port;
	} cases[] = {
		{ "127.0.0.1:4222", 0, "127.0.0.1", 4222 },
		{ "localhost:0", 0, "localhost", 0 },
		{ "[::1]:80", 0, "::1", 80 },
		{ "[fe80::1%eth0]:8080", 0, "fe80::1%eth0", 8080 },
		{ "example.com:65535", 0, "example.com", 65535 },
		{ "0.0.0.0:65536", -ERANGE, NULL, 0 },
		{ "host:99999999999999999999999", -ERANGE, NULL, 0 },
		{ ":80", -EINVAL, NULL, 0 },
		{ "[]:80", -EINVAL, NULL, 0 },
		{ "localhost", -EINVAL, NULL, 0 },
		{ "localhost:", -EINVAL, NULL, 0 },
		{ "localhost:-1", -EINVAL, NULL, 0 },
		{ "localhost:+1", -EINVAL, NULL, 0 },
		{ "localhost:http", -EINVAL, NULL, 0 },
		{ "::1:80", -EINVAL, NULL, 0 },
		{ "[::1]", -EINVAL, NULL, 0 },
		{ "[::1]80", -EINVAL, NULL, 0 },
		{ "[::1:80", -EINVAL, NULL, 0 },
		{ "[127.0.0.1]:80", -EINVAL, NULL, 0 },
		{ " localhost:80", -EINVAL, NULL, 0 },
		{ "localhost:80 ", -EINVAL, NULL, 0 },
		{ "local host:80", -EINVAL, NULL, 0 },
		{ "", -EINVAL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *host = NULL;
		int port = -1;
		int r = dew_parse_hostport(cases[i].in, &host, &port);
		tap_is_int(r, cases[i].ret, "hostport `%s` returns %d", cases[i].in, cases[i].ret);
		if (r == 0) {
			tap_is_str(host, cases[i].host, "hostport `%s` host", cases[i].in);
			tap_is_int(port, cases[i].port, "hostport `%s` port", cases[i].in);
		} else {
			tap_ok(host == NULL && port == -1, "hostport `%s` leaves outputs alone", cases[i].in);
		}
		free(host);
	}
}

int main(void)
{
	test_int64();
	test_uint64();
	test_digits();
	test_hex_digit();
	test_bool();
	test_size();
	test_duration();
	test_hostport();
	return tap_done();
}
