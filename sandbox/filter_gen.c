/*
 * filter_gen.c: builds veil-worker's seccomp filters with libseccomp, once,
 * at build time, and prints them as C arrays of BPF instructions
 * (build/gen/filter_bpf.c). The worker loads them with seccomp(2) and never
 * links libseccomp: the filters are fixed, reviewed here, and the same for
 * every job.
 *
 * The job filter (filter_bpf). Policy: default KILL_PROCESS; a foreign
 * architecture (the i386 int 0x80 and x32 entry points on x86-64) is
 * KILL_PROCESS too. Allowed: what the worker needs after confinement, and
 * no more: read on its job descriptor (0) and on descriptor 3 (see
 * below), write on its result and log descriptors (1, 2), memory
 * management without PROT_EXEC, clocks, randomness, exit. open/openat
 * fail with EACCES rather than kill, as OpenSSH does for the harmless
 * probes libc makes; everything else kills.
 *
 * The fork server's filter (filter_zygote_bpf, worker.c's serve()): the
 * job filter's rules and what a server that forks one child per job
 * needs besides: its control socket (recvmsg and sendmsg on descriptor 0
 * only), fork (clone with glibc fork's flags exactly: no namespace, no
 * thread, no CLONE_PARENT), reaping and a pidfd for the child, and what
 * the child does before it adds the job filter on top (placing its
 * descriptors, lowering its rlimits, its CPU timer, seccomp itself).
 * Filters stack: a child runs under both, so every job rule must be here
 * too, and the job filter is what a job meets.
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/sched.h>
#include <signal.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static scmp_filter_ctx ctx;

static void
rule(uint32_t action, int nr, unsigned int argc, const struct scmp_arg_cmp *arg)
{
	int r;

	if (argc > 0)
		r = seccomp_rule_add_array(ctx, action, nr, argc, arg);
	else
		r = seccomp_rule_add(ctx, action, nr, 0);
	if (r != 0) {
		fprintf(stderr, "filter_gen: rule for syscall %d: %s\n", nr,
		    strerror(-r));
		exit(1);
	}
}

#define ALLOW(name)	rule(SCMP_ACT_ALLOW, SCMP_SYS(name), 0, NULL)
#define DENY(name, e)	rule(SCMP_ACT_ERRNO(e), SCMP_SYS(name), 0, NULL)

/*
 * The rules of one filter; zygote adds the fork server's. Prints the
 * filter as the C array name.
 */
static void
build(const char *name, int zygote)
{
	struct scmp_arg_cmp fd0 = { 0, SCMP_CMP_EQ, 0, 0 };
	struct scmp_arg_cmp fd1 = { 0, SCMP_CMP_EQ, 1, 0 };
	struct scmp_arg_cmp fd2 = { 0, SCMP_CMP_EQ, 2, 0 };
	struct scmp_arg_cmp fd3 = { 0, SCMP_CMP_EQ, 3, 0 };
	/* glibc's fork(): clone(CHILD_SETTID | CHILD_CLEARTID | SIGCHLD) */
	struct scmp_arg_cmp forkflags = { 0, SCMP_CMP_EQ, CLONE_CHILD_SETTID |
	    CLONE_CHILD_CLEARTID | SIGCHLD, 0 };
	/* (prot & PROT_EXEC) == 0 */
	struct scmp_arg_cmp noexec = { 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0 };
	unsigned char *bpf;
	size_t i, n;
	FILE *tmp;
	long len;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS) != 0) {
		fprintf(stderr, "filter_gen: seccomp_init failed\n");
		exit(1);
	}
	/* I/O on the worker's own descriptors only. */
	rule(SCMP_ACT_ALLOW, SCMP_SYS(read), 1, &fd0);
	/*
	 * The ingest child (kind "ingest", worker_proto.h) streams the
	 * uploaded CSV from descriptor 3 (WORKER_FD_CSV): streaming keeps
	 * its memory to the table being built, where mapping the CSV would
	 * charge the whole file to RLIMIT_AS, and works on a pipe too. In
	 * every other job descriptor 3 is table 0, a sealed memfd the worker
	 * has already mapped read-only, so reading it gives nothing new;
	 * with no tables it is closed (EBADF). Its output memfd needs no
	 * rule: it is mapped before the filter is installed.
	 */
	rule(SCMP_ACT_ALLOW, SCMP_SYS(read), 1, &fd3);
	rule(SCMP_ACT_ALLOW, SCMP_SYS(write), 1, &fd1);
	rule(SCMP_ACT_ALLOW, SCMP_SYS(write), 1, &fd2);
	ALLOW(close);
	ALLOW(fstat);
	/* Memory, never executable. */
	rule(SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, &noexec);
	rule(SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, &noexec);
	ALLOW(munmap);
	ALLOW(brk);
	ALLOW(mremap);
	ALLOW(madvise);
	/* Time and randomness (contribution bounding samples rows). */
	ALLOW(clock_gettime);
	ALLOW(getrandom);
	/* Signals and leaving. */
	ALLOW(rt_sigreturn);
	ALLOW(rt_sigprocmask);
	ALLOW(exit);
	ALLOW(exit_group);
	ALLOW(gettid);		/* harmless; sanitizer runtimes call it */
#if defined(__SANITIZE_ADDRESS__)
	/*
	 * `make asan` only: ASan's exit path queries the signal stack. The
	 * production filter, built without sanitizers, does not have this.
	 */
	ALLOW(sigaltstack);
#endif
	/* Harmless probes fail instead of killing. */
	DENY(open, EACCES);
	DENY(openat, EACCES);

	if (zygote) {
		/* The control socket: requests in, pidfds and statuses out. */
		rule(SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1, &fd0);
		rule(SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1, &fd0);
		rule(SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, &forkflags);
		DENY(clone3, ENOSYS);	/* so that a libc tries clone */
		ALLOW(set_robust_list);	/* the child of glibc's fork */
		ALLOW(wait4);
		ALLOW(pidfd_open);
		/* The child, before its job filter: descriptors, rlimits
		 * (lowered only: no capability is left to raise them), its
		 * CPU timer, and the job filter itself. */
		ALLOW(dup2);
		ALLOW(dup3);
		ALLOW(close_range);
		ALLOW(prlimit64);
		ALLOW(setrlimit);
		ALLOW(setitimer);
		ALLOW(rt_sigaction);
		ALLOW(seccomp);
		ALLOW(getpid);
	}
	/* seccomp_export_bpf() write(2)s the program: find its end by lseek. */
	if ((tmp = tmpfile()) == NULL ||
	    seccomp_export_bpf(ctx, fileno(tmp)) != 0 || (len = lseek(fileno(tmp), 0, SEEK_END)) <= 0 ||
	    lseek(fileno(tmp), 0, SEEK_SET) != 0) {
		fprintf(stderr, "filter_gen: export failed\n");
		exit(1);
	}
	n = (size_t)len;
	if ((bpf = malloc(n)) == NULL || read(fileno(tmp), bpf, n) !=
	    (ssize_t)n) {
		fprintf(stderr, "filter_gen: read back failed\n");
		exit(1);
	}
	printf("\nconst struct sock_filter %s[] = {\n", name);
	for (i = 0; i + 8 <= n; i += 8) {
		unsigned int code = bpf[i] | bpf[i + 1] << 8;
		unsigned int k = (unsigned)bpf[i + 4] |
		    (unsigned)bpf[i + 5] << 8 | (unsigned)bpf[i + 6] << 16 |
		    (unsigned)bpf[i + 7] << 24;

		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", code, bpf[i + 2],
		    bpf[i + 3], k);
	}
	printf("};\nconst size_t %s_len = %zu;\n", name, n / 8);
	free(bpf);
	fclose(tmp);
	seccomp_release(ctx);
}

int
main(void)
{
	printf("/* Generated by sandbox/filter_gen.c; do not edit. */\n"
	    "#include <linux/filter.h>\n#include <stddef.h>\n"
	    "#include \"filter.h\"\n");
	build("filter_bpf", 0);
	build("filter_zygote_bpf", 1);
	return 0;
}
