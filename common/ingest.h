/*
 * ingest.h: CSV -> typed columns, as a schema says.
 *
 * The header is matched to the schema by name (order free); a CSV column
 * the schema does not know is an error unless the schema ignores it; a
 * declared column missing from the header is an error. Each field is
 * converted strictly: integers and floats without spaces or junk and in
 * range, dates as YYYY-MM-DD, bools as true/false/1/0/yes/no/t/f/y/n,
 * categories against their declared values, text as valid UTF-8. An empty
 * field is null; a quoted empty field ("") is an empty string in string
 * and text columns. The first error stops ingestion and names the file,
 * line, column and offending text; nothing is half-loaded.
 */
#ifndef VEIL_INGEST_H
#define VEIL_INGEST_H

#include <stdint.h>

#include "csv.h"
#include "error.h"
#include "schema.h"
#include "table.h"

struct ingest_opts {
	struct csv_limits	limits;
	int			delimiter;	/* 0: schema's, else detect */
	/*
	 * Threads parsing an input held in memory or a regular file: 0 for
	 * one per CPU this thread may run on, 1 for none but the caller's.
	 * The result, error or table, is the same whatever the number.
	 * A process whose seccomp filter refuses clone(2) must ask for 1.
	 */
	int			threads;
	/* Input bytes per thread at least; 0 for 1 MiB. (Tests use less.) */
	size_t			piece_min;
	/*
	 * Plain records are split and typed in one pass (ingest.c), with
	 * the widest SIMD the CPU has. Tests compare that with the other
	 * ways, which give the same table or error: one record at a time
	 * through csv_next, as the records the fused pass leaves are, or
	 * the fused pass with narrower stop masks.
	 */
	int			fused;
};

#define INGEST_FUSED_BEST	0	/* the default */
#define INGEST_FUSED_OFF	1	/* csv_next for every record */
#define INGEST_FUSED_BYTES	2	/* masks a byte at a time */
#define INGEST_FUSED_SSE2	3	/* masks with SSE2 at most */

struct ingest_stats {
	uint64_t	rows;		/* data rows, header excluded */
	uint64_t	bytes;		/* input bytes read */
	int		delimiter;
	int		threads;	/* that parsed it (ingest_opts) */
	int		split;		/* INGEST_SPLIT_*: how, for threads */
};
#define INGEST_SPLIT_NONE	0	/* parsed in one pass */
#define INGEST_SPLIT_GUESSED	1	/* at boundaries guessed from the
					   bytes near them (csv.h) */
#define INGEST_SPLIT_COUNTED	2	/* at boundaries from counted quotes,
					   the bytes near one not telling */
#define INGEST_SPLIT_RECOUNTED	3	/* the same, after a guess was wrong
					   and its pieces were parsed */

void	 ingest_opts_default(struct ingest_opts *);

/*
 * Reads the CSV on fd (name is for messages) into a new table builder
 * whose columns follow the schema's order. Returns 0 with *bp set (the
 * caller frees it), or a VEIL_E_* code with err set and *bp NULL.
 * opts and stats may be NULL.
 *
 * The CSV starts at fd's offset. A regular file worth more than one
 * thread (opts->threads) is mapped and parsed in pieces side by side, a
 * builder each, appended in order (ingest.c): the table and any error
 * are the ones a single pass gives. Like any mapping, it must not be cut
 * short by another process meanwhile (SIGBUS). Anything else is read in
 * one streaming pass.
 */
int	 ingest_csv_fd(int fd, const char *name, const struct schema *,
	    const struct ingest_opts *opts, struct table_builder **bp,
	    struct ingest_stats *stats, struct veil_err *err);
/* The same over len bytes in memory. */
int	 ingest_csv_mem(const void *buf, size_t len, const char *name,
	    const struct schema *, const struct ingest_opts *opts,
	    struct table_builder **bp, struct ingest_stats *stats,
	    struct veil_err *err);

/* Strict scalar parsers, shared with tests and the mock generator. */
int	 ingest_parse_int(const char *p, size_t len, int64_t *out);
int	 ingest_parse_float(const char *p, size_t len, double *out);
int	 ingest_parse_bool(const char *p, size_t len, int *out);

#endif /* VEIL_INGEST_H */
