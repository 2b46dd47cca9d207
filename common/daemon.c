// SPDX-License-Identifier: MIT
/*
 * The daemon skeleton: options (every dew.conf key is also a flag), logging, signals, the
 * status listener and readiness. A daemon's main.c is left with its own loop and handlers.
 */
#include "daemon.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "alloc.h"
#include "buf.h"
#include "fs.h"
#include "log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

const char *const dew_daemon_log_formats[] = { "text", "json", NULL };
const char *const dew_daemon_log_levels[] = { "error", "warning", "notice", "info", "debug", NULL };

/* Option codes: fixed options below 256; key i is KEY_BASE + i, its --no- form NEG_BASE + i. */
enum {
	OPT_VERSION = 256,
	OPT_PRINT_CONFIG,
	OPT_KEY_BASE = 1000,
	OPT_NEG_BASE = 3000,
};

struct override {
	const struct dew_conf_key *key;
	char *value;  /* owned */
	char *origin; /* "--listen", owned */
};

static char *flag_name(const char *key)
{
	char *s = xstrdup(key);
	for (char *p = s; *p; p++)
		if (*p == '_')
			*p = '-';
	return s;
}

static bool key_is_flag(const struct dew_daemon_info *info, const struct dew_conf_key *k)
{
	return info->uses_bus || (strcmp(k->name, "bus") != 0 && strcmp(k->name, "bus_ping_interval") != 0);
}

static const char *type_hint(const struct dew_conf_key *k)
{
	static const char *const hints[] = {
		[DEW_CONF_STRING] = "VALUE",	   [DEW_CONF_INT] = "N",	 [DEW_CONF_BOOL] = "",
		[DEW_CONF_SIZE] = "SIZE",	   [DEW_CONF_DURATION] = "TIME", [DEW_CONF_ENUM] = "CHOICE",
		[DEW_CONF_HOSTPORT] = "HOST:PORT",
	};
	return hints[k->type];
}

static void print_help(const struct dew_daemon_info *info)
{
	printf("Usage: %s [OPTION]...\n%s\n\n", info->name, info->summary);
	printf("  -c, --config FILE        read FILE (default " SYSCONFDIR "/dew/dew.conf when present)\n"
	       "  -o KEY=VALUE             set any dew.conf key\n"
	       "      --print-config       print the effective configuration and exit\n"
	       "  -h, --help               show this help and exit\n"
	       "      --version            show the version and exit\n\n"
	       "Every dew.conf key of section [%s] is also an option:\n",
	       info->section);
	for (size_t i = 0; i < info->n_keys; i++) {
		const struct dew_conf_key *k = &info->keys[i];
		if (!key_is_flag(info, k))
			continue;
		cleanup_free char *name = flag_name(k->name);
		cleanup_free char *left = xasprintf("--%s%s%s", name, *type_hint(k) ? " " : "", type_hint(k));
		printf("      %-24s %s", left, k->doc ? k->doc : "");
		if (k->def && *k->def)
			printf(" (default: %s)", k->def);
		printf("\n");
	}
	printf("\nSee %s(8) and dew.conf(5).\n", info->name);
}

/* struct option array: the fixed options, then each key (and --no-KEY for booleans). */
static struct option *build_options(const struct dew_daemon_info *info, char ***names_out)
{
	size_t n = 0, cap = info->n_keys * 2 + 8;
	struct option *opts = xcalloc(cap, sizeof *opts);
	char **names = xcalloc(info->n_keys * 2 + 1, sizeof *names);
	size_t nn = 0;

	opts[n++] = (struct option){ "config", required_argument, NULL, 'c' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	opts[n++] = (struct option){ "print-config", no_argument, NULL, OPT_PRINT_CONFIG };
	for (size_t i = 0; i < info->n_keys; i++) {
		const struct dew_conf_key *k = &info->keys[i];
		if (!key_is_flag(info, k))
			continue;
		char *name = names[nn++] = flag_name(k->name);
		bool is_bool = k->type == DEW_CONF_BOOL;
		opts[n++] = (struct option){ name, is_bool ? optional_argument : required_argument, NULL,
					     OPT_KEY_BASE + (int)i };
		if (is_bool) {
			char *neg = names[nn++] = xasprintf("no-%s", name);
			opts[n++] = (struct option){ neg, no_argument, NULL, OPT_NEG_BASE + (int)i };
		}
	}
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	*names_out = names;
	return opts;
}

static void free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static void add_override(struct override **ov, size_t *n, const struct dew_conf_key *key, const char *value,
			 const char *origin)
{
	*ov = xreallocarray(*ov, *n + 1, sizeof **ov);
	(*ov)[*n] = (struct override){ key, xstrdup(value), xstrdup(origin) };
	(*n)++;
}

static void free_overrides(struct override *ov, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ov[i].value);
		free(ov[i].origin);
	}
	free(ov);
}

/* -o KEY=VALUE: checked against the table now so the error names the option. */
static int parse_assignment(const struct dew_daemon_info *info, const char *arg, struct override **ov,
			    size_t *n, struct dew_error **err)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return dew_error_set(err, 0, "-o: expected KEY=VALUE, got `%s`", arg);
	cleanup_free char *name = xstrndup(arg, (size_t)(eq - arg));
	const struct dew_conf_key *k = dew_conf_find(info->keys, info->n_keys, name);
	if (!k)
		return dew_error_set(err, 0, "-o: unknown key `%s` for %s (see %s --help)", name, info->name,
				     info->name);
	cleanup_free char *origin = xasprintf("-o %s", name);
	add_override(ov, n, k, eq + 1, origin);
	return 0;
}

/* Walk argv; collect -c and the overrides in order. Returns DEW_DAEMON_RUN/EXIT or <0. */
static int scan_args(struct dew_daemon *d, int argc, char **argv, struct override **ov, size_t *n_ov,
		     bool *print_config, struct dew_error **err)
{
	const struct dew_daemon_info *info = d->info;
	char **names = NULL;
	cleanup_free struct option *opts = build_options(info, &names);
	int c, r = DEW_DAEMON_RUN;

	optind = 0; /* full re-initialisation, so tests may parse several times */
	opterr = 0;
	while (r == DEW_DAEMON_RUN && (c = getopt_long(argc, argv, ":c:ho:", opts, NULL)) != -1) {
		if (c == 'c') {
			free(d->config_path);
			d->config_path = xstrdup(optarg);
		} else if (c == 'h') {
			print_help(info);
			r = DEW_DAEMON_EXIT;
		} else if (c == OPT_VERSION) {
			printf("%s (dew) %s\n", info->name, PACKAGE_VERSION);
			r = DEW_DAEMON_EXIT;
		} else if (c == OPT_PRINT_CONFIG) {
			*print_config = true;
		} else if (c == 'o') {
			r = parse_assignment(info, optarg, ov, n_ov, err);
		} else if (c >= OPT_NEG_BASE) {
			const struct dew_conf_key *k = &info->keys[c - OPT_NEG_BASE];
			cleanup_free char *flag = flag_name(k->name);
			cleanup_free char *origin = xasprintf("--no-%s", flag);
			add_override(ov, n_ov, k, "false", origin);
		} else if (c >= OPT_KEY_BASE) {
			const struct dew_conf_key *k = &info->keys[c - OPT_KEY_BASE];
			cleanup_free char *flag = flag_name(k->name);
			cleanup_free char *origin = xasprintf("--%s", flag);
			add_override(ov, n_ov, k, optarg ? optarg : "true", origin);
		} else if (c == ':') {
			r = dew_error_set(err, 0, "option `%s` needs a value", argv[optind - 1]);
		} else {
			r = dew_error_set(err, 0, "unknown option `%s` (see %s --help)", argv[optind - 1],
					  info->name);
		}
	}
	if (r == DEW_DAEMON_RUN && optind < argc)
		r = dew_error_set(err, 0, "unexpected argument `%s` (see %s --help)", argv[optind],
				  info->name);
	free_names(names);
	return r;
}

static int load_config_file(struct dew_daemon *d, struct dew_error **err)
{
	const struct dew_daemon_info *info = d->info;
	if (!d->config_path) {
		const char *def = SYSCONFDIR "/dew/dew.conf";
		if (access(def, F_OK) < 0)
			return 0; /* no file at the default place: defaults and flags only */
		d->config_path = xstrdup(def);
	}
	return dew_conf_load_file(info->keys, info->n_keys, d->cfg, d->config_path, info->section, err);
}

int dew_daemon_parse_args(struct dew_daemon *d, const struct dew_daemon_info *info, void *cfg,
			  struct dew_daemon_core *core, int argc, char **argv, struct dew_error **err)
{
	struct override *ov = NULL;
	size_t n_ov = 0;
	bool print_config = false;
	int r;

	memset(d, 0, sizeof *d);
	d->info = info;
	d->cfg = cfg;
	d->core = core;

	r = dew_conf_init(info->keys, info->n_keys, cfg, err);
	if (r == 0)
		r = scan_args(d, argc, argv, &ov, &n_ov, &print_config, err);
	if (r == DEW_DAEMON_RUN)
		r = load_config_file(d, err);
	for (size_t i = 0; r == DEW_DAEMON_RUN && i < n_ov; i++)
		r = dew_conf_set(info->keys, info->n_keys, cfg, ov[i].key->name, ov[i].value, ov[i].origin,
				 err);
	free_overrides(ov, n_ov);

	if (r == DEW_DAEMON_RUN && print_config) {
		cleanup_buf struct dew_buf out = DEW_BUF_INIT;
		dew_buf_printf(&out, "# effective configuration of %s\n[%s]\n", info->name, info->section);
		dew_conf_dump(info->keys, info->n_keys, cfg, &out);
		fputs(out.data ? out.data : "", stdout);
		r = DEW_DAEMON_EXIT;
	}
	/* The caller exits on anything but RUN: release the config here so it need not. */
	if (r != DEW_DAEMON_RUN)
		dew_daemon_free(d);
	return r;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct dew_daemon *d = h->data;

	if (signum == SIGHUP) {
		if (d->on_reload) {
			dew_notice("SIGHUP: reloading");
			d->on_reload(d);
		} else {
			dew_notice("SIGHUP: nothing to reload");
		}
		return;
	}
	if (d->stopping) {
		dew_notice("%s received while stopping; still stopping", strsignal(signum));
		return;
	}
	d->stopping = true;
	dew_notice("%s: shutting down", strsignal(signum));
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	if (d->on_stop)
		d->on_stop(d, signum);
	else
		dew_daemon_close(d);
}

#ifdef HAVE_SYSTEMD
static void on_watchdog(uv_timer_t *t)
{
	sd_notify(0, "WATCHDOG=1");
}
#endif

static void start_watchdog(struct dew_daemon *d)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		uv_timer_init(d->loop, &d->watchdog);
		/* Ping at half the interval, as sd_watchdog_enabled(3) advises. */
		uv_timer_start(&d->watchdog, on_watchdog, 0, usec / 2000);
		uv_unref((uv_handle_t *)&d->watchdog);
		d->watchdog_on = true;
	}
#else
	(void)d;
#endif
}

int dew_daemon_start(struct dew_daemon *d, uv_loop_t *loop, const struct dew_status_source *src,
		     struct dew_error **err)
{
	struct dew_daemon_core *core = d->core;
	static const struct dew_status_source none = { 0 };

	d->loop = loop;
	dew_log_setup(d->info->name, (enum dew_log_format)core->log_format,
		      (enum dew_log_level)(DEW_LOG_ERR + core->log_level));
	signal(SIGPIPE, SIG_IGN);

	uv_signal_t *sigs[] = { &d->sig_term, &d->sig_int, &d->sig_hup };
	const int nums[] = { SIGTERM, SIGINT, SIGHUP };
	for (size_t i = 0; i < DEW_ARRAY_SIZE(sigs); i++) {
		uv_signal_init(loop, sigs[i]);
		sigs[i]->data = d;
		uv_signal_start(sigs[i], on_signal, nums[i]);
	}
	start_watchdog(d);

	if (core->status_listen && *core->status_listen) {
		int r = dew_status_start(&d->status, loop, core->status_listen, d->info->name,
					 src ? src : &none, err);
		if (r < 0) {
			dew_daemon_close(d);
			return r;
		}
	}
	return 0;
}

static int write_port(const char *path, int port, struct dew_error **err)
{
	char text[16];
	int n = snprintf(text, sizeof text, "%d\n", port);
	int r = dew_write_file_atomic(path, text, (size_t)n, 0644, err);
	return r < 0 ? dew_error_prefix(err, "port file") : 0;
}

int dew_daemon_ready(struct dew_daemon *d, int port, struct dew_error **err)
{
	struct dew_daemon_core *core = d->core;
	int r;

	if (port >= 0 && core->port_file && (r = write_port(core->port_file, port, err)) < 0)
		return r;
	if (d->status && core->status_port_file &&
	    (r = write_port(core->status_port_file, dew_status_port(d->status), err)) < 0)
		return r;
	if (core->ready_file) {
		char text[16];
		int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
		r = dew_write_file_atomic(core->ready_file, text, (size_t)n, 0644, err);
		if (r < 0)
			return dew_error_prefix(err, "ready file");
	}
#ifdef HAVE_SYSTEMD
	if (port >= 0)
		sd_notifyf(0, "READY=1\nSTATUS=listening on port %d", port);
	else
		sd_notify(0, "READY=1");
#endif
	if (port >= 0)
		dew_info("ready: listening on port %d", port);
	else
		dew_info("ready");
	return 0;
}

void dew_daemon_close(struct dew_daemon *d)
{
	if (d->closed || !d->loop)
		return;
	d->closed = true;
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
	if (d->watchdog_on)
		uv_close((uv_handle_t *)&d->watchdog, NULL);
	if (d->status) {
		dew_status_stop(d->status, NULL, NULL);
		d->status = NULL;
	}
}

void dew_daemon_free(struct dew_daemon *d)
{
	dew_conf_free(d->info->keys, d->info->n_keys, d->cfg);
	free(d->config_path);
	d->config_path = NULL;
}
