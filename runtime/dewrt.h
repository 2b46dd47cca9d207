/* SPDX-License-Identifier: MIT */
/*
 * libdewrt: the container runtime under the DEA and dew-run (DESIGN.md section 7). A container
 * runs one droplet or staging task in new mount, pid, uts, ipc, net and cgroup namespaces (and a
 * user namespace where the kernel allows), on a read-only stack root with a writable app dir,
 * with a small capability set, a seccomp allow-list, no_new_privs and cgroup limits. This is the
 * only header other components include. The library never prints: it logs through the callback
 * in struct dewrt_context.
 */
#ifndef DEWRT_H
#define DEWRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* ---- container spec (docs/container-spec.md) ------------------------------------------- */

enum { DEWRT_USERNS_SIZE = 65536 }; /* ids mapped into a user-namespace container */

enum dewrt_net_mode {
	DEWRT_NET_NONE,	  /* loopback only */
	DEWRT_NET_HOST,	  /* the node's network (development) */
	DEWRT_NET_BRIDGE, /* veth + NAT (a later issue) */
};

struct dewrt_limits {
	uint64_t memory_mb;  /* hard limit, swap off; 0 = none */
	uint64_t disk_mb;    /* quota of the writable area; 0 = none */
	uint64_t pids;	     /* 0 = none */
	uint64_t nofile;     /* RLIMIT_NOFILE; 0 = 1024 */
	uint64_t cpu_weight; /* 1..10000 (cgroup v2 scale); 0 = derived from memory_mb */
};

struct dewrt_mount {
	char *source; /* host path */
	char *target; /* path inside the container */
	bool readonly;
};

struct dewrt_spec {
	char *id;		    /* [A-Za-z0-9_.-]{1,64} */
	char *rootfs;		    /* stack root directory (mounted read-only) */
	char *app_dir;		    /* host dir mounted writable at /home/vcap/app (may be NULL) */
	struct dewrt_mount *mounts; /* extra bind mounts */
	size_t n_mounts;
	char **args; /* NULL-terminated; args[0] resolved in the container's PATH */
	char **env;  /* NULL-terminated "K=V" */
	char *cwd;   /* default /home/vcap/app */
	uid_t uid;   /* inside the container; default 1000 (vcap) */
	gid_t gid;
	char *hostname; /* default: the id */
	enum dewrt_net_mode net;
	struct dewrt_limits limits;
	bool userns; /* map container ids 0..65535 to host ids userns_base.. (app dir: chown to base+uid) */
	uid_t userns_base; /* first host id of that range (default 100000) */
	char *log_dir;	   /* where the monitor writes stdout.log / stderr.log (default: state dir) */
};

/* Parse and validate a spec (JSON). Errors name the field ("field `limits.memory_mb` …"). */
int dewrt_spec_parse(const char *json, size_t len, struct dewrt_spec **out, struct dew_error **err);
int dewrt_spec_load(const char *path, struct dewrt_spec **out, struct dew_error **err);
void dewrt_spec_free(struct dewrt_spec *spec);
/* Free an array of n mounts and their strings. */
void dewrt_mounts_free(struct dewrt_mount *mounts, size_t n);

/* ---- a runtime context: where state lives, how to log ---------------------------------- */

struct dewrt_seccomp;

struct dewrt_context {
	char *state_root; /* /run/dew/containers */
	/* Log callback (level as syslog's); NULL: silent. */
	void (*log)(int level, const char *msg, void *data);
	void *log_data;
	struct dewrt_seccomp *seccomp; /* compiled once, reused by every start */
};

/* state_root NULL: /run/dew/containers. The seccomp filter is compiled on first create/exec. */
int dewrt_context_init(struct dewrt_context *ctx, const char *state_root, struct dew_error **err);
void dewrt_context_close(struct dewrt_context *ctx);

/* ---- lifecycle: create -> start -> (running) -> stopped -> deleted ---------------------- */

enum dewrt_status {
	DEWRT_CREATING,
	DEWRT_CREATED,
	DEWRT_RUNNING,
	DEWRT_STOPPED,
};

/* What state.json records (docs/container-spec.md). */
struct dewrt_state {
	char *id;
	enum dewrt_status status;
	pid_t init_pid;				     /* on the host */
	pid_t monitor_pid;			     /* the shim */
	int64_t created_ms, started_ms, finished_ms; /* Unix time in ms; 0 = not yet */
	int exit_code;				     /* -1 until stopped; 128+signal when killed by one */
	int exit_signal;			     /* 0 unless killed by a signal */
	bool oom_killed;			     /* the OOM killer ended the container */
	uint64_t oom_kills;			     /* kills counted in the cgroup */
	char *error;  /* why the app could not be started (exec failure), or NULL */
	char *cgroup; /* cgroup path */
	char *dir;    /* the state directory */
	struct dewrt_spec *spec;
};

const char *dewrt_status_name(enum dewrt_status st);

/*
 * Create: state directory, cgroup with limits, a monitor process that survives the caller,
 * and the container's init in its namespaces, stopped just before exec. Returns once the
 * container is CREATED (or failed, with the init's own error message).
 */
int dewrt_create(struct dewrt_context *ctx, const struct dewrt_spec *spec, struct dew_error **err);
/* Let the init exec the app. */
int dewrt_start(struct dewrt_context *ctx, const char *id, struct dew_error **err);
/* Wait until the container has STOPPED (timeout_ms 0: forever); its state into *out. */
int dewrt_wait(struct dewrt_context *ctx, const char *id, uint64_t timeout_ms, struct dewrt_state **out,
	       struct dew_error **err);
int dewrt_kill(struct dewrt_context *ctx, const char *id, int sig, struct dew_error **err);
/*
 * Run args (env: NULL-terminated "K=V", NULL = the container's env) inside a running container:
 * same namespaces, cgroup, user, capability bounding set, no_new_privs and seccomp as its app.
 * Waits for it and returns its exit status (128+signal when killed) in *status. The process
 * shares the caller's stdin, stdout and stderr and no other descriptor. args[0] is looked up in
 * the container's PATH. On error *status is 127 when the program could not be executed (the
 * message names it), else -1. The caller must not ignore SIGCHLD.
 */
int dewrt_exec(struct dewrt_context *ctx, const char *id, char *const *args, char *const *env, int *status,
	       struct dew_error **err);
/* Remove a stopped container (force: kill it first). Removes the cgroup and the state. */
int dewrt_delete(struct dewrt_context *ctx, const char *id, bool force, struct dew_error **err);

int dewrt_state_read(struct dewrt_context *ctx, const char *id, struct dewrt_state **out,
		     struct dew_error **err);
void dewrt_state_free(struct dewrt_state *st);
/* Ids of every container in the state root (NULL-terminated, free with dew_strv_free). */
int dewrt_list(struct dewrt_context *ctx, char ***ids, struct dew_error **err);

/* Live usage next to the limits, for `dew-run inspect` and the DEA's stats. */
struct dewrt_stats {
	uint64_t memory_usage, memory_limit, memory_max_usage, memory_failcnt, oom_kills;
	uint64_t pids_current, pids_max;
	uint64_t cpu_weight, cpu_usage_ns;
	uint64_t disk_used, disk_quota;
};
int dewrt_stats(struct dewrt_context *ctx, const char *id, struct dewrt_stats *out, struct dew_error **err);
/* The same without disk_used, which may walk the app directory: cheap enough for every scrape. */
int dewrt_stats_cgroup(struct dewrt_context *ctx, const char *id, struct dewrt_stats *out,
		       struct dew_error **err);

/* ---- extraction of droplets and app packages -------------------------------------------- */

struct dewrt_extract_limits {
	uint64_t max_entries; /* [100000] */
	uint64_t max_bytes;   /* total uncompressed [4 GiB] */
	uint64_t max_ratio;   /* uncompressed / compressed [200] */
};

/*
 * Extract a tar (plain, gzip, zstd) or zip archive into dir (created if missing, must be empty).
 * Refuses absolute paths, "..", writing through symlinks, hard links to outside, device nodes,
 * fifos and sockets, and strips setuid/setgid bits; bounds entries, size and compression ratio.
 * Symlinks are created only when their target resolves inside dir. On any error dir is left
 * empty, or removed when this call created it; a refusal's message names the entry. lim (or
 * any field of it left 0) means the default.
 */
int dewrt_extract(const char *archive, const char *dir, const struct dewrt_extract_limits *lim,
		  struct dew_error **err);

#endif
