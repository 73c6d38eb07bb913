/*
 * veild.h: the daemon's internals, shared by its three parts:
 *   veild.c          the event loop, clients, msgpack-RPC framing
 *   veild_methods.c  the methods (authorization, catalog queries)
 *   veild_run.c      runner threads: ingestion and jobs in veil-workers,
 *                    release, and the one transaction that publishes
 */
#ifndef VEIL_VEILD_H
#define VEIL_VEILD_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <msgpack.h>

#include "catalog.h"
#include "error.h"

/* Error codes of docs/protocol.md. */
enum rpc_code {
	RPC_INTERNAL = 1,
	RPC_BAD_REQUEST,
	RPC_JOB_FAILED,
	RPC_REFUSED,
	RPC_UNAUTHENTICATED,
	RPC_FORBIDDEN,
	RPC_NOT_FOUND,
	RPC_EXISTS,
	RPC_TOO_LARGE,
	RPC_SHUTTING_DOWN,
};
#define RPC_DEFERRED	100	/* the answer comes later */

#define VEILD_PREAUTH_MAX	(4u << 10)
#define VEILD_REQUEST_MAX	(1u << 20)
#define VEILD_CHUNK_MAX		(512u << 10)
#define VEILD_OUTPUT_MAX	(64u << 20)
#define VEILD_PENDING_MAX	64
#define VEILD_TEXT_MAX		(256u << 10)	/* a schema or policy */
#define VEILD_SOURCE_MAX	(512u << 10)	/* a job's Lua */

struct rpc_err {
	int	 code;
	char	 msg[512];
};

struct client {
	int		 fd;
	uint64_t	 gen;		/* unique per connection */
	int64_t		 party;		/* 0 until authenticated */
	enum catalog_role role;
	char		 name[72];
	int		 auth_failures;
	int		 pending;	/* deferred answers outstanding */
	int64_t		 connected_ms;
	char		*in;
	size_t		 inlen, incap;
	char		*out;
	size_t		 outlen, outoff, outcap;
	int		 closing;	/* close once out is flushed */
	struct client	*next;
};

/* A task for the runner threads other than jobs (which wait in the
 * catalog): checks of uploaded texts and ingestion of uploads. */
enum task_kind { TASK_CHECK, TASK_INGEST };

struct task {
	enum task_kind	 kind;
	uint64_t	 gen;		/* the client waiting for the answer */
	uint32_t	 reqid;
	int64_t		 upload;
	int64_t		 party;
	/* The answer, filled by the runner. */
	int		 code;		/* 0 or an RPC_* code */
	char		 msg[512];
	msgpack_sbuffer	 result;	/* a packed map when code == 0 */
	struct task	*next;
};

struct veild {
	char		 home[1024];	/* kept short: paths under it fit */
	char		 worker[1024];	/* veil-worker: buyers' jobs */
	char		 ingest[1024];	/* veil-ingest, beside it: uploads */
	struct catalog	*cat;		/* the event loop's handle */
	int		 nworkers;
	int		 tick_ms;
	uint64_t	 max_upload;

	/* The catalog writers' lock (catalog_share_lock), all of them. */
	pthread_mutex_t	 wmu;

	/* Shared with the runners, under mu. */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 stopping;
	uint64_t	 job_hint;	/* bumped when a job is queued */
	struct task	*tasks, **tasks_tail;	/* to run */
	struct task	*done, **done_tail;	/* answers for the loop */
	uint64_t	 finished;	/* jobs ended (publish at next tick) */
	uint64_t	 revoked;	/* bumped at each revocation */
	int		 notify_fd;	/* eventfd: wakes the loop */
	pthread_t	*threads;
	int		 running;	/* jobs in workers now */

	/* Table memfds by data set id (under mu). */
	struct memfd_ent {
		int64_t	 id;
		int	 fd;
	}		*memfds;
	size_t		 nmemfds;
};

/* veild.c */
void	 veild_reply(struct veild *, struct client *, uint32_t id,
	    const struct rpc_err *, const msgpack_sbuffer *result);
struct client *veild_client_by_gen(uint64_t gen);
int64_t	 veild_now_ms(void);

/* veild_methods.c */
int	 veild_dispatch(struct veild *, struct client *, uint32_t id,
	    const char *method, size_t mlen, const msgpack_object *params,
	    msgpack_packer *res, struct rpc_err *e);
/* At each tick: publish ended jobs, answer waiters that are due. */
void	 veild_tick(struct veild *);
/* A client went away: forget its waiters. */
void	 veild_forget_client(struct veild *, struct client *);
int	 rpc_fail(struct rpc_err *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* veild_run.c */
int	 veild_runners_start(struct veild *);
void	 veild_runners_stop(struct veild *);
void	 veild_task_push(struct veild *, struct task *);
void	 veild_jobs_kick(struct veild *);
void	 veild_task_free(struct task *);
/* Drops the cached memfd of a data set (revoked). */
void	 veild_memfd_drop(struct veild *, int64_t id);
/* Path of a data set's table file. */
void	 veild_table_path(const struct veild *, const char *name, char *buf,
	    size_t len);

#endif /* VEIL_VEILD_H */
