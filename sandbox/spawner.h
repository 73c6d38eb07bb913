/*
 * spawner.h: starting veil-worker processes and judging how they ended.
 * Used by the veil CLI (local runs) and by veild.
 *
 * The parent passes each table as a sealed memfd and the job as a sealed
 * memfd, execs the worker (posix_spawn: a fresh address space, nothing of
 * the parent's memory), enforces the wall-clock deadline itself with
 * SIGKILL through a pidfd, reads at most output_bytes of result, keeps a
 * bounded amount of the worker's log, and validates the result frame
 * field by field. Every way a job can end is its own status.
 *
 * Pre-started workers (spawner_prestart, spawner_submit) take the spawn
 * and the confinement out of a job's latency: the worker is started and
 * confines itself before its job exists, then blocks reading its job from
 * a pipe; it runs one job and exits, like any other worker.
 */
#ifndef VEIL_SPAWNER_H
#define VEIL_SPAWNER_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"

enum spawner_status {
	SPAWN_FINISHED = 0,	/* result frame with status "ok" */
	SPAWN_ERROR,		/* the job failed; see class */
	SPAWN_CPU,		/* CPU limit */
	SPAWN_MEMORY,		/* memory limit */
	SPAWN_WALL,		/* wall-clock limit: killed by the parent */
	SPAWN_SANDBOX,		/* killed by the seccomp filter (SIGSYS) */
	SPAWN_OUTPUT,		/* result larger than output_bytes */
	SPAWN_MALFORMED,	/* result frame missing or invalid */
	SPAWN_CRASHED,		/* killed by another signal, or odd exit */
	SPAWN_REFUSED,		/* the worker could not confine itself */
};

struct spawner_limits {
	uint64_t	memory_bytes;	/* 0: no memory rlimit */
	uint32_t	cpu_ms;
	uint32_t	wall_ms;
	uint32_t	output_bytes;
};

#define SPAWN_LOG_MAX	(64u << 10)	/* log bytes kept per job */

struct spawner_outcome {
	enum spawner_status	 status;
	char			 class[32];	/* SPAWN_ERROR: syntax, ... */
	char			 message[256];	/* worker's text, if any */
	int			 signal;	/* the killing signal, or 0 */
	int			 exit_code;	/* if it exited */
	long			 syscall;	/* SPAWN_SANDBOX: nr, -1 unknown */
	unsigned int		 confinement;	/* CONFINE_* bits reported */
	double			 wall_ms, cpu_ms;
	/* The validated result frame (SPAWN_FINISHED): */
	msgpack_unpacked	 frame;
	const msgpack_object	*results;
	char			*log;		/* NUL-terminated, bounded */
	size_t			 log_len, log_dropped;
	void			*raw;		/* frame bytes behind .frame */
};

struct spawner;

/*
 * From now on every worker this process spawns joins one empty network
 * namespace made here, instead of making its own (see confine.h). Needs
 * root; returns -1 with err set otherwise, and nothing changes. Call it
 * before starting threads that spawn.
 */
int		 spawner_share_netns(struct veil_err *err);
/* The shared namespace's descriptor, or -1. */
int		 spawner_netns(void);
/* The worker's pid (tests look at its namespaces through /proc). */
pid_t		 spawner_pid(const struct spawner *);

/*
 * Starts worker (a path) with extra arguments argv (NULL-terminated, may
 * be NULL), passing the ntables buffers as sealed memfds (descriptors 3..)
 * and the job bytes as a sealed memfd on descriptor 0. Returns NULL with
 * err set on failure.
 */
struct spawner	*spawner_start(const char *worker, char *const argv[],
		    const void *const *tables, const size_t *lens,
		    size_t ntables, const void *job, size_t joblen,
		    const struct spawner_limits *lim, struct veil_err *err);
/*
 * The same with tables already in sealed memfds (the daemon keeps them
 * so): nothing is copied. The descriptors stay the caller's.
 */
struct spawner	*spawner_start_fds(const char *worker, char *const argv[],
		    const int *table_fds, size_t ntables, const void *job,
		    size_t joblen, const struct spawner_limits *lim,
		    struct veil_err *err);
/*
 * The same with nextra (at most WORKER_MAX_EXTRA) more descriptors, which
 * the worker gets right after the tables (3 + ntables ..), and
 * "--extra N" among its arguments: the ingest child's CSV and output
 * memfd (worker_proto.h). The descriptors stay the caller's; the worker
 * shares their file descriptions (offsets included).
 */
struct spawner	*spawner_start_ex(const char *worker, char *const argv[],
		    const int *table_fds, size_t ntables, const int *extra_fds,
		    size_t nextra, const void *job, size_t joblen,
		    const struct spawner_limits *lim, struct veil_err *err);
/*
 * Starts a worker now that confines itself at once and then waits for its
 * job on descriptor 0, a pipe: the spawn and the confinement happen before
 * the job exists. Tables as in spawner_start_fds (the descriptors stay the
 * caller's; the worker maps them before it confines itself). No extra
 * descriptors: the ingest child is always started cold. The wall-clock
 * deadline does not run until spawner_submit(); the CPU limits count CPU,
 * which an idle worker does not use. *lim is fixed here, for the job to
 * come: the worker sets its memory and CPU rlimits as it confines itself,
 * so a job needing other limits (or other tables) needs another worker.
 * Returns NULL with err set on failure.
 *
 * Each pre-started worker runs one job at most. One that is never used is
 * put down with spawner_kill() (or straight away spawner_wait(), which
 * kills a worker that was never given its job), spawner_wait() and
 * spawner_free(); its outcome is SPAWN_CRASHED with signal SIGKILL and a
 * wall_ms of 0 (or how it ended on its own, if it did: SPAWN_REFUSED for
 * a worker that could not confine itself).
 */
struct spawner	*spawner_prestart(const char *worker, char *const argv[],
		    const int *table_fds, size_t ntables,
		    const struct spawner_limits *lim, struct veil_err *err);
/*
 * Hands the job frame (length-prefixed, as for spawner_start) to a
 * pre-started worker and starts its wall-clock deadline. Writes all of it
 * (a job larger than the pipe is written as the worker reads it, which it
 * does at once when confined; never longer than the deadline), then closes
 * the pipe. Returns 0, or a VEIL_E_* code: VEIL_E_INVALID if s was not
 * pre-started or was already submitted (at most once per spawner),
 * VEIL_E_IO if the worker ended before it took its job, VEIL_E_LIMIT if
 * the deadline passed first (the worker is killed). Either way
 * spawner_wait() then reports how the worker ended. A worker that died
 * makes the write fail with EPIPE: the SIGPIPE that comes with it is
 * blocked in the calling thread and taken back, so the caller need not
 * ignore SIGPIPE.
 */
int		 spawner_submit(struct spawner *, const void *job,
		    size_t joblen, struct veil_err *err);
/*
 * Waits for the worker to end (or kills it at its deadline) and fills
 * *out, which the caller releases with spawner_outcome_free(). Returns 0,
 * or a VEIL_E_* code if waiting itself failed. A pre-started worker that
 * was never submitted is killed first (see spawner_prestart).
 */
int		 spawner_wait(struct spawner *, struct spawner_outcome *out);
/*
 * Fork servers. Exec'ing a worker and confining it costs far more CPU
 * than a small job itself (about 1.5 ms against 0.2). A fork server is a
 * worker started with the tables and limits of the jobs to come, confined
 * as any worker (plus a PID namespace of its own, confine.h), that forks
 * one child per job, ahead of it: the child waits for its descriptors,
 * finishes its confinement (RLIMIT_NPROC 0, the CPU limit, the job filter
 * stacked on the server's) and then reads its job from its own pipe,
 * exactly as a pre-started worker does. The server never holds a job's
 * descriptors, a result or anything a child did: each child
 * is a fresh copy of the server's untouched address space (the same
 * layout for all, where exec gives each its own; see the README).
 *
 * spawner_zygote_fork() returns a spawner in the pre-started state: the
 * caller gives it its job with spawner_submit() and ends it with
 * spawner_wait() and spawner_free(), as any other; kills go through the
 * child's pidfd, and its status and CPU come from the server. One child
 * at a time per server: the next fork needs the last child's
 * spawner_wait() or spawner_free(). A server that dies, stalls (5 s) or
 * answers out of turn is broken for good (spawner_zygote_broken()):
 * free it and start another, or start cold. Free children first; a
 * server freed with a child still out takes the child with it.
 */
struct spawner_zygote;

struct spawner_zygote *spawner_zygote_start(const char *worker,
		    char *const argv[], const int *table_fds, size_t ntables,
		    const struct spawner_limits *lim, struct veil_err *err);
struct spawner	*spawner_zygote_fork(struct spawner_zygote *,
		    struct veil_err *err);
/* Children forked so far. */
unsigned int	 spawner_zygote_jobs(const struct spawner_zygote *);
int		 spawner_zygote_broken(const struct spawner_zygote *);
/* The server's pid (the shell outside its PID namespace; tests). */
pid_t		 spawner_zygote_pid(const struct spawner_zygote *);
void		 spawner_zygote_free(struct spawner_zygote *);

/* Kills the worker now (SIGKILL); spawner_wait() still reaps it. */
void		 spawner_kill(struct spawner *);
void		 spawner_free(struct spawner *);
void		 spawner_outcome_free(struct spawner_outcome *);

/*
 * Validates a result frame (length prefix included) key by key and fills
 * out's status, class, message, confinement, frame and results. out->frame
 * must be msgpack_unpacked_init'ed. Returns 0, or -1 if anything is
 * malformed. spawner_wait() uses it; exposed for the fuzzer.
 */
int		 spawner_parse_result(const void *buf, size_t len,
		    struct spawner_outcome *out);

/* Writes len bytes into a new memfd and seals it against any change. */
int		 spawner_sealed_memfd(const char *name, const void *buf,
		    size_t len);

const char	*spawner_status_name(enum spawner_status);

#endif /* VEIL_SPAWNER_H */
