/*
 * csv.h: a streaming RFC 4180 reader.
 *
 * Reads records from a descriptor (or a memory buffer) through a bounded
 * buffer, never the whole file: quoted fields with "" escapes, embedded
 * delimiters and newlines, LF or CRLF line ends, an optional UTF-8 BOM,
 * and a delimiter of ',', ';' or tab, detected from the first record
 * unless given. Blank lines are skipped. Every limit is checked before
 * memory is spent on it.
 *
 * The reader only splits: it does not check encodings or types (ingest.c
 * does, since it knows the columns).
 */
#ifndef VEIL_CSV_H
#define VEIL_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct csv_limits {
	size_t		max_record;	/* bytes in one record */
	size_t		max_fields;	/* fields in one record */
	uint64_t	max_rows;	/* records in the file, header included */
};

#define CSV_DEFAULT_MAX_RECORD	(1u << 20)	/* 1 MiB */
#define CSV_DEFAULT_MAX_FIELDS	4096
#define CSV_DEFAULT_MAX_ROWS	UINT64_C(100000001)	/* with the header */
#define CSV_HARD_MAX_RECORD	(64u << 20)

/* Fills l with the defaults above. */
void	 csv_limits_default(struct csv_limits *l);

struct csv_field {
	const char	*p;		/* not NUL-terminated */
	size_t		 len;
	int		 quoted;	/* "" is an empty string, not a null */
};

struct csv_reader;

/*
 * Starts reading fd (not closed by the reader). name is used in messages.
 * delim is ',', ';', '\t', or 0 to detect it from the first record.
 * limits may be NULL for the defaults. Returns NULL with err set.
 */
struct csv_reader *csv_open_fd(int fd, const char *name, int delim,
	    const struct csv_limits *limits, struct veil_err *err);
/* The same over len bytes at buf, which must outlive the reader. */
struct csv_reader *csv_open_mem(const void *buf, size_t len, const char *name,
	    int delim, const struct csv_limits *limits, struct veil_err *err);
/*
 * Reads the len bytes at buf in place, without copying them: buf is never
 * written and must outlive the reader. The span must begin at a record
 * boundary (no BOM, no header detection: delim is given) and ends the
 * input. Line numbers count from 1 at buf. Used to parse the pieces of an
 * input split by csv_boundary() side by side (ingest.c).
 */
struct csv_reader *csv_open_span(const void *buf, size_t len,
	    const char *name, int delim, const struct csv_limits *limits,
	    struct veil_err *err);
void	 csv_close(struct csv_reader *);

/*
 * Reads the next record. On success returns 1 and points *fieldsp at
 * *nfieldsp fields, valid until the next call; returns 0 at end of input,
 * or a negative VEIL_E_* code with err saying what is wrong and where.
 * After an error the reader must not be used again.
 */
int	 csv_next(struct csv_reader *, struct csv_field **fieldsp,
	    size_t *nfieldsp, struct veil_err *err);

/*
 * The bytes of the record last returned, line end included, valid as long
 * as its fields are. Every field lies within them, and the other bytes are
 * ASCII (delimiters, quotes, line ends, and spaces where unescaping freed
 * room): so the record is valid UTF-8 exactly when all its fields are.
 */
const char *csv_record(const struct csv_reader *, size_t *lenp);
/*
 * For a caller that splits the plain records itself, faster than
 * csv_next can for any caller (ingest.c's fused path): the input after
 * the last record returned, as far as the buffer holds it. Loads of up to
 * slack bytes past p + len are safe but read no input. rows_left is how
 * many more records max_rows allows.
 */
struct csv_view {
	const char	*p;
	size_t		 len;
	size_t		 slack;
	uint64_t	 rows_left;
	size_t		 max_record;
	int		 delim;
};
void	 csv_view(const struct csv_reader *, struct csv_view *);
/*
 * Consumes the next len bytes of the view as one record spanning 1 + nl
 * lines, line end included, as if csv_next had returned it (csv_line and
 * csv_record then describe it). The caller vouches that csv_next would
 * have: a record, not a blank line, without error, no longer than
 * max_record, within rows_left. Invalidates the view.
 */
void	 csv_take(struct csv_reader *, size_t len, uint64_t nl);
/* The delimiter in use (after detection). */
int	 csv_delimiter(const struct csv_reader *);
/* The 1-based line on which the last record returned began. */
uint64_t csv_line(const struct csv_reader *);
/* Input bytes consumed so far. */
uint64_t csv_bytes(const struct csv_reader *);
/* The name given at open. */
const char *csv_name(const struct csv_reader *);

/*
 * Splitting an input at record boundaries without parsing it. In valid
 * CSV a quote opens a field, closes it, or is half of a "" pair inside
 * it, so counted from a record's start the quotes are even in number
 * exactly outside quoted fields: there a line feed ends a record (or a
 * blank line). In invalid CSV the parity may lie, but then parsing the
 * pieces fails before it gets to the wrong boundary, and the caller must
 * parse the input in one piece to report the error (ingest.c does).
 */
/* The number of '"' in the len bytes at p. */
uint64_t csv_count_quotes(const char *p, size_t len);
/*
 * The offset just past the first line feed at or after from that lies
 * outside quotes, or len if there is none; odd says whether an odd number
 * of quotes lie between the last record boundary and from.
 */
size_t	 csv_boundary(const char *p, size_t len, size_t from, int odd);
/*
 * Whether *fromp lies inside a quoted field, from the bytes after it only
 * (a few KB): 1 or 0, or -1 if they do not tell (or the input is not
 * valid CSV). Just after a quote that cannot be told (a "" pair or a
 * closing quote): *fromp moves past the quotes first, and the answer is
 * for where it ends, as csv_boundary's odd. Two readers go on from from, one as if inside quotes, one
 * as if outside; the answer is the one that survives valid CSV's rules
 * when the other meets what it cannot read. On valid CSV it is never
 * wrong; on invalid CSV it may be, and a caller splitting on it must
 * find out (the piece before a wrong boundary fails) and split again on
 * counted quotes, or in one pass (ingest.c does).
 */
int	 csv_guess_quoted(const char *p, size_t len, size_t *fromp, int delim);

#endif /* VEIL_CSV_H */
