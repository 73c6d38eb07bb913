/*
 * spawner.c: the parent's side of a worker (see spawner.h). The deadline is
 * enforced here, with SIGKILL through a pidfd; the worker's own hooks are
 * only a courtesy. Nothing the worker sends is trusted: the result is read
 * up to its cap and then validated key by key.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "confine.h"
#include "frame.h"
#include "spawner.h"
#include "worker_proto.h"

#define SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

struct spawner {
	pid_t		 pid;
	int		 pidfd, res_fd, log_fd;
	int		 job_fd;	/* pre-started: job pipe, write end */
	struct spawner_limits lim;
	double		 t0;		/* the deadline runs from it */
	int		 killed_wall, killed_output, exited;
	int		 prestarted, submitted, killed_idle;
	/* A fork server's child: pid is in the server's PID namespace,
	 * only the pidfd reaches it, and its end comes from the server. */
	struct spawner_zygote *zyg;
	pid_t		 zpid_;		/* its pid there */
	int		 zlost;		/* no longer its server's to reap */
	unsigned char	*res;
	size_t		 res_len;
	char		*log;
	size_t		 log_len, log_dropped;
};

/*
 * The empty network namespace every worker joins (spawner_share_netns),
 * or -1: each worker then makes its own.
 */
static int shared_netns = -1;

struct spawner_zygote {
	struct spawner	*proc;		/* the server, as any worker */
	int		 ctl;		/* our end of its socket */
	struct spawner_limits lim;
	unsigned int	 jobs;
	int		 broken;
	struct spawner	*child;		/* forked, its end not yet read */
};

enum { MODE_COLD, MODE_PRESTART, MODE_ZYGOTE };

/* How long a fork server may take to answer: it only forks and reaps. */
#define ZYGOTE_ANSWER_MS	5000

static int	 zygote_ended(struct spawner *, int *, uint64_t *);

static struct spawner *start(const char *, char *const [], const int *,
		    size_t, const int *, size_t, const void *, size_t,
		    const struct spawner_limits *, int, struct veil_err *);

static const char *const status_names[] = {
	"finished", "error", "cpu limit", "memory limit", "wall-clock limit",
	"killed by the sandbox", "output too large", "malformed output",
	"crashed", "refused to run unconfined",
};

const char *
spawner_status_name(enum spawner_status s)
{
	return (unsigned)s <= SPAWN_REFUSED ? status_names[s] : "?";
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Closes both ends of a pipe that are still open (-1: already given). */
static void
close_pair(const int p[2])
{
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
}

int
spawner_sealed_memfd(const char *name, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;
	int fd;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	/* Readers start at the beginning (mmap ignores the offset). */
	if (fcntl(fd, F_ADD_SEALS, SEALS) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1)
		goto fail;
	return fd;
 fail:
	n = errno;
	close(fd);
	errno = (int)n;
	return -1;
}

/* Environment for the worker: nothing of ours but sanitizer settings. */
static char **
worker_env(char **buf, size_t n)
{
	size_t i = 0, k;
	char **e;

	for (e = environ; *e != NULL && i + 2 < n; e++)
		if (strncmp(*e, "UBSAN_OPTIONS=", 14) == 0)
			buf[i++] = *e;
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer stops the world with ptrace: not in a sandbox. */
	buf[i++] = "ASAN_OPTIONS=detect_leaks=0";
#endif
	for (k = i; k < n; k++)
		buf[k] = NULL;
	return buf;
}

/*
 * Makes the empty network namespace that workers will share. Namespaces
 * belong to threads: this one steps into a new one, keeps a descriptor
 * of it (which keeps it alive), and steps back. Only root can, since a
 * worker joins it with setns() before dropping root; elsewhere each
 * worker keeps making its own.
 */
int
spawner_share_netns(struct veil_err *err)
{
	const char *self = "/proc/thread-self/ns/net";
	int ours, fd = -1, e = 0;

	if (shared_netns >= 0)
		return 0;
	if (geteuid() != 0) {
		veil_seterr(err, VEIL_E_INVALID, "a shared network namespace "
		    "needs root; each worker makes its own");
		return -1;
	}
	if ((ours = open(self, O_RDONLY | O_CLOEXEC)) == -1) {
		veil_seterr(err, VEIL_E_IO, "%s: %s", self, strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNET) == 0) {
		if ((fd = open(self, O_RDONLY | O_CLOEXEC)) == -1)
			e = errno;
		/* Root may always go back; if not, this thread would be
		 * stranded where nothing can be reached. */
		if (setns(ours, CLONE_NEWNET) == -1)
			abort();
	} else
		e = errno;
	close(ours);
	if (fd == -1) {
		veil_seterr(err, VEIL_E_IO, "shared network namespace: %s",
		    strerror(e));
		return -1;
	}
	shared_netns = fd;
	return 0;
}

int
spawner_netns(void)
{
	return shared_netns;
}

/* The pid a pidfd refers to, as this process sees it, or -1. */
static pid_t
pidfd_pid(int pidfd)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nPid:")) == NULL)
		return -1;
	return (pid_t)strtol(p + 5, NULL, 10);
}

pid_t
spawner_pid(const struct spawner *s)
{
	if (s->zyg != NULL)
		return s->pidfd != -1 ? pidfd_pid(s->pidfd) : -1;
	return s->pid;
}

struct spawner *
spawner_start(const char *worker, char *const argv[], const void *const *tables,
    const size_t *lens, size_t ntables, const void *job, size_t joblen,
    const struct spawner_limits *lim, struct veil_err *err)
{
	int fds[WORKER_MAX_TABLES];
	struct spawner *s;
	size_t i, made = 0;

	if (ntables > WORKER_MAX_TABLES) {
		veil_seterr(err, VEIL_E_INVALID, "spawn: at most %d tables",
		    WORKER_MAX_TABLES);
		return NULL;
	}
	for (i = 0; i < ntables; i++, made++)
		if ((fds[i] = spawner_sealed_memfd("veil-table", tables[i],
		    lens[i])) == -1) {
			veil_seterr(err, VEIL_E_IO, "spawn: memfd: %s",
			    strerror(errno));
			s = NULL;
			goto out;
		}
	s = spawner_start_fds(worker, argv, fds, ntables, job, joblen, lim,
	    err);
 out:
	for (i = 0; i < made; i++)
		close(fds[i]);
	return s;
}

struct spawner *
spawner_start_fds(const char *worker, char *const argv[], const int *tfds,
    size_t ntables, const void *job, size_t joblen,
    const struct spawner_limits *lim, struct veil_err *err)
{
	return spawner_start_ex(worker, argv, tfds, ntables, NULL, 0, job,
	    joblen, lim, err);
}

struct spawner *
spawner_start_ex(const char *worker, char *const argv[], const int *tfds,
    size_t ntables, const int *xfds, size_t nextra, const void *job,
    size_t joblen, const struct spawner_limits *lim, struct veil_err *err)
{
	return start(worker, argv, tfds, ntables, xfds, nextra, job, joblen,
	    lim, MODE_COLD, err);
}

struct spawner *
spawner_prestart(const char *worker, char *const argv[], const int *tfds,
    size_t ntables, const struct spawner_limits *lim, struct veil_err *err)
{
	return start(worker, argv, tfds, ntables, NULL, 0, NULL, 0, lim,
	    MODE_PRESTART, err);
}

/*
 * Both ways of starting a worker. Cold (prestart 0): the job is a sealed
 * memfd on descriptor 0 and the deadline runs from the spawn. Pre-started:
 * descriptor 0 is the read end of a pipe whose write end stays here (in
 * s->job_fd) until spawner_submit(), and the deadline waits for it. A
 * fork server: descriptor 0 is its socket, whose other end is left in
 * s->job_fd for spawner_zygote_start() to take. Every
 * descriptor made here is close-on-exec until posix_spawn's dup2 puts it
 * in place in this one child, so a worker that another thread spawns at
 * the same moment inherits none of them.
 */
static struct spawner *
start(const char *worker, char *const argv[], const int *tfds, size_t ntables,
    const int *xfds, size_t nextra, const void *job, size_t joblen,
    const struct spawner_limits *lim, int mode, struct veil_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct spawner *s = NULL;
	sigset_t none, all;
	char *av[64], *ev[8], num[6][32];
	int src[4 + WORKER_MAX_TABLES + WORKER_MAX_EXTRA];
	int hi[4 + WORKER_MAX_TABLES + WORKER_MAX_EXTRA];
	int resp[2] = { -1, -1 }, logp[2] = { -1, -1 }, jobw = -1;
	size_t i, nfd = WORKER_FD_TABLE0 + ntables + nextra, ac = 0;
	int fa_ok = 0, attr_ok = 0, r, p2[2], prestart = mode != MODE_COLD;

	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		src[i] = hi[i] = -1;
	if (ntables > WORKER_MAX_TABLES || nextra > WORKER_MAX_EXTRA)
		goto einval;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto enomem;
	s->pid = -1;
	s->pidfd = s->res_fd = s->log_fd = s->job_fd = -1;
	s->lim = *lim;
	if ((s->res = malloc((size_t)lim->output_bytes + FRAME_HDR)) == NULL ||
	    (s->log = malloc(SPAWN_LOG_MAX + 1)) == NULL)
		goto enomem;

	if (mode == MODE_ZYGOTE) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    p2) == -1)
			goto sys;
		src[WORKER_FD_JOB] = p2[1];
		jobw = p2[0];
	} else if (prestart) {
		/* The write end alone is non-blocking (spawner_submit). */
		if (pipe2(p2, O_CLOEXEC) == -1)
			goto sys;
		src[WORKER_FD_JOB] = p2[0];
		jobw = p2[1];
		if (fcntl(jobw, F_SETFL, O_NONBLOCK) == -1)
			goto sys;
	} else if ((src[WORKER_FD_JOB] = spawner_sealed_memfd("veil-job",
	    job, joblen)) == -1)
		goto sys;
	for (i = 0; i < ntables; i++)
		if ((src[WORKER_FD_TABLE0 + i] = fcntl(tfds[i],
		    F_DUPFD_CLOEXEC, 0)) == -1)
			goto sys;
	for (i = 0; i < nextra; i++)
		if ((src[WORKER_FD_TABLE0 + ntables + i] = fcntl(xfds[i],
		    F_DUPFD_CLOEXEC, 0)) == -1)
			goto sys;
	if (pipe2(resp, O_CLOEXEC) == -1 || pipe2(logp, O_CLOEXEC) == -1)
		goto sys;
	src[WORKER_FD_RESULT] = resp[1];
	src[WORKER_FD_LOG] = logp[1];
	/* The shared network namespace goes last; the worker joins it and
	 * its confinement closes it with every descriptor above its own. */
	if (shared_netns >= 0 && (src[nfd++] = fcntl(shared_netns,
	    F_DUPFD_CLOEXEC, 0)) == -1)
		goto sys;
	/* Above every target first, so that no dup2 clobbers a source. */
	for (i = 0; i < nfd; i++)
		if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, (int)nfd)) == -1)
			goto sys;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		goto sysr;
	fa_ok = 1;
	for (i = 0; i < nfd; i++)
		if ((r = posix_spawn_file_actions_adddup2(&fa, hi[i],
		    (int)i)) != 0)
			goto sysr;
	if ((r = posix_spawnattr_init(&attr)) != 0)
		goto sysr;
	attr_ok = 1;
	sigemptyset(&none);
	sigfillset(&all);
	if ((r = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
	    (r = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
	    (r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF)) != 0)
		goto sysr;

	av[ac++] = (char *)worker;
	for (i = 0; argv != NULL && argv[i] != NULL && ac < 50; i++)
		av[ac++] = argv[i];
	snprintf(num[0], sizeof(num[0]), "%zu", ntables);
	snprintf(num[1], sizeof(num[1]), "%llu",
	    (unsigned long long)lim->memory_bytes);
	snprintf(num[2], sizeof(num[2]), "%u",
	    (lim->cpu_ms + 999) / 1000);
	av[ac++] = "--tables";
	av[ac++] = num[0];
	av[ac++] = "--memory";
	av[ac++] = num[1];
	av[ac++] = "--cpu";
	av[ac++] = num[2];
	snprintf(num[3], sizeof(num[3]), "%u", lim->cpu_ms);
	av[ac++] = "--cpu-ms";
	av[ac++] = num[3];
	if (nextra > 0) {
		snprintf(num[4], sizeof(num[4]), "%zu", nextra);
		av[ac++] = "--extra";
		av[ac++] = num[4];
	}
	if (shared_netns >= 0) {
		snprintf(num[5], sizeof(num[5]), "%zu", nfd - 1);
		av[ac++] = "--netns";
		av[ac++] = num[5];
	}
	if (mode == MODE_ZYGOTE) {
		av[ac++] = "--zygote";
		av[ac++] = "1";
	}
	av[ac] = NULL;

	if (!prestart)
		s->t0 = now_ms();
	if ((r = posix_spawn(&s->pid, worker, &fa, &attr, av,
	    worker_env(ev, sizeof(ev) / sizeof(ev[0])))) != 0) {
		s->pid = -1;
		veil_seterr(err, VEIL_E_IO, "spawn %s: %s", worker,
		    strerror(r));
		goto fail;
	}
	if ((s->pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0)) == -1)
		goto sys;
	s->res_fd = resp[0];
	s->log_fd = logp[0];
	s->job_fd = jobw;
	s->prestarted = mode == MODE_PRESTART;
	resp[0] = logp[0] = jobw = -1;
	if (fcntl(s->res_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(s->log_fd, F_SETFL, O_NONBLOCK) == -1)
		goto sys;
	goto done;

 einval:
	veil_seterr(err, VEIL_E_INVALID, "spawn: at most %d tables and %d "
	    "extra descriptors", WORKER_MAX_TABLES, WORKER_MAX_EXTRA);
	goto fail;
 enomem:
	veil_seterr(err, VEIL_E_NOMEM, "spawn: out of memory");
	goto fail;
 sysr:
	errno = r;
 sys:
	veil_seterr(err, VEIL_E_IO, "spawn: %s", strerror(errno));
 fail:
	if (s != NULL && s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
	spawner_free(s);
	s = NULL;
 done:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		if (src[i] != -1 && i != WORKER_FD_RESULT &&
		    i != WORKER_FD_LOG)
			close(src[i]);
		if (hi[i] != -1)
			close(hi[i]);
	}
	close_pair(resp);
	close_pair(logp);
	if (jobw != -1)
		close(jobw);
	return s;
}

/*
 * Writes the job into the pipe, as fast as the worker reads it, watching
 * the worker (pidfd) and the deadline, which starts now. SIGPIPE is
 * blocked in this thread for the while: a worker that died makes write()
 * fail with EPIPE, and the SIGPIPE that comes with it, if it was not
 * pending before, is taken back, so the caller's disposition does not
 * matter.
 */
int
spawner_submit(struct spawner *s, const void *job, size_t joblen,
    struct veil_err *err)
{
	const unsigned char *p = job;
	struct pollfd pfd[2];
	struct timespec zero = { 0, 0 };
	sigset_t pipeset, old, pend;
	size_t off = 0;
	double left;
	ssize_t n;
	int r = 0, was_pending, epipe = 0, e;

	if (s == NULL || !s->prestarted || s->submitted)
		return veil_seterr(err, VEIL_E_INVALID, "submit: not a "
		    "pre-started worker waiting for its job");
	s->submitted = 1;
	s->t0 = now_ms();
	if (s->exited || s->pid <= 0 || s->job_fd == -1)
		return veil_seterr(err, VEIL_E_IO, "submit: the worker ended "
		    "before it took its job");
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &old);
	was_pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
	while (off < joblen) {
		if ((n = write(s->job_fd, p + off, joblen - off)) > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EPIPE) {
			epipe = 1;
			r = veil_seterr(err, VEIL_E_IO, "submit: the worker "
			    "ended before it took its job");
			break;
		}
		if (n != -1 || errno != EAGAIN) {
			r = veil_seterr(err, VEIL_E_IO, "submit: %s",
			    n == -1 ? strerror(errno) : "short write");
			break;
		}
		/* The pipe is full: the worker reads it once confined. */
		left = (double)s->lim.wall_ms - (now_ms() - s->t0);
		if (left <= 0) {
			s->killed_wall = 1;
			spawner_kill(s);
			r = veil_seterr(err, VEIL_E_LIMIT, "submit: the worker "
			    "did not take its job within the wall-clock limit");
			break;
		}
		pfd[0].fd = s->job_fd;
		pfd[0].events = POLLOUT;
		pfd[1].fd = s->pidfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)left + 1) == -1 && errno != EINTR) {
			r = veil_seterr(err, VEIL_E_IO, "submit: poll: %s",
			    strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			r = veil_seterr(err, VEIL_E_IO, "submit: the worker "
			    "ended before it took its job");
			break;
		}
	}
	e = errno;
	if (epipe && !was_pending)
		while (sigtimedwait(&pipeset, NULL, &zero) == -1 &&
		    errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* All of it, or none that matters: the worker sees end of file. */
	close(s->job_fd);
	s->job_fd = -1;
	errno = e;
	return r;
}

void
spawner_kill(struct spawner *s)
{
	if (s == NULL || s->exited || s->pid <= 0)
		return;
	if (s->prestarted && !s->submitted)
		s->killed_idle = 1;
	if (syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0) == -1 &&
	    s->zyg == NULL)
		kill(s->pid, SIGKILL);	/* a zygote child's pid is not ours */
}

/* Reads what is there; returns 1 at end of file. */
static int
drain(struct spawner *s, int fd)
{
	char buf[16384];
	size_t cap, take;
	ssize_t n;

	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) == -1)
			return errno == EINTR ? 0 : (errno == EAGAIN ? 0 : 1);
		if (n == 0)
			return 1;
		if (fd == s->res_fd) {
			cap = (size_t)s->lim.output_bytes + FRAME_HDR;
			if (s->killed_output || s->res_len + (size_t)n > cap) {
				if (!s->killed_output) {
					s->killed_output = 1;
					spawner_kill(s);
				}
				continue;
			}
			memcpy(s->res + s->res_len, buf, (size_t)n);
			s->res_len += (size_t)n;
		} else {
			take = SPAWN_LOG_MAX - s->log_len;
			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(s->log + s->log_len, buf, take);
			s->log_len += take;
			s->log_dropped += (size_t)n - take;
		}
	}
}

static const char *const classes[] = {
	"syntax", "runtime", "memory", "cpu", "input", "result", "internal",
	"output",	/* ingest: the table does not fit the output memfd */
	NULL
};

int
spawner_parse_result(const void *buf, size_t buflen,
    struct spawner_outcome *out)
{
	const unsigned char *res = buf;
	const msgpack_object *o, *v;
	const char *p;
	size_t len, i;
	uint32_t k;
	uint64_t u;
	int ok;

	out->results = NULL;
	if (buflen < FRAME_HDR)
		return -1;
	u = (uint64_t)res[0] << 24 | (uint64_t)res[1] << 16 |
	    (uint64_t)res[2] << 8 | res[3];
	if (u != buflen - FRAME_HDR)
		return -1;
	if (frame_unpack(res + FRAME_HDR, (size_t)u, &out->frame, NULL) != 0)
		return -1;
	o = &out->frame.data;
	if (o->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (k = 0; k < o->via.map.size; k++) {
		const msgpack_object *key = &o->via.map.ptr[k].key;

		if (!frame_streq(key, "status") && !frame_streq(key, "class") &&
		    !frame_streq(key, "message") &&
		    !frame_streq(key, "confinement") &&
		    !frame_streq(key, "results") && !frame_streq(key, "stats"))
			return -1;
	}
	if (frame_get_str(o, "status", &p, &len) != 0)
		return -1;
	ok = len == 2 && memcmp(p, "ok", 2) == 0;
	if (!ok && !(len == 5 && memcmp(p, "error", 5) == 0))
		return -1;
	if (frame_get_uint(o, "confinement", &u) != 0 || u > CONFINE_FULL)
		return -1;
	out->confinement = (unsigned int)u;
	if ((v = frame_get(o, "stats")) == NULL ||
	    v->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (k = 0; k < v->via.map.size; k++)
		if (v->via.map.ptr[k].key.type != MSGPACK_OBJECT_STR ||
		    v->via.map.ptr[k].val.type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -1;
	if (frame_get(o, "message") != NULL) {
		if (frame_get_str(o, "message", &p, &len) != 0)
			return -1;
		snprintf(out->message, sizeof(out->message), "%.*s",
		    (int)(len < 255 ? len : 255), p);
	}
	if (ok) {
		if ((v = frame_get(o, "results")) == NULL ||
		    v->type != MSGPACK_OBJECT_MAP || frame_get(o, "class"))
			return -1;
		out->results = v;
		out->status = SPAWN_FINISHED;
		return 0;
	}
	if (frame_get_str(o, "class", &p, &len) != 0 ||
	    frame_get(o, "results") != NULL)
		return -1;
	for (i = 0; classes[i] != NULL; i++)
		if (strlen(classes[i]) == len && memcmp(classes[i], p, len) == 0)
			break;
	if (classes[i] == NULL)
		return -1;
	snprintf(out->class, sizeof(out->class), "%s", classes[i]);
	out->status = strcmp(classes[i], "memory") == 0 ? SPAWN_MEMORY :
	    strcmp(classes[i], "cpu") == 0 ? SPAWN_CPU : SPAWN_ERROR;
	return 0;
}

static void
classify(struct spawner *s, int st, struct spawner_outcome *out)
{
	if (s->killed_output) {
		out->status = SPAWN_OUTPUT;
		return;
	}
	if (s->killed_wall) {
		out->status = SPAWN_WALL;
		return;
	}
	if (WIFSIGNALED(st) && s->killed_idle && WTERMSIG(st) == SIGKILL) {
		/* A pre-started worker put down before it had a job. */
		out->signal = SIGKILL;
		out->status = SPAWN_CRASHED;
		return;
	}
	if (WIFSIGNALED(st)) {
		out->signal = WTERMSIG(st);
		if (out->signal == SIGSYS)
			out->status = SPAWN_SANDBOX;
		else if (out->signal == SIGXCPU || (out->signal == SIGKILL &&
		    s->lim.cpu_ms > 0 && out->cpu_ms + 50 >= s->lim.cpu_ms))
			out->status = SPAWN_CPU;
		else
			out->status = SPAWN_CRASHED;
		return;
	}
	out->exit_code = WEXITSTATUS(st);
	switch (out->exit_code) {
	case WORKER_EXIT_OK:
		if (spawner_parse_result(s->res, s->res_len, out) != 0) {
			out->status = SPAWN_MALFORMED;
			out->results = NULL;
		}
		return;
	case WORKER_EXIT_CONFINE:
		out->status = SPAWN_REFUSED;
		return;
	case WORKER_EXIT_NOMEM:
		out->status = SPAWN_MEMORY;
		return;
	case WORKER_EXIT_JOB:
	case WORKER_EXIT_TABLE:
		out->status = SPAWN_ERROR;
		snprintf(out->class, sizeof(out->class), "input");
		return;
	default:
		out->status = SPAWN_CRASHED;
		return;
	}
}

int
spawner_wait(struct spawner *s, struct spawner_outcome *out)
{
	struct pollfd pfd[3];
	struct rusage ru;
	uint64_t cpu_us;
	double left = 0;
	int st, res_eof = 0, log_eof = 0, timeout, idle;

	memset(out, 0, sizeof(*out));
	msgpack_unpacked_init(&out->frame);
	out->syscall = -1;
	/* A pre-started worker never given a job is put down: no deadline
	 * runs for it, and it would wait for its job for ever. */
	if ((idle = s->prestarted && !s->submitted) != 0)
		spawner_kill(s);
	while (!s->exited) {
		if (!idle) {
			left = (double)s->lim.wall_ms - (now_ms() - s->t0);
			if (left <= 0 && !s->killed_wall) {
				s->killed_wall = 1;
				spawner_kill(s);
			}
		}
		timeout = idle || s->killed_wall ? 1000 : (int)left + 1;
		pfd[0].fd = s->pidfd;
		pfd[1].fd = res_eof ? -1 : s->res_fd;
		pfd[2].fd = log_eof ? -1 : s->log_fd;
		pfd[0].events = pfd[1].events = pfd[2].events = POLLIN;
		if (poll(pfd, 3, timeout) == -1 && errno != EINTR)
			return VEIL_E_IO;
		if (!res_eof && pfd[1].revents)
			res_eof = drain(s, s->res_fd);
		if (!log_eof && pfd[2].revents)
			log_eof = drain(s, s->log_fd);
		if (pfd[0].revents & POLLIN)
			s->exited = 1;
	}
	/* The worker is gone: whatever it wrote is in the pipes. */
	if (!res_eof)
		(void)drain(s, s->res_fd);
	if (!log_eof)
		(void)drain(s, s->log_fd);
	if (s->zyg != NULL || s->zlost) {
		if (zygote_ended(s, &st, &cpu_us) != 0)
			return VEIL_E_IO;
		out->cpu_ms = (double)cpu_us / 1e3;
	} else {
		while (wait4(s->pid, &st, 0, &ru) == -1)
			if (errno != EINTR)
				return VEIL_E_IO;
		out->cpu_ms = (double)(ru.ru_utime.tv_sec +
		    ru.ru_stime.tv_sec) * 1e3 + (double)(ru.ru_utime.tv_usec +
		    ru.ru_stime.tv_usec) / 1e3;
	}
	s->pid = -1;
	out->wall_ms = idle ? 0 : now_ms() - s->t0;
	classify(s, st, out);
	/* Hand the frame bytes and the log to the outcome. */
	out->raw = s->res;
	s->res = NULL;
	s->log[s->log_len] = '\0';
	out->log = s->log;
	out->log_len = s->log_len;
	out->log_dropped = s->log_dropped;
	s->log = NULL;
	return 0;
}

void
spawner_free(struct spawner *s)
{
	uint64_t cpu_us;
	int st;

	if (s == NULL)
		return;
	if (s->pid > 0 && s->zyg != NULL) {
		spawner_kill(s);
		(void)zygote_ended(s, &st, &cpu_us);
	} else if (s->pid > 0 && !s->zlost) {
		spawner_kill(s);
		waitpid(s->pid, NULL, 0);
	}
	if (s->pidfd != -1)
		close(s->pidfd);
	if (s->res_fd != -1)
		close(s->res_fd);
	if (s->log_fd != -1)
		close(s->log_fd);
	if (s->job_fd != -1)
		close(s->job_fd);
	free(s->res);
	free(s->log);
	free(s);
}

void
spawner_outcome_free(struct spawner_outcome *out)
{
	if (out == NULL)
		return;
	msgpack_unpacked_destroy(&out->frame);
	free(out->raw);
	free(out->log);
	out->raw = NULL;
	out->log = NULL;
	out->results = NULL;
}

/* {====== fork servers */

/*
 * One message from a fork server, with at most one descriptor (*fdp, or
 * -1), within ZYGOTE_ANSWER_MS. A server that died, went silent or
 * sent anything malformed is marked broken, for good.
 */
static int
zmsg_recv(struct spawner_zygote *z, struct zygote_msg *m, int *fdp)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct pollfd pfd[2];
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	double t0 = now_ms(), left;
	ssize_t n;

	*fdp = -1;
	for (;;) {
		if (z->broken)
			return -1;
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = m;
		iov.iov_len = sizeof(*m);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(z->ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n > 0)
			break;
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			z->broken = 1;
			return -1;
		}
		if ((left = ZYGOTE_ANSWER_MS - (now_ms() - t0)) <= 0) {
			z->broken = 1;
			return -1;
		}
		pfd[0].fd = z->ctl;
		pfd[0].events = POLLIN;
		pfd[1].fd = z->proc->pidfd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)left + 1) == -1 && errno != EINTR) {
			z->broken = 1;
			return -1;
		}
		/* Gone, with nothing left to read: no answer will come. */
		if ((pfd[1].revents & POLLIN) && !(pfd[0].revents & POLLIN))
			z->broken = 1;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fdp, CMSG_DATA(c), sizeof(int));
	else if (c != NULL) {
		z->broken = 1;	/* not what a server sends */
		return -1;
	}
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & MSG_CTRUNC)) {
		if (*fdp != -1)
			close(*fdp);
		*fdp = -1;
		z->broken = 1;
		return -1;
	}
	return 0;
}

/* The end of s, a fork server's child, as its server saw it. */
static int
zygote_ended(struct spawner *s, int *st, uint64_t *cpu_us)
{
	struct spawner_zygote *z = s->zyg;
	struct zygote_msg m;
	int fd;

	if (z == NULL)
		return -1;	/* its server was freed first (zlost) */
	z->child = NULL;
	s->zyg = NULL;
	s->zlost = 1;
	s->pid = -1;
	if (zmsg_recv(z, &m, &fd) != 0)
		return -1;
	if (fd != -1 || m.kind != ZYGOTE_ENDED || m.pid != s->zpid_) {
		if (fd != -1)
			close(fd);
		z->broken = 1;
		return -1;
	}
	*st = m.value;
	*cpu_us = m.cpu_us;
	return 0;
}

struct spawner_zygote *
spawner_zygote_start(const char *worker, char *const argv[],
    const int *table_fds, size_t ntables, const struct spawner_limits *lim,
    struct veil_err *err)
{
	struct spawner_zygote *z;

	if ((z = calloc(1, sizeof(*z))) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "fork server: out of memory");
		return NULL;
	}
	if ((z->proc = start(worker, argv, table_fds, ntables, NULL, 0, NULL,
	    0, lim, MODE_ZYGOTE, err)) == NULL) {
		free(z);
		return NULL;
	}
	z->ctl = z->proc->job_fd;
	z->proc->job_fd = -1;
	z->lim = *lim;
	return z;
}

struct spawner *
spawner_zygote_fork(struct spawner_zygote *z, struct veil_err *err)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(3 * sizeof(int))];
	} cm;
	struct zygote_msg m;
	struct spawner *s = NULL;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	int jobp[2] = { -1, -1 }, resp[2] = { -1, -1 }, logp[2] = { -1, -1 };
	int give[3], pidfd = -1;

	if (z->broken || z->child != NULL) {
		veil_seterr(err, VEIL_E_INVALID, "fork server: %s",
		    z->broken ? "broken" : "busy with a child");
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->res = malloc((size_t)z->lim.output_bytes + FRAME_HDR)) ==
	    NULL || (s->log = malloc(SPAWN_LOG_MAX + 1)) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "fork server: out of memory");
		goto fail;
	}
	s->pid = -1;
	s->pidfd = s->res_fd = s->log_fd = s->job_fd = -1;
	s->lim = z->lim;
	s->prestarted = 1;
	if (pipe2(jobp, O_CLOEXEC) == -1 || pipe2(resp, O_CLOEXEC) == -1 ||
	    pipe2(logp, O_CLOEXEC) == -1) {
		veil_seterr(err, VEIL_E_IO, "fork server: pipe: %s",
		    strerror(errno));
		goto fail;
	}
	give[0] = jobp[0];
	give[1] = resp[1];
	give[2] = logp[1];
	memset(&m, 0, sizeof(m));
	m.kind = ZYGOTE_FORK;
	memset(&mh, 0, sizeof(mh));
	memset(cm.buf, 0, sizeof(cm.buf));
	iov.iov_base = &m;
	iov.iov_len = sizeof(m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(give));
	memcpy(CMSG_DATA(c), give, sizeof(give));
	if (sendmsg(z->ctl, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(m)) {
		z->broken = 1;
		veil_seterr(err, VEIL_E_IO, "fork server: gone: %s",
		    strerror(errno));
		goto fail;
	}
	/* Only the child holds these now. */
	close(jobp[0]);
	close(resp[1]);
	close(logp[1]);
	jobp[0] = resp[1] = logp[1] = -1;
	/* The child forked ahead, which has just taken the request. */
	if (zmsg_recv(z, &m, &pidfd) != 0 || m.kind != ZYGOTE_READY ||
	    pidfd == -1 || m.pid <= 0) {
		z->broken = 1;
		veil_seterr(err, VEIL_E_IO, "fork server: no child ready");
		goto fail;
	}
	s->pidfd = pidfd;
	pidfd = -1;
	s->pid = s->zpid_ = m.pid;
	s->zyg = z;
	z->child = s;
	z->jobs++;
	s->res_fd = resp[0];
	s->log_fd = logp[0];
	s->job_fd = jobp[1];
	resp[0] = logp[0] = jobp[1] = -1;
	if (fcntl(s->res_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(s->log_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(s->job_fd, F_SETFL, O_NONBLOCK) == -1) {
		veil_seterr(err, VEIL_E_IO, "fork server: %s",
		    strerror(errno));
		goto fail;	/* spawner_free kills it and reads its end */
	}
	return s;
 fail:
	if (pidfd != -1)
		close(pidfd);
	close_pair(jobp);
	close_pair(resp);
	close_pair(logp);
	spawner_free(s);
	return NULL;
}

unsigned int
spawner_zygote_jobs(const struct spawner_zygote *z)
{
	return z->jobs;
}

int
spawner_zygote_broken(const struct spawner_zygote *z)
{
	return z->broken;
}

pid_t
spawner_zygote_pid(const struct spawner_zygote *z)
{
	return z->proc->pid;
}

void
spawner_zygote_free(struct spawner_zygote *z)
{
	struct spawner_outcome o;
	struct spawner *c;
	struct pollfd pfd;

	if (z == NULL)
		return;
	if ((c = z->child) != NULL) {
		/* Its child dies with it (the namespace's init): say so. */
		spawner_kill(c);
		c->zyg = NULL;
		c->zlost = 1;
		c->pid = -1;
		c->exited = 1;
		z->child = NULL;
	}
	/*
	 * Let go: the waiting child reads end of file and exits, then the
	 * server, then its shell, which this process reaps (and with it
	 * their CPU time). A server that lingers is killed.
	 */
	close(z->ctl);
	pfd.fd = z->proc->pidfd;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 1000) == -1 && errno == EINTR)
		;
	if (!(pfd.revents & POLLIN))
		spawner_kill(z->proc);
	if (spawner_wait(z->proc, &o) == 0)
		spawner_outcome_free(&o);
	spawner_free(z->proc);
	free(z);
}

/* }====== */
