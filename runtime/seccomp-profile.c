/* SPDX-License-Identifier: MIT */
/*
 * The container seccomp profile "dew-default-1" as data. It starts from Docker's default
 * profile (moby profiles/seccomp/default.json), keeps only what Docker allows an unprivileged
 * container (no CAP_SYS_ADMIN, CAP_SYS_PTRACE, ...), and removes more: ptrace and its
 * relatives, io_uring, modify_ldt, socket families other than unix/inet/inet6/netlink,
 * TIOCSTI/TIOCLINUX and the x86 socketcall multiplexer. The same rules cover every syscall
 * entry point of the machine (x86_64, i386 via int 0x80, x32): see seccomp.c.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/socket.h>

#include <linux/sched.h>

#include "seccomp-profile.h"

/*
 * Allowed as in Docker, grouped by purpose, plus calls newer than Docker's list that only
 * act on the caller's own files and memory (fchmodat2, cachestat, map_shadow_stack,
 * futex_wake/wait/requeue). Names of other architectures (the *32 and *_time64 variants of
 * i386, the arm private calls) are harmless where they do not exist.
 */
/* clang-format off */
const char *const dewrt__sc_allow[] = {
	/* Files and directories. Permission checks stay the kernel's (and the capability set's). */
	"access", "faccessat", "faccessat2", "open", "openat", "openat2", "creat", "close", "close_range",
	"read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
	"lseek", "_llseek", "dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "fcntl64", "flock", "stat",
	"stat64", "lstat", "lstat64", "fstat", "fstat64", "newfstatat", "fstatat64", "statx", "statfs",
	"statfs64", "fstatfs", "fstatfs64", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir",
	"mkdirat", "mknod", "mknodat", "rmdir", "unlink", "unlinkat", "link", "linkat", "symlink",
	"symlinkat", "readlink", "readlinkat", "rename", "renameat", "renameat2", "chmod", "fchmod",
	"fchmodat", "fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
	"umask", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat", "truncate", "truncate64",
	"ftruncate", "ftruncate64", "fallocate", "fadvise64", "fadvise64_64", "readahead", "fsync",
	"fdatasync", "sync", "syncfs", "sync_file_range", "copy_file_range", "sendfile", "sendfile64",
	"splice", "tee", "vmsplice", "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr",
	"fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr",
	"name_to_handle_at", "cachestat", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", "fanotify_mark",
	/* ioctl: TIOCSTI and TIOCLINUX are refused by the second filter (dewrt__sc_deny). */
	"ioctl",
	/* Memory. */
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
	"mlock2", "mlockall", "munlock", "munlockall", "remap_file_pages", "memfd_create", "memfd_secret",
	"membarrier", "pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack",
	/* Processes and threads. clone is in dewrt__sc_rules; clone3 answers ENOSYS there. */
	"execve", "execveat", "fork", "vfork", "exit", "exit_group", "wait4", "waitid", "waitpid", "getpid",
	"getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address",
	"set_robust_list", "get_robust_list", "rseq", "arch_prctl", "set_thread_area", "get_thread_area",
	"prctl", "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	"pidfd_open", "pidfd_send_signal", "process_mrelease", "restart_syscall", "futex", "futex_time64",
	"futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
	/* Identity and capabilities: bounded by the capability set. */
	"getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32",
	"getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid",
	"setuid32", "setgid", "setgid32", "setreuid", "setreuid32", "setregid", "setregid32", "setresuid",
	"setresuid32", "setresgid", "setresgid32", "setgroups", "setgroups32", "setfsuid", "setfsuid32",
	"setfsgid", "setfsgid32", "capget", "capset",
	/* Signals. */
	"kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend",
	"rt_sigpending", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
	"sigaltstack", "sigreturn", "sigprocmask", "signalfd", "signalfd4", "pause",
	/* Time and timers (adjtimex and clock_adjtime only read without CAP_SYS_TIME). */
	"time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
	"clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "adjtimex", "clock_adjtime",
	"clock_adjtime64", "alarm", "getitimer", "setitimer", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	"timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64",
	"times",
	/* Event loops. */
	"poll", "ppoll", "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd",
	"eventfd2",
	/* Asynchronous I/O (the old AIO; io_uring is not allowed). */
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64",
	/* Sockets. socket and socketpair are in dewrt__sc_rules (families). */
	"accept", "accept4", "bind", "connect", "listen", "getsockname", "getpeername", "getsockopt",
	"setsockopt", "shutdown", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64", "send",
	"sendto", "sendmsg", "sendmmsg",
	/* System V and POSIX IPC: private to the container's IPC namespace. */
	"ipc", "msgget", "msgctl", "msgsnd", "msgrcv", "semget", "semctl", "semop", "semtimedop",
	"semtimedop_time64", "shmget", "shmctl", "shmat", "shmdt", "mq_open", "mq_unlink", "mq_notify",
	"mq_getsetattr", "mq_timedsend", "mq_timedsend_time64", "mq_timedreceive", "mq_timedreceive_time64",
	/* Scheduling and resources: bounded by the cgroup and the rlimits. */
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr",
	"sched_getparam", "sched_setparam", "sched_getscheduler", "sched_setscheduler",
	"sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getrlimit",
	"ugetrlimit", "setrlimit", "prlimit64", "getrusage",
	/* System information. */
	"uname", "sysinfo", "getcpu", "getrandom",
	/* arm and arm64 private calls (Docker allows them there). */
	"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls",
};
/* clang-format on */
const size_t dewrt__sc_allow_n = sizeof(dewrt__sc_allow) / sizeof(dewrt__sc_allow[0]);

#define ARG(i, op, a, b) .n_args = 1, .cmp = { (i), (op), (a), (b) }

/*
 * The namespace flags of clone(2). A process inside the container that could create a new
 * user namespace would hold every capability in it and reach kernel code (mount, netfilter,
 * ...) that only namespace-root can, the root of many container escapes. CLONE_NEWTIME is
 * not here: clone(2) reads its low byte as the exit signal, and only clone3 and unshare,
 * both refused, accept it.
 */
#define DEWRT_CLONE_NS_FLAGS                                                                                 \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |        \
	 CLONE_NEWNET)

const struct dewrt_sc_rule dewrt__sc_rules[] = {
	/* Threads and fork, never a new namespace (Docker's mask, 0x7e020000). */
	{ "clone", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_MASKED_EQ, DEWRT_CLONE_NS_FLAGS, 0) },
	/*
	 * clone3 passes its flags in memory, where a seccomp filter cannot look. ENOSYS (not
	 * EPERM) makes glibc >= 2.34 fall back to clone, which the rule above checks.
	 */
	{ "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, { 0 } },
	/*
	 * Socket families: unix, inet, inet6 and netlink (getifaddrs, iproute2 reads). Every
	 * other family answers EPERM, among them AF_VSOCK (reaches the hypervisor), AF_ALG (kernel
	 * crypto API), AF_PACKET and the rarely used ones (AF_RDS, AF_TIPC, AF_CAN, AF_KCM, ...)
	 * where most socket-family kernel bugs were found. Equality on the full 64-bit register
	 * also refuses a family with high bits set, which the kernel would truncate to an int.
	 */
	{ "socket", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_UNIX, 0) },
	{ "socket", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_INET, 0) },
	{ "socket", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_INET6, 0) },
	{ "socket", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_NETLINK, 0) },
	{ "socketpair", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_UNIX, 0) },
	{ "socketpair", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_INET, 0) },
	{ "socketpair", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_INET6, 0) },
	{ "socketpair", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, AF_NETLINK, 0) },
	/*
	 * socketcall(2), the i386 multiplexer, passes socket()'s family in memory, so the family
	 * rules above cannot apply to it (libseccomp would otherwise add "socketcall(SYS_SOCKET)
	 * allowed" for them). Refused entirely; ENOSYS lets C libraries that can fall back to the
	 * direct socket syscalls (i386 has had them since Linux 4.3) do so. The rule is a no-op on
	 * architectures without socketcall.
	 */
	{ "socketcall", SCMP_ACT_ERRNO(ENOSYS), 0, { 0 } },
	/*
	 * personality(2): only the values Docker allows (Linux, Linux32, UNAME26 and the query).
	 * Others turn off address space randomisation (ADDR_NO_RANDOMIZE) or make every readable
	 * mapping executable (READ_IMPLIES_EXEC), which helps an exploit.
	 */
	{ "personality", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, PER_LINUX, 0) },
	{ "personality", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, PER_LINUX32, 0) },
	{ "personality", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, UNAME26, 0) },
	{ "personality", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, UNAME26 | PER_LINUX32, 0) },
	{ "personality", SCMP_ACT_ALLOW, ARG(0, SCMP_CMP_EQ, 0xffffffffu, 0) },
};
const size_t dewrt__sc_rules_n = sizeof(dewrt__sc_rules) / sizeof(dewrt__sc_rules[0]);

/*
 * TIOCSTI pushes bytes into a terminal's input queue: a process given the terminal of a
 * more privileged one (an interactive session's) could type commands into it. TIOCLINUX
 * can do the same through the console selection. The kernel reads the request as a 32-bit
 * int, so only the low 32 bits are compared: TIOCSTI with high bits set is refused too.
 */
const struct dewrt_sc_rule dewrt__sc_deny[] = {
	{ "ioctl", SCMP_ACT_ERRNO(EPERM), ARG(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI) },
	{ "ioctl", SCMP_ACT_ERRNO(EPERM), ARG(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX) },
};
const size_t dewrt__sc_deny_n = sizeof(dewrt__sc_deny) / sizeof(dewrt__sc_deny[0]);

/*
 * Never allowed. Each answers EPERM (the default action) except clone3, which answers ENOSYS
 * (dewrt__sc_rules); docs/container-spec.md says why for each group.
 */
/* clang-format off */
const char *const dewrt__sc_blocked[] = {
	/* Namespaces: entering or creating one is the first step of most escapes. */
	"unshare", "setns", "clone3",
	/* Mounts, old and new API. */
	"mount", "umount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "quotactl", "quotactl_fd",
	/* Inspecting or changing other processes: beyond Docker, which allows ptrace since 4.8. */
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp", "pidfd_getfd",
	/* Kernel attack surface that applications do not need. */
	"io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key",
	"bpf", "userfaultfd", "perf_event_open", "fanotify_init", "lookup_dcookie", "modify_ldt",
	"iopl", "ioperm", "uselib", "_sysctl", "nfsservctl", "mbind", "set_mempolicy", "get_mempolicy",
	"set_mempolicy_home_node", "migrate_pages", "move_pages",
	/* The kernel itself, the machine, the clock. */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "query_module", "get_kernel_syms", "reboot", "swapon", "swapoff", "acct",
	"syslog", "vhangup", "settimeofday", "stime", "clock_settime", "clock_settime64",
	"sethostname", "setdomainname",
};
/* clang-format on */
const size_t dewrt__sc_blocked_n = sizeof(dewrt__sc_blocked) / sizeof(dewrt__sc_blocked[0]);
