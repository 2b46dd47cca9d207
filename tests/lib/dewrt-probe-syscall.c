/* SPDX-License-Identifier: MIT */
/*
 * dewrt-probe `syscall NAME [ARG]`: try one operation and print
 * {"syscall": NAME, "result": r, "errno": e, "errname": "EPERM"}. The table holds what the
 * container's seccomp profile must refuse and, for contrast, basics it must allow. Arguments
 * are chosen so that, were the filter absent, each call would be harmless and fail with a
 * different errno (or succeed): the tests run them without the filter too, to show that the
 * errno they see comes from the filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/tiocl.h>

#include "dewrt-probe.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef __NR_open_tree
#define __NR_open_tree 428
#endif
#ifndef __NR_fsopen
#define __NR_fsopen 430
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

#define PROBE_NOWHERE "/nonexistent-dewrt-probe"

/* Run a raw clone with flags like fork; 0 when a child was created (and reaped). */
static long clone_flags(unsigned long flags)
{
	long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -1;
	waitpid(pid, NULL, 0);
	return 0;
}

static long p_clone_newuser(const char *arg)
{
	return clone_flags(CLONE_NEWUSER);
}

static long p_clone_plain(const char *arg)
{
	return clone_flags(0);
}

static long p_fork(const char *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -1;
	waitpid(pid, NULL, 0);
	return 0;
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* pthread_create tries clone3 first (glibc >= 2.34): shows the ENOSYS fallback works. */
static long p_thread(const char *arg)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, thread_fn, NULL);

	if (rc) {
		errno = rc;
		return -1;
	}
	pthread_join(t, NULL);
	return 0;
}

static long p_clone3(const char *arg)
{
	return syscall(__NR_clone3, NULL, 0); /* no filter: EINVAL (size too small) */
}

static long p_unshare(const char *arg)
{
	return unshare(CLONE_NEWUSER);
}

static long p_setns(const char *arg)
{
	int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	long r = setns(fd, CLONE_NEWUTS); /* our own namespace: a no-op where permitted */

	if (fd >= 0)
		close(fd);
	return r;
}

static long p_mount(const char *arg)
{
	return mount("none", PROBE_NOWHERE, "tmpfs", 0, NULL);
}

/* ptrace-init [PID]: attach to the container's init (or PID) and let it go again. */
static long p_ptrace(const char *arg)
{
	pid_t pid = arg ? atoi(arg) : 1;
	long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);

	if (r == 0) {
		waitpid(pid, NULL, __WALL);
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
	}
	return r;
}

static long p_keyctl(const char *arg)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}

static long p_add_key(const char *arg)
{
	return syscall(SYS_add_key, "dewrt-bogus", "dewrt-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
}

static long p_request_key(const char *arg)
{
	return syscall(SYS_request_key, "user", "dewrt-probe:none", NULL, 0);
}

static long p_bpf(const char *arg)
{
	return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0); /* no filter: EINVAL */
}

static long fd_result(long fd)
{
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static long p_userfaultfd(const char *arg)
{
	return fd_result(syscall(SYS_userfaultfd, O_CLOEXEC));
}

static long p_perf_event_open(const char *arg)
{
	return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); /* no filter: EFAULT */
}

static long p_io_uring_setup(const char *arg)
{
	return syscall(__NR_io_uring_setup, 1, NULL); /* no filter: EFAULT */
}

static long p_kexec_load(const char *arg)
{
	return syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000ul); /* no filter: EINVAL (arch) */
}

static long p_init_module(const char *arg)
{
	return syscall(SYS_init_module, NULL, 0, ""); /* no filter: ENOEXEC or EFAULT */
}

static long p_socket(int family, int type)
{
	return fd_result(socket(family, type | SOCK_CLOEXEC, 0));
}

static long p_socket_inet(const char *arg)
{
	return p_socket(AF_INET, SOCK_STREAM);
}

static long p_socket_unix(const char *arg)
{
	return p_socket(AF_UNIX, SOCK_STREAM);
}

static long p_socket_netlink(const char *arg)
{
	return p_socket(AF_NETLINK, SOCK_RAW);
}

static long p_socket_vsock(const char *arg)
{
	return p_socket(AF_VSOCK, SOCK_STREAM);
}

static long p_socket_alg(const char *arg)
{
	return p_socket(AF_ALG, SOCK_SEQPACKET);
}

static long p_socket_packet(const char *arg)
{
	return p_socket(AF_PACKET, SOCK_DGRAM);
}

/* The kernel truncates the family to an int: AF_INET with high bits must be refused too. */
static long p_socket_hibits(const char *arg)
{
	return fd_result(syscall(SYS_socket, (1ul << 32) | AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

/*
 * A new pseudo-terminal made our controlling terminal, so that without the filter TIOCSTI
 * would succeed even without CAP_SYS_ADMIN (where dev.tty.legacy_tiocsti allows it).
 */
static int own_pty(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		return -1;
	setsid();
	slave = open(ptsname(master), O_RDWR | O_CLOEXEC);
	return slave; /* master stays open until exit */
}

static long pty_ioctl(unsigned long req, void *argp)
{
	int fd = own_pty();

	return fd < 0 ? -1 : syscall(SYS_ioctl, fd, req, argp);
}

static long p_tiocsti(const char *arg)
{
	char c = '\n';
	return pty_ioctl(TIOCSTI, &c);
}

static long p_tiocsti_hibits(const char *arg)
{
	char c = '\n';
	return pty_ioctl((1ul << 32) | TIOCSTI, &c);
}

static long p_tioclinux(const char *arg)
{
	char sub = TIOCL_GETSHIFTSTATE;
	return pty_ioctl(TIOCLINUX, &sub); /* no filter, on a pty: ENOTTY */
}

static long p_ioctl_ok(const char *arg)
{
	int p[2], n = 0;
	long r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	r = ioctl(p[0], FIONREAD, &n);
	close(p[0]);
	close(p[1]);
	return r;
}

static long p_open_tree(const char *arg)
{
	return fd_result(syscall(__NR_open_tree, AT_FDCWD, PROBE_NOWHERE, OPEN_TREE_CLONE));
}

static long p_fsopen(const char *arg)
{
	return fd_result(syscall(__NR_fsopen, "dewrt-bogus-fs", 0)); /* no filter: ENODEV */
}

static long p_personality_bad(const char *arg)
{
	return syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
}

static long p_personality_query(const char *arg)
{
	return syscall(SYS_personality, 0xffffffffu);
}

static long p_process_vm_readv(const char *arg)
{
	static char src[8] = "dewrt";
	char dst[8];
	struct iovec local = { dst, sizeof(dst) }, remote = { src, sizeof(src) };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

#ifdef __x86_64__
/* A syscall through the i386 entry point (int 0x80), as a 32-bit program would make it. */
static long int80(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "r8", "r9", "r10", "r11", "memory");
	if (r < 0 && r > -4096) {
		errno = -r;
		return -1;
	}
	return r;
}

static long p_x86_getpid(const char *arg)
{
	return int80(20 /* i386 getpid */, 0, 0, 0);
}

static long p_x86_unshare(const char *arg)
{
	return int80(310 /* i386 unshare */, CLONE_NEWUSER, 0, 0);
}

static long p_x86_socket_alg(const char *arg)
{
	return fd_result(int80(359 /* i386 socket */, AF_ALG, SOCK_SEQPACKET, 0));
}

/* socketcall(SYS_SOCKET, {AF_ALG, ...}): the arguments must sit below 4 GiB for int 0x80. */
static long p_x86_socketcall(const char *arg)
{
	uint32_t *args =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (args == MAP_FAILED)
		return -1;
	args[0] = AF_ALG;
	args[1] = SOCK_SEQPACKET;
	args[2] = 0;
	return fd_result(int80(102 /* i386 socketcall */, 1 /* SYS_SOCKET */, (long)(uintptr_t)args, 0));
}

/* An x32 syscall (x32 numbers are x86_64's with bit 30 set); most kernels lack x32 (ENOSYS). */
static long p_x32_unshare(const char *arg)
{
	return syscall(0x40000000 | __NR_unshare, CLONE_NEWUSER);
}

static long p_modify_ldt(const char *arg)
{
	char buf[16];
	return syscall(SYS_modify_ldt, 0, buf, sizeof(buf));
}
#endif

static const struct probe_syscall {
	const char *name;
	long (*fn)(const char *arg);
} syscalls[] = {
	/* Refused by the profile. */
	{ "clone-newuser", p_clone_newuser },
	{ "clone3", p_clone3 },
	{ "unshare", p_unshare },
	{ "setns", p_setns },
	{ "mount", p_mount },
	{ "open_tree", p_open_tree },
	{ "fsopen", p_fsopen },
	{ "ptrace-init", p_ptrace },
	{ "process_vm_readv", p_process_vm_readv },
	{ "keyctl", p_keyctl },
	{ "add_key", p_add_key },
	{ "request_key", p_request_key },
	{ "bpf", p_bpf },
	{ "userfaultfd", p_userfaultfd },
	{ "perf_event_open", p_perf_event_open },
	{ "io_uring_setup", p_io_uring_setup },
	{ "kexec_load", p_kexec_load },
	{ "init_module", p_init_module },
	{ "socket-vsock", p_socket_vsock },
	{ "socket-alg", p_socket_alg },
	{ "socket-packet", p_socket_packet },
	{ "socket-hibits", p_socket_hibits },
	{ "tiocsti", p_tiocsti },
	{ "tiocsti-hibits", p_tiocsti_hibits },
	{ "tioclinux", p_tioclinux },
	{ "personality-bad", p_personality_bad },
#ifdef __x86_64__
	{ "modify_ldt", p_modify_ldt },
	{ "socketcall-x86", p_x86_socketcall },
	{ "socket-x86-alg", p_x86_socket_alg },
	{ "unshare-x86", p_x86_unshare },
	{ "x32-unshare", p_x32_unshare },
#endif
	/* Allowed: the basics an application needs. */
	{ "fork", p_fork },
	{ "clone-plain", p_clone_plain },
	{ "thread", p_thread },
	{ "socket-inet", p_socket_inet },
	{ "socket-unix", p_socket_unix },
	{ "socket-netlink", p_socket_netlink },
	{ "ioctl-ok", p_ioctl_ok },
	{ "personality-query", p_personality_query },
#ifdef __x86_64__
	{ "getpid-x86", p_x86_getpid },
#endif
};

/* `syscall NAME [ARG]`: try one operation of the table, print its result and errno. */
int probe_cmd_syscall(int argc, char **argv)
{
	size_t n = sizeof(syscalls) / sizeof(syscalls[0]);

	if (strcmp(argv[0], "list") == 0) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s\"%s\"", i ? ", " : "", syscalls[i].name);
		printf("]\n");
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[0], syscalls[i].name) != 0)
			continue;
		errno = 0;
		long r = syscalls[i].fn(argc > 1 ? argv[1] : NULL);
		int e = r < 0 ? errno : 0;
		printf("{\"syscall\": \"%s\", \"result\": %ld, ", syscalls[i].name, r);
		probe_json_errno(e);
		printf("}\n");
		return 0;
	}
	printf("{\"syscall\": ");
	probe_json_str(argv[0]);
	printf(", \"error\": \"unknown\"}\n");
	return 2;
}
