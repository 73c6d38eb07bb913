/*
 * worker_proto.h: the contract between the parent (spawner.c) and
 * veil-worker (worker.c). Both sides include it; the parent trusts none of
 * what comes back.
 *
 * Descriptors in the worker: 0 the job frame (a sealed memfd, or, for a
 * pre-started worker, a pipe the parent writes once), 1 the result frame
 * (a pipe), 2 log lines (a pipe), 3.. the tables (sealed memfds, one per
 * table, in job order), then the extra descriptors, if any
 * (spawner_start_ex).
 * Arguments: veil-worker --tables N --memory BYTES --cpu SECONDS
 * [--cpu-ms MS] [--extra N]
 *
 * Job frame (msgpack map): "kind" (str), "tables" (array of str names,
 * one per table descriptor), and the fields of that kind:
 *   "describe"  none; results: per table {rows, columns, digest (FNV-1a)}
 *   "lua"       source, mode, ...; one table (run_lua in worker.c)
 *   "check"     schema (str, Lua text, named "schema.lua"), policy (str,
 *               "policy.lua"); no tables; results: {columns, name, mode,
 *               unit}, or an "input" error whose message is the loader's
 *   "ingest"    schema, policy, key (bin, WORKER_KEY_LEN bytes: the data
 *               set's pseudonymization key); no tables and --extra 2:
 *                 3  WORKER_FD_CSV  the CSV, read from its current offset
 *                    (a regular file, memfd or pipe; the offset is shared
 *                    with the parent's descriptor and moves);
 *                 4  WORKER_FD_OUT  a memfd the parent made and sized
 *                    (sparse); the worker maps it MAP_SHARED read-write
 *                    before it confines itself and writes the
 *                    de-identified table at offset 0 (RLIMIT_FSIZE is 0,
 *                    so never with write());
 *               results: {rows, columns, bytes (table length), digest
 *               (hex SHA-256 of the table bytes)}; errors: "input" (CSV,
 *               schema or policy: the message names file, line, column),
 *               "memory", "output" (the table does not fit the memfd).
 * Fork server (--zygote 1; not with --extra): descriptor 0 is a
 * SOCK_SEQPACKET socket to the spawner instead of a job, 1 and 2 as
 * above, the tables as above. Each message is one struct zygote_msg.
 * The server forks a child ahead of its job and sends ZYGOTE_READY {pid
 * (in its namespace)} with the child's pidfd (SCM_RIGHTS). The child
 * waits on the socket for ZYGOTE_FORK from the spawner, with three
 * descriptors: its job (a pipe's read end), result and log (pipes' write
 * ends); it takes them as its 0, 1 and 2 and runs like a worker started
 * cold. The server waits for it, sends ZYGOTE_ENDED {pid, value: the
 * wait status, cpu_us: its user + system CPU}, and forks the next. One
 * child at a time; when the socket closes, the waiting child and then
 * the server exit.
 * Result frame (msgpack map): "status" ("ok" | "error"), "class" (error
 * class, with "error"), "message" (str, withheld from buyers on real
 * data), "confinement" (uint, CONFINE_* bits), "results" (map), "stats"
 * (map of uint).
 */
#ifndef VEIL_WORKER_PROTO_H
#define VEIL_WORKER_PROTO_H

#include <stdint.h>

#define WORKER_FD_JOB		0
#define WORKER_FD_RESULT	1
#define WORKER_FD_LOG		2
#define WORKER_FD_TABLE0	3
#define WORKER_MAX_TABLES	16
#define WORKER_MAX_EXTRA	2	/* descriptors after the tables */
/* kind "ingest" (no tables, two extra descriptors): */
#define WORKER_FD_CSV		3	/* the CSV, read() (filter_gen.c) */
#define WORKER_FD_OUT		4	/* the output memfd, mapped shared */
#define WORKER_INGEST_EXTRA	2
#define WORKER_KEY_LEN		32	/* the pseudonymization key */
/* job frame bytes: a schema and a policy of up to 4 MiB each (luadata.h) */
#define WORKER_MAX_JOB		(9u << 20)
#define WORKER_BASE_AS		(256ull << 20)	/* code, libs, stacks */

enum { ZYGOTE_FORK = 1, ZYGOTE_READY, ZYGOTE_ENDED };

struct zygote_msg {
	int32_t		kind;
	int32_t		pid;
	int32_t		value;
	int32_t		pad;
	uint64_t	cpu_us;
};

/* Exit codes of a worker that could not write a result frame. */
#define WORKER_EXIT_OK		0
#define WORKER_EXIT_USAGE	64	/* bad arguments from the parent */
#define WORKER_EXIT_CONFINE	70	/* could not confine: refused to run */
#define WORKER_EXIT_JOB		71	/* unreadable job frame */
#define WORKER_EXIT_TABLE	72	/* a table failed validation */
#define WORKER_EXIT_NOMEM	73	/* out of memory outside the job */
#define WORKER_EXIT_OUTPUT	74	/* could not write the result */

#endif /* VEIL_WORKER_PROTO_H */
