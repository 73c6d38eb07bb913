/*
 * sandbox_probe.c: test-only, never installed. Confines itself exactly as
 * veil-worker does (confine_self with the same options), then does the
 * one thing its first argument names. The tests assert its fate: killed
 * by SIGSYS, or an exit code saying which errno the attempt got:
 *   0  the forbidden thing worked (a failure of the sandbox)
 *   10 EACCES, 11 EBADF, 12 ENOENT, 13 ENETUNREACH/EPERM/EACCES on network,
 *   14 EPERM or EINVAL, 15 EROFS, 20 some other errno, 21 an unexpected
 *   state
 * Cases ending in "-ns" skip the seccomp filter to test the layers below
 * it (namespaces, empty root, dropped ids) on their own.
 * With "--zygote 1" it is a fork server instead (confine_serve, as
 * veil-worker's): descriptor 0 is the spawner's socket, and each child
 * it forks finishes its confinement (confine_child) and then does CASE.
 * Usage: sandbox-probe CASE [ARG] [--tables N --memory B --cpu S]
 *        [--zygote 1]
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <linux/io_uring.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "frame.h"
#include "worker_proto.h"

static int
errno_code(void)
{
	switch (errno) {
	case EACCES:
		return 10;
	case EBADF:
		return 11;
	case ENOENT:
		return 12;
	case ENETUNREACH:
		return 13;
	case EPERM:
	case EINVAL:	/* setuid to an id the namespace does not map */
		return 14;
	case EROFS:
		return 15;
	default:
		fprintf(stderr, "probe: errno %d (%s)\n", errno,
		    strerror(errno));
		return 20;
	}
}

#define TRY(x)	do { if ((x) == -1) return errno_code(); return 0; } while (0)

static void
result(const char *status, int bigger, unsigned int level)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "status");
	frame_pack_cstr(&pk, status);
	frame_pack_cstr(&pk, "confinement");
	msgpack_pack_unsigned_int(&pk, level);
	frame_pack_cstr(&pk, "stats");
	msgpack_pack_map(&pk, 0);
	frame_pack_cstr(&pk, "results");
	msgpack_pack_map(&pk, 1);
	frame_pack_cstr(&pk, "pad");
	msgpack_pack_str(&pk, (size_t)bigger);
	for (i = 0; i < (size_t)bigger; i++)
		msgpack_pack_str_body(&pk, "x", 1);
	(void)frame_write_sbuf(1, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static int
run(const char *c, const char *arg, unsigned int level)
{
	struct sockaddr_in sin;
	struct io_uring_params iop;
	volatile unsigned long spin = 0;
	char buf[64];
	void *p;
	long ret;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(22);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	if (strcmp(c, "open") == 0)
		TRY(open("/etc/passwd", O_RDONLY));
	if (strcmp(c, "openat") == 0)
		TRY(openat(AT_FDCWD, "/etc/passwd", O_RDONLY));
	if (strcmp(c, "proc-mem") == 0)
		TRY(open("/proc/self/mem", O_RDONLY));
	if (strcmp(c, "socket-inet") == 0)
		TRY(socket(AF_INET, SOCK_STREAM, 0));
	if (strcmp(c, "socket-unix") == 0)
		TRY(socket(AF_UNIX, SOCK_STREAM, 0));
	if (strcmp(c, "socket-netlink") == 0)
		TRY(socket(AF_NETLINK, SOCK_RAW, 0));
	if (strcmp(c, "connect") == 0)
		TRY(connect(0, (struct sockaddr *)&sin, sizeof(sin)));
	if (strcmp(c, "execve") == 0) {
		char *const av[] = { "/bin/sh", NULL };
		TRY(execve("/bin/sh", av, av + 1));
	}
	if (strcmp(c, "fork") == 0)
		TRY(syscall(SYS_fork));
	if (strcmp(c, "vfork") == 0)
		TRY(syscall(SYS_vfork));
	if (strcmp(c, "clone") == 0)
		TRY(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
	if (strcmp(c, "clone3") == 0) {
		memset(buf, 0, sizeof(buf));
		TRY(syscall(SYS_clone3, buf, 64));
	}
	if (strcmp(c, "ptrace") == 0)
		TRY(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));
	if (strcmp(c, "kill-parent") == 0)
		TRY(kill((pid_t)atoi(arg), SIGKILL));
	if (strcmp(c, "io-uring") == 0) {
		memset(&iop, 0, sizeof(iop));
		TRY(syscall(SYS_io_uring_setup, 8, &iop));
	}
	if (strcmp(c, "int80") == 0) {
		/* i386 getpid through the 32-bit entry point */
		__asm__ volatile ("int $0x80" : "=a"(ret) : "a"(20) : "memory");
		return ret > 0 ? 0 : 20;
	}
	if (strcmp(c, "x32") == 0)
		TRY(syscall(39 | 0x40000000));
	if (strcmp(c, "mmap-exec") == 0)
		return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? errno_code() : 0;
	if (strcmp(c, "mprotect-exec") == 0) {
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 21;
		TRY(mprotect(p, 4096, PROT_READ | PROT_EXEC));
	}
	if (strcmp(c, "write-other") == 0)
		TRY(write(atoi(arg), "x", 1));
	if (strcmp(c, "read-other") == 0)
		TRY(read(atoi(arg), buf, 1));
	if (strcmp(c, "setuid") == 0)
		TRY(setuid(0));
	if (strcmp(c, "unshare") == 0)
		TRY(unshare(CLONE_NEWUSER));
	if (strcmp(c, "chdir") == 0)
		TRY(chdir(".."));
	if (strcmp(c, "leaked-fd") == 0)	/* close on a closed fd: EBADF */
		TRY(close(atoi(arg)));
	/* Below the filter: the layers on their own. */
	if (strcmp(c, "root-ns") == 0) {
		struct stat st;

		if ((level & CONFINE_EMPTYROOT) == 0)
			return 21;
		TRY(stat("/etc/passwd", &st));
	}
	if (strcmp(c, "net-ns") == 0) {
		int s;

		if ((level & CONFINE_NAMESPACES) == 0)
			return 21;
		close(0);	/* RLIMIT_NOFILE leaves no free slot */
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return 21;
		TRY(connect(s, (struct sockaddr *)&sin, sizeof(sin)));
	}
	if (strcmp(c, "uid-ns") == 0) {
		if (getuid() == 0 || geteuid() == 0)
			return 21;
		TRY(setuid(0));
	}
	if (strcmp(c, "write-ns") == 0)	/* a read-only root */
		TRY(mkdir("/x", 0700));
	/* Through the spawner: results and limits. */
	/* 16: a child of a fork server, in a PID namespace under it (its
	 * parent is the namespace's init); 17: not. */
	if (strcmp(c, "pid-ns") == 0)
		return getppid() == 1 && getpid() > 1 ? 16 : 17;
	if (strcmp(c, "ok") == 0) {
		p = malloc(32 << 20);	/* memory still works */
		if (p == NULL)
			return 21;
		memset(p, 1, 32 << 20);
		free(p);
		result("ok", 0, level);
		return 0;
	}
	if (strcmp(c, "memory") == 0) {
		for (;;) {
			if ((p = malloc(1 << 20)) == NULL)
				return WORKER_EXIT_NOMEM;
			memset(p, 1, 1 << 20);
		}
	}
	if (strcmp(c, "cpu") == 0 || strcmp(c, "hang") == 0)
		for (;;)
			spin++;
	if (strcmp(c, "big") == 0) {
		result("ok", atoi(arg), level);
		return 0;
	}
	if (strcmp(c, "garbage") == 0) {
		(void)!write(1, "\0\0\0\005hello", 9);
		return 0;
	}
	if (strcmp(c, "liar") == 0) {
		(void)!write(1, "\x40\0\0\0\x80", 5);
		return 0;
	}
	if (strcmp(c, "badkey") == 0) {
		msgpack_sbuffer sb;
		msgpack_packer pk;

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 1);
		frame_pack_cstr(&pk, "rows");
		frame_pack_cstr(&pk, "Alice,34,HIV+");
		(void)frame_write_sbuf(1, &sb);
		return 0;
	}
	if (strcmp(c, "silent") == 0)
		return 0;
	if (strcmp(c, "segv") == 0) {
		/* A write to a read-only page: a real fault, not UB that a
		 * sanitizer would report first. */
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
		if (p == MAP_FAILED)
			return 21;
		*(volatile char *)p = 1;
		return 21;
	}
	if (strcmp(c, "log") == 0) {
		for (ret = 0; ret < 20000; ret++)
			(void)!write(2, "a log line that goes on and on\n", 31);
		result("ok", 0, level);
		return 0;
	}
	return 99;
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds only: LeakSanitizer stops the world with ptrace and
 * threads at exit, and ASan's signal handlers use an alternate stack and
 * read /proc to symbolize: the sandbox rightly kills all of that. Leaks
 * are checked in the unconfined tests instead; a crash stays a crash.
 */
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0:use_sigaltstack=0:handle_segv=0:"
	    "handle_sigbus=0:handle_abort=0";
}

const char	*__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_abort=0";
}
#endif

int
main(int argc, char **argv)
{
	struct confine_opts co;
	const char *c, *arg = NULL, *step;
	unsigned int level;
	int i = 2;

	if (argc < 2)
		return 98;
	c = argv[1];
	memset(&co, 0, sizeof(co));
	co.keep_fds = 3;
	co.netns_fd = -1;
	if (argc > 2 && argv[2][0] != '-')
		arg = argv[i++];
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--tables") == 0)
			co.keep_fds = 3 + atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--memory") == 0)
			co.memory_bytes = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--cpu") == 0)
			co.cpu_seconds = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--netns") == 0)
			co.netns_fd = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--zygote") == 0)
			co.zygote = atoi(argv[i + 1]) != 0;
	}
	if (co.memory_bytes > 0)
		co.memory_bytes += WORKER_BASE_AS;
#if defined(__SANITIZE_ADDRESS__)
	co.memory_bytes = 0;
#endif
	i = (int)strlen(c);
	co.no_seccomp = i > 3 && strcmp(c + i - 3, "-ns") == 0;
	if (confine_self(&co, &level, &step) == -1) {
		fprintf(stderr, "probe: confinement failed at %s: %s\n", step,
		    strerror(errno));
		return WORKER_EXIT_CONFINE;
	}
	if (co.zygote) {
		confine_serve(&co);	/* returns in each child */
		if (confine_child(&co, &step) == -1) {
			fprintf(stderr, "probe: child confinement failed at "
			    "%s: %s\n", step, strerror(errno));
			return WORKER_EXIT_CONFINE;
		}
	}
	if (getenv("PROBE_VERBOSE") != NULL) {
		char d[128];

		fprintf(stderr, "probe: confinement %s\n",
		    confine_describe(level, d, sizeof(d)));
	}
	return run(c, arg, level);
}
