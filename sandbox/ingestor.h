/*
 * ingestor.h: the parent's side of the ingest child. Uploaded CSV, schema
 * and policy texts are untrusted; the daemon never parses them itself
 * (DESIGN.md "Data flow"). These functions hand them to a confined
 * veil-worker (kinds "check" and "ingest", worker_proto.h) and trust
 * nothing that comes back: error texts are made printable, the table is
 * checked against its SHA-256 and validated with table_open().
 *
 * Thread-safe: no global state; every descriptor made here is
 * close-on-exec, so workers spawned by other threads inherit none of them.
 */
#ifndef VEIL_INGESTOR_H
#define VEIL_INGESTOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spawner.h"

/* Limits of a check (a schema and a policy text are small). */
#define INGESTOR_CHECK_MEMORY	(256ull << 20)
#define INGESTOR_CHECK_CPU_MS	10000
#define INGESTOR_CHECK_WALL_MS	20000
/* The output memfd: this much plus 16 bytes per CSV byte, page-rounded. */
#define INGESTOR_OUT_BASE	(64ull << 20)
#define INGESTOR_OUT_PER_BYTE	16

struct ingestor_result {
	/*
	 * ingestor_run: the de-identified table, validated. It is not a
	 * copy: a read-only MAP_SHARED mapping of the sealed memfd the
	 * worker wrote (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW |
	 * F_SEAL_SEAL, added after the worker was reaped and before the
	 * bytes were checked), so nobody can change it. Page aligned.
	 * Release with ingestor_result_free(), never free().
	 */
	void		*table;
	size_t		 len;
	uint64_t	 rows;
	uint32_t	 columns;
	char		 digest[65];	/* hex SHA-256 of the table bytes */
	char		 name[65];	/* schema name (check only) */
	char		 mode[16];	/* policy mode (check only) */
	char		 unit[256];	/* privacy unit column (check only) */
	int		 level;		/* highest column classification
					 * level (check only) */
	unsigned int	 confinement;	/* CONFINE_* bits the worker reported
					   (kept after a failure too) */
};

/*
 * Checks schema and policy texts (named "schema.lua" and "policy.lua" in
 * messages) in a confined veil-worker. A schema whose hierarchy comes
 * from a file is refused: a registered data set's schema is
 * self-contained. Returns 0 with out's columns, name, mode, unit and
 * confinement set; VEIL_E_PARSE with err->msg the loader's message (what
 * and where); VEIL_E_LIMIT if the worker ran out of memory or time; or
 * another VEIL_E_* code (VEIL_E_INTERNAL: the worker failed).
 */
int	 ingestor_check(const char *worker, const char *schema, size_t slen,
	    const char *policy, size_t plen, struct ingestor_result *out,
	    struct veil_err *err);

/*
 * Parses the CSV readable on csv_fd (from its current offset: the
 * worker shares the descriptor's file description, so the offset moves;
 * a regular file, memfd or pipe) through the schema in a confined
 * veil-worker, with ingestion's default limits, de-identifies it with
 * key (keylen must be 32: the data set's pseudonymization key; the
 * identifier actions of `veil run`), and returns the table, validated
 * with table_open() here. csv_size (bytes to come) sizes the output
 * memfd: INGESTOR_OUT_BASE + INGESTOR_OUT_PER_BYTE * csv_size, sparse.
 * lim: memory_bytes, cpu_ms and wall_ms of the worker (output_bytes is
 * not used: the result frame is small and capped here). The policy is
 * validated too. Returns 0 with out's table, len, rows, columns, digest
 * and confinement set; VEIL_E_PARSE (bad CSV, schema or policy: err says
 * what and where, e.g. "data.csv:7: column 3 (cost): ..."); VEIL_E_LIMIT
 * (over the memory, CPU or wall-clock limit, or the table did not fit
 * the output memfd); or another code.
 */
int	 ingestor_run(const char *worker, int csv_fd, uint64_t csv_size,
	    const char *schema, size_t slen, const char *policy, size_t plen,
	    const unsigned char *key, size_t keylen,
	    const struct spawner_limits *lim, struct ingestor_result *out,
	    struct veil_err *err);

/* Tests: ingestor_run() with an output memfd of out_bytes (0: default). */
int	 ingestor_run_sized(const char *worker, int csv_fd, uint64_t csv_size,
	    const char *schema, size_t slen, const char *policy, size_t plen,
	    const unsigned char *key, size_t keylen,
	    const struct spawner_limits *lim, uint64_t out_bytes,
	    struct ingestor_result *out, struct veil_err *err);

/* Releases out's table and clears it; a cleared result is a no-op. */
void	 ingestor_result_free(struct ingestor_result *out);

#endif /* VEIL_INGESTOR_H */
