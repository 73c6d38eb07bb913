/*
 * test_sandbox.c: the worker sandbox, tried by breaking it. A test-only
 * probe (sandbox_probe.c) confines itself exactly as veil-worker does and
 * attempts one forbidden thing per case; each case asserts its fate:
 * killed by SIGSYS, or the errno the filter (or a lower layer) defines.
 * Then the spawner's statuses: finished, CPU, memory, wall clock, sandbox
 * kill, output too large, malformed output, crash, refusal to run
 * unconfined; and veil-worker itself over real sealed tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "frame.h"
#include "spawner.h"
#include "table.h"

static char probe_path[512], worker_path[512];

static int
setup(void **state)
{
	const char *b = getenv("VEIL_BUILD");

	(void)state;
	snprintf(probe_path, sizeof(probe_path), "%s/tests/sandbox-probe",
	    b ? b : "build");
	snprintf(worker_path, sizeof(worker_path), "%s/veil-worker",
	    b ? b : "build");
	return access(probe_path, X_OK) == 0 && access(worker_path, X_OK) == 0 ?
	    0 : -1;
}

/* Runs the probe directly; returns its wait status. */
static int
probe(const char *c, const char *arg)
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) == 0) {
		/* FSIZE is 0 in the probe: no regular files on 1 and 2. */
		if ((fd = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(97);
		execl(probe_path, probe_path, c, arg, (char *)NULL);
		_exit(96);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
expect_sigsys(const char *c, const char *arg)
{
	int st = probe(c, arg);

	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("probe %s: expected SIGSYS, got %s %d", c,
		    WIFSIGNALED(st) ? "signal" : "exit",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void
expect_exit(const char *c, const char *arg, int code)
{
	int st = probe(c, arg);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail_msg("probe %s: expected exit %d, got %s %d", c, code,
		    WIFSIGNALED(st) ? "signal" : "exit",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void
test_forbidden_syscalls_kill(void **state)
{
	static const char *const kills[] = {
		"socket-inet", "socket-unix", "socket-netlink", "connect",
		"execve", "fork", "vfork", "clone", "clone3", "ptrace",
		"io-uring", "int80", "x32", "mmap-exec", "mprotect-exec",
		"setuid", "unshare", "chdir", NULL
	};
	char me[32];
	int i;

	(void)state;
	for (i = 0; kills[i] != NULL; i++)
		expect_sigsys(kills[i], NULL);
	/* kill(2) of its parent: the parent (us) lives on */
	snprintf(me, sizeof(me), "%d", (int)getpid());
	expect_sigsys("kill-parent", me);
	/* I/O on descriptors that are not its own */
	expect_sigsys("write-other", "0");
	expect_sigsys("write-other", "3");
	expect_sigsys("read-other", "1");
}

static void
test_harmless_probes_get_errno(void **state)
{
	(void)state;
	expect_exit("open", NULL, 10);		/* EACCES */
	expect_exit("openat", NULL, 10);
	expect_exit("proc-mem", NULL, 10);	/* reading /proc/self/mem */
	expect_exit("ok", NULL, 0);		/* the allowed set works */
}

static void
test_layers_below_the_filter(void **state)
{
	int st = probe("root-ns", NULL);

	(void)state;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 21) {
		print_message("namespaces refused by this kernel: skipped\n");
		skip();
	}
	expect_exit("root-ns", NULL, 12);	/* /etc/passwd: ENOENT */
	expect_exit("net-ns", NULL, 13);	/* 127.0.0.1: ENETUNREACH */
	expect_exit("uid-ns", NULL, 14);	/* setuid(0) refused */
	expect_exit("write-ns", NULL, 15);	/* EROFS */
}

static void
test_parent_descriptors_invisible(void **state)
{
	int fd;

	(void)state;
	/* Not close-on-exec: only the worker's own close_range hides it. */
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(dup2(fd, 42), 42);
	close(fd);
	expect_exit("leaked-fd", "42", 11);	/* EBADF */
	close(42);
}

static struct spawner_limits
limits(uint64_t mem, uint32_t cpu, uint32_t wall, uint32_t out)
{
	struct spawner_limits l;

	l.memory_bytes = mem;
	l.cpu_ms = cpu;
	l.wall_ms = wall;
	l.output_bytes = out;
	return l;
}

/* Runs the probe through the spawner and returns its outcome. */
static void
spawn_probe(const char *c, const char *arg, const struct spawner_limits *l,
    struct spawner_outcome *out)
{
	char *av[3] = { (char *)c, (char *)arg, NULL };
	struct spawner *s;
	struct veil_err err;

	s = spawner_start(probe_path, av, NULL, NULL, 0, "x", 1, l, &err);
	if (s == NULL)
		fail_msg("spawner_start: %s", err.msg);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
}

static void
test_spawn_finished(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 4096);
	struct spawner_outcome out;
	unsigned int need = CONFINE_SECCOMP | CONFINE_RLIMITS |
	    CONFINE_NOPRIV | CONFINE_UNPRIV;

	(void)state;
	spawn_probe("ok", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_FINISHED);
	assert_non_null(out.results);
	assert_int_equal(out.confinement & need, need);
	spawner_outcome_free(&out);
}

static void
test_spawn_limits(void **state)
{
	struct spawner_limits l;
	struct spawner_outcome out;

	(void)state;
#if !defined(__SANITIZE_ADDRESS__)
	l = limits(64 << 20, 5000, 10000, 4096);
	spawn_probe("memory", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_MEMORY);
	spawner_outcome_free(&out);
#endif
	l = limits(0, 1000, 20000, 4096);
	spawn_probe("cpu", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_CPU);
	assert_true(out.cpu_ms >= 900);
	spawner_outcome_free(&out);

	l = limits(0, 30000, 300, 4096);
	spawn_probe("hang", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_WALL);
	assert_true(out.wall_ms < 5000);
	spawner_outcome_free(&out);
}

static void
test_spawn_bad_output(void **state)
{
	static const char *const malformed[] = {
		"garbage", "liar", "badkey", "silent", NULL
	};
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;
	int i;

	(void)state;
	spawn_probe("big", "100000", &l, &out);
	assert_int_equal(out.status, SPAWN_OUTPUT);
	assert_null(out.results);
	spawner_outcome_free(&out);
	spawn_probe("big", "100", &l, &out);	/* under the cap: fine */
	assert_int_equal(out.status, SPAWN_FINISHED);
	spawner_outcome_free(&out);
	for (i = 0; malformed[i] != NULL; i++) {
		spawn_probe(malformed[i], NULL, &l, &out);
		if (out.status != SPAWN_MALFORMED)
			fail_msg("%s: status %s", malformed[i],
			    spawner_status_name(out.status));
		assert_null(out.results);
		spawner_outcome_free(&out);
	}
}

static void
test_spawn_kills_and_crashes(void **state)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;

	(void)state;
	spawn_probe("socket-inet", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_SANDBOX);
	assert_int_equal(out.signal, SIGSYS);
	spawner_outcome_free(&out);
	spawn_probe("segv", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_CRASHED);
	spawner_outcome_free(&out);
}

static void
test_spawn_log_bounded(void **state)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;

	(void)state;
	spawn_probe("log", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_FINISHED);
	assert_int_equal(out.log_len, SPAWN_LOG_MAX);
	assert_int_equal(out.log_len + out.log_dropped, 20000 * 31);
	assert_int_equal(strlen(out.log), out.log_len);
	spawner_outcome_free(&out);
}

/* In a child: install a filter that makes `nr` fail with EPERM, then
 * run the probe through the spawner and return the outcome's status. */
static int
status_under_denial(int nr, unsigned int *levelp)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;
	scmp_filter_ctx ctx;
	int p[2], st;
	unsigned int v[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(1);
		spawn_probe("ok", NULL, &l, &out);
		v[0] = out.status;
		v[1] = out.confinement;
		(void)!write(p[1], v, sizeof(v));
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], v, sizeof(v)), sizeof(v));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*levelp = v[1];
	return (int)v[0];
}

static void
test_fail_closed(void **state)
{
	unsigned int level;

	(void)state;
	/* No seccomp: the worker refuses to run. */
	assert_int_equal(status_under_denial(SCMP_SYS(seccomp), &level),
	    SPAWN_REFUSED);
	/* No namespaces: it runs, and says so. */
	assert_int_equal(status_under_denial(SCMP_SYS(unshare), &level),
	    SPAWN_FINISHED);
	assert_true(level & CONFINE_SECCOMP);
	assert_false(level & CONFINE_USERNS);
}

/* {====== veil-worker itself */

static void
make_table(void **bufp, size_t *lenp)
{
	struct table_builder *b = table_builder_new();
	int i;

	assert_int_equal(table_builder_add_column(b, "n", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(table_builder_int(b, 0, i), 0);
	assert_int_equal(table_builder_finish(b, bufp, lenp, NULL), 0);
	table_builder_free(b);
}

static void
job_frame(msgpack_sbuffer *sb, const char *kind, int ntables)
{
	msgpack_packer pk;
	int i;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, kind);
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, (size_t)ntables);
	for (i = 0; i < ntables; i++)
		frame_pack_cstr(&pk, i ? "second" : "visits");
}

static void
run_worker(const void *const *tables, const size_t *lens, int n,
    const void *job, size_t joblen, struct spawner_outcome *out)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner *s;
	struct veil_err err;
	unsigned char hdr[4];
	char *framed = malloc(joblen + 4);

	assert_non_null(framed);
	hdr[0] = (unsigned char)(joblen >> 24);
	hdr[1] = (unsigned char)(joblen >> 16);
	hdr[2] = (unsigned char)(joblen >> 8);
	hdr[3] = (unsigned char)joblen;
	memcpy(framed, hdr, 4);
	memcpy(framed + 4, job, joblen);
	s = spawner_start(worker_path, NULL, tables, lens, (size_t)n, framed,
	    joblen + 4, &l, &err);
	free(framed);
	if (s == NULL)
		fail_msg("spawner_start: %s", err.msg);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
}

static uint64_t
fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}

static void
test_worker_describe(void **state)
{
	struct spawner_outcome out;
	msgpack_sbuffer sb;
	const msgpack_object *t;
	const void *tabs[2];
	size_t lens[2];
	void *buf;
	size_t len;
	uint64_t u;

	(void)state;
	make_table(&buf, &len);
	tabs[0] = tabs[1] = buf;
	lens[0] = lens[1] = len;
	job_frame(&sb, "describe", 2);
	run_worker(tabs, lens, 2, sb.data, sb.size, &out);
	if (out.status != SPAWN_FINISHED)
		fail_msg("status %s, log: %s", spawner_status_name(out.status),
		    out.log);
	assert_non_null(t = frame_get(out.results, "visits"));
	assert_int_equal(frame_get_uint(t, "rows", &u), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(frame_get_uint(t, "digest", &u), 0);
	assert_true(u == fnv(buf, len));	/* the bytes arrived intact */
	assert_non_null(frame_get(out.results, "second"));
	assert_true(out.confinement & CONFINE_SECCOMP);
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);

	/* an unknown kind is a classified error */
	job_frame(&sb, "mine-bitcoin", 1);
	run_worker(tabs, lens, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_string_equal(out.class, "input");
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);

	/* a corrupt table is refused inside the worker */
	((unsigned char *)buf)[0] = 'X';
	job_frame(&sb, "describe", 1);
	run_worker(tabs, lens, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_non_null(strstr(out.log, "bad magic"));
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
}

static void
test_worker_bad_job_frames(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		const char	*why;
	} bad[] = {
		{ "\x91", 1, "claims 1 elements, 0 bytes left" },
		{ "\xdd\xff\xff\xff\xff", 5, "claims 4294967295 elements" },
		{ "\xc1", 1, "invalid type byte" },
		{ "\x81\xa4kind\x01", 7, "kind or tables missing" },
		{ "\x01\x02", 2, "after the object" },
	};
	struct spawner_outcome out;
	void *buf;
	size_t len, i;
	const void *tabs[1];

	(void)state;
	make_table(&buf, &len);
	tabs[0] = buf;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_worker(tabs, &len, 1, bad[i].bytes, bad[i].len, &out);
		if (out.status != SPAWN_ERROR)
			fail_msg("case %zu: %s", i,
			    spawner_status_name(out.status));
		if (strstr(out.log, bad[i].why) == NULL)
			fail_msg("case %zu: log \"%s\" lacks \"%s\"", i,
			    out.log, bad[i].why);
		spawner_outcome_free(&out);
	}
	free(buf);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_syscalls_kill),
		cmocka_unit_test(test_harmless_probes_get_errno),
		cmocka_unit_test(test_layers_below_the_filter),
		cmocka_unit_test(test_parent_descriptors_invisible),
		cmocka_unit_test(test_spawn_finished),
		cmocka_unit_test(test_spawn_limits),
		cmocka_unit_test(test_spawn_bad_output),
		cmocka_unit_test(test_spawn_kills_and_crashes),
		cmocka_unit_test(test_spawn_log_bounded),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_worker_describe),
		cmocka_unit_test(test_worker_bad_job_frames),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
