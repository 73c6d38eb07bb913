/*
 * worker_proto.h: the contract between the parent (spawner.c) and
 * veil-worker (worker.c). Both sides include it; the parent trusts none of
 * what comes back.
 *
 * Descriptors in the worker: 0 the job frame (a sealed memfd), 1 the
 * result frame (a pipe), 2 log lines (a pipe), 3.. the tables (sealed
 * memfds, one per table, in job order).
 * Arguments: veil-worker --tables N --memory BYTES --cpu SECONDS
 *
 * Job frame (msgpack map): "kind" (str), "tables" (array of str names,
 * one per table descriptor), and the fields of that kind.
 * Result frame (msgpack map): "status" ("ok" | "error"), "class" (error
 * class, with "error"), "message" (str, withheld from buyers on real
 * data), "confinement" (uint, CONFINE_* bits), "results" (map), "stats"
 * (map of uint).
 */
#ifndef VEIL_WORKER_PROTO_H
#define VEIL_WORKER_PROTO_H

#define WORKER_FD_JOB		0
#define WORKER_FD_RESULT	1
#define WORKER_FD_LOG		2
#define WORKER_FD_TABLE0	3
#define WORKER_MAX_TABLES	16
#define WORKER_MAX_JOB		(1u << 20)	/* job frame bytes */
#define WORKER_BASE_AS		(256ull << 20)	/* code, libs, stacks */

/* Exit codes of a worker that could not write a result frame. */
#define WORKER_EXIT_OK		0
#define WORKER_EXIT_USAGE	64	/* bad arguments from the parent */
#define WORKER_EXIT_CONFINE	70	/* could not confine: refused to run */
#define WORKER_EXIT_JOB		71	/* unreadable job frame */
#define WORKER_EXIT_TABLE	72	/* a table failed validation */
#define WORKER_EXIT_NOMEM	73	/* out of memory outside the job */
#define WORKER_EXIT_OUTPUT	74	/* could not write the result */

#endif /* VEIL_WORKER_PROTO_H */
