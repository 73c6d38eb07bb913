/*
 * table.h: veil's columnar table, one contiguous buffer.
 *
 * The same bytes serve memory, the worker's sealed memfd and (encrypted)
 * disk. Layout (all integers little-endian, native on the hosts veil runs
 * on; every array starts on a 64-byte boundary):
 *
 *   header   64 bytes: magic "VEILTAB\0", version, ncols, nrows, size,
 *            offset of the column directory
 *   coldir   ncols descriptors of 64 bytes: name, type, role, flags and the
 *            offsets of the column's arrays
 *   arrays   per column: values (int64 | float64 | uint8 bool | uint32
 *            category code | uint64 string offsets[nrows+1] | int32 days),
 *            an optional null bitmap (bit i, LSB first, set = row i null),
 *            a heap (string bytes, or dictionary bytes), and for categories
 *            the dictionary offsets (uint64[dict_n+1])
 *
 * The builder makes such a buffer; table_open() validates one completely
 * (it may come from a process we do not trust) before handing out views.
 */
#ifndef VEIL_TABLE_H
#define VEIL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"

#define TABLE_MAGIC		"VEILTAB"	/* 8 bytes with the NUL */
#define TABLE_VERSION		1
#define TABLE_ALIGN		64
#define TABLE_MAX_COLS		4096
#define TABLE_MAX_ROWS		(UINT64_C(1) << 36)
#define TABLE_MAX_NAME		255

enum veil_type {
	VEIL_T_INT = 1,		/* int64 */
	VEIL_T_FLOAT,		/* float64, always finite */
	VEIL_T_BOOL,		/* uint8, 0 or 1 */
	VEIL_T_CATEGORY,	/* uint32 code into a dictionary */
	VEIL_T_STRING,		/* uint64 offsets + bytes */
	VEIL_T_DATE,		/* int32 days since 1970-01-01 */
};
#define VEIL_T_LAST	VEIL_T_DATE

/* Column roles, as in the schema (DESIGN.md "Schema and policy files"). */
enum veil_role {
	VEIL_R_INSENSITIVE = 0,
	VEIL_R_IDENTIFIER,
	VEIL_R_QUASI,
	VEIL_R_SENSITIVE,
	VEIL_R_TEXT,
};
#define VEIL_R_LAST	VEIL_R_TEXT

/* Column flags. */
#define TABLE_F_UNIT	0x0001	/* the privacy unit column */
#define TABLE_F_DECLARED 0x0002	/* category: the dictionary is the declared
				   domain, so every key may be released */
#define TABLE_F_MASK	0x0003

/* Returns "int", "float", ... or "?" for a value out of range. */
const char	*veil_type_name(enum veil_type);
const char	*veil_role_name(enum veil_role);

/*
 * A read-only view of one column inside a validated buffer. Pointers stay
 * valid as long as the buffer and the struct table do.
 */
struct table_colview {
	const char		*name;
	enum veil_type		 type;
	enum veil_role		 role;
	unsigned int		 flags;
	const uint8_t		*nulls;		/* NULL when the column has none */
	const void		*data;
	const char		*heap;		/* string or dictionary bytes */
	uint64_t		 heap_len;
	const uint64_t		*dict_off;	/* category: dict_n + 1 offsets */
	uint32_t		 dict_n;
};

struct table;
struct table_builder;

/* {====== reading */

/*
 * Validates the len bytes at buf as a table and returns a view of it in
 * *tp. buf must be 64-byte aligned and outlive *tp; it is never written.
 * Returns 0, or VEIL_E_CORRUPT with err saying what is inconsistent.
 */
int		 table_open(const void *buf, size_t len, struct table **tp,
		    struct veil_err *err);
void		 table_free(struct table *);

/*
 * As table_open(), but two checks are left for later, per column: that
 * a float column's values are all finite, and that a category column's
 * codes all index its dictionary (each a pass over the column). Every
 * offset, length, string offset, dictionary offset and bool is still
 * checked here. The reader owes the check before it uses a float or
 * category column's values (and a code owes it before it indexes
 * anything): table_values_pending() says whether the check is still
 * owed, table_check_values() runs it (0, or VEIL_E_CORRUPT), and
 * table_values_checked() records that the caller made the same check
 * itself while reading every value of the column (TABLE_NONFINITE below;
 * code < dict_n, or code 0 in a null row), so that a job pays for one
 * pass, not two.
 */
int		 table_open_lazy(const void *buf, size_t len, struct table **tp,
		    struct veil_err *err);
int		 table_values_pending(const struct table *, unsigned int col);
int		 table_check_values(const struct table *, unsigned int col,
		    struct veil_err *err);
void		 table_values_checked(const struct table *, unsigned int col);

/*
 * For a check made while reading: OR this over the bits of every value;
 * bit 63 of the result is set iff one of them is inf or NaN (the
 * exponent bits plus one carry into bit 63 only when they are all ones).
 */
#define TABLE_NONFINITE(bits)						\
	(((bits) & UINT64_C(0x7ff0000000000000)) +			\
	    UINT64_C(0x0010000000000000))

uint64_t	 table_nrows(const struct table *);
unsigned int	 table_ncols(const struct table *);
const struct table_colview *
		 table_column(const struct table *, unsigned int col);
/* Returns the index of the column called name, or -1. */
int		 table_find(const struct table *, const char *name);

static inline int
table_isnull(const struct table_colview *c, uint64_t row)
{
	return c->nulls != NULL && (c->nulls[row >> 3] >> (row & 7)) & 1;
}

static inline const char *
table_str(const struct table_colview *c, uint64_t row, size_t *lenp)
{
	const uint64_t *off = c->data;

	*lenp = off[row + 1] - off[row];
	return c->heap + off[row];
}

static inline const char *
table_dict(const struct table_colview *c, uint32_t code, size_t *lenp)
{
	*lenp = c->dict_off[code + 1] - c->dict_off[code];
	return c->heap + c->dict_off[code];
}

/*
 * Maps the file at path read-only and opens it as a table. The mapping is
 * released by table_unmap(). Returns 0 or a VEIL_E_* code with err set.
 */
int		 table_map_file(const char *path, struct table **tp,
		    void **mapp, size_t *lenp, struct veil_err *err);
void		 table_unmap(void *map, size_t len);
/* Writes len bytes of buf to path (created 0600, replaced atomically). */
int		 table_write_file(const char *path, const void *buf, size_t len,
		    struct veil_err *err);

/* }====== */

/* {====== building */

struct table_builder	*table_builder_new(void);
void			 table_builder_free(struct table_builder *);
/*
 * For tests: string columns built from now on keep 4-byte offsets only
 * while their heap is at most max bytes (normally 4 GB - 1), so that the
 * switch to 8-byte offsets can be tested without a 4 GB heap.
 */
void			 table_builder_test_narrow(uint64_t max);

/* Adds a column and returns its index (>= 0) or a VEIL_E_* code. */
int	 table_builder_add_column(struct table_builder *, const char *name,
	    enum veil_type type, enum veil_role role, unsigned int flags);
/*
 * Adds a value to a category column's dictionary without adding a row, so
 * that declared values get codes in their declared order.
 */
int	 table_builder_dict_add(struct table_builder *, int col,
	    const char *p, size_t len);

/* Appends one value to a column; each returns 0 or VEIL_E_NOMEM/LIMIT. */
int	 table_builder_null(struct table_builder *, int col);
int	 table_builder_int(struct table_builder *, int col, int64_t v);
int	 table_builder_float(struct table_builder *, int col, double v);
int	 table_builder_bool(struct table_builder *, int col, int v);
int	 table_builder_date(struct table_builder *, int col, int32_t days);
int	 table_builder_string(struct table_builder *, int col,
	    const char *p, size_t len);
/* Looks p up in (or adds it to) the dictionary and appends its code. */
int	 table_builder_category(struct table_builder *, int col,
	    const char *p, size_t len);

/*
 * Looks p up in a category column's dictionary without adding it: its
 * code, or -1.
 */
int64_t	 table_builder_dict_find(const struct table_builder *, int col,
	    const char *p, size_t len);

/*
 * Runs: rows written straight into the columns, for a caller that checks
 * a whole row before it appends any of it (ingest.c). table_builder_run
 * makes room for at least one row in every column and describes each
 * column's next slots in s[i] (the array has a slot per column). It sets
 * *roomp to the rows of room (0 if the columns do not all have as many
 * rows, or the table is full) and *row0p to the rows before the run, and
 * returns 0 or VEIL_E_NOMEM.
 * Row r of the run (r < room) is written by the caller:
 *
 *	int, float, date, bool, category: the value's tf_data_len bytes at
 *	    data + r * w (a null: zero bytes), a category's code one that
 *	    the dictionary has (table_builder_dict_code);
 *	string: the value's bytes in heap from the end of row r - 1 (the
 *	    end slot before row r's, which exists for r = 0 too), and its
 *	    end at data + r * w (4 bytes, or 8 if wide); the end may not
 *	    pass hcap (table_builder_run_heap gives more) or hmax;
 *	a null, once the row is sure to be taken: bit (row0 + r) % 8 of
 *	    nulls[(row0 + r) / 8], and one more in nnull (the run's bitmap
 *	    bytes are zero to begin with).
 *
 * Nothing is appended until table_builder_run_end(b, s, n) takes the
 * first n rows of the run, so a row can be written and then dropped.
 * Until then the builder takes no other append, and a failed run_heap
 * leaves only run_end (with the rows so far) or free. A string column
 * whose last end is past its hmax or hcap breaks the builder: finish
 * then fails.
 */
struct table_slot {
	unsigned char	*data;		/* the run's row 0 slot */
	unsigned char	*nulls;		/* the column's null bitmap */
	unsigned char	*heap;		/* string: the column's bytes */
	uint64_t	 hcap;		/* string: the heap's length */
	uint64_t	 hmax;		/* string: the most its ends may say */
	uint64_t	 nnull;		/* nulls set in the run */
	unsigned int	 wide;		/* string: 8-byte ends */
};
/* A string column's end of the run's row r (r = -1: the row before). */
static inline uint64_t
table_slot_end(const struct table_slot *s, int64_t r)
{
	uint64_t end;
	uint32_t e;

	if (s->wide) {
		memcpy(&end, s->data + r * 8, 8);
		return end;
	}
	memcpy(&e, s->data + r * 4, 4);
	return e;
}

/* Sets it (the caller keeps a narrow column's ends within hmax). */
static inline void
table_slot_set_end(struct table_slot *s, int64_t r, uint64_t end)
{
	uint32_t e = (uint32_t)end;

	if (s->wide)
		memcpy(s->data + r * 8, &end, 8);
	else
		memcpy(s->data + r * 4, &e, 4);
}

int	 table_builder_run(struct table_builder *, struct table_slot *s,
	    uint64_t *row0p, uint64_t *roomp);
/*
 * Makes the heap of string column col (whose first used bytes the run's
 * rows so far hold) at least need bytes long. Returns 0 or a code.
 */
int	 table_builder_run_heap(struct table_builder *, struct table_slot *s,
	    int col, uint64_t used, uint64_t need);
void	 table_builder_run_end(struct table_builder *, struct table_slot *s,
	    uint64_t n);
/*
 * Finds or adds p in a category column's dictionary (which a run may do):
 * its code, or a negative VEIL_E_* code.
 */
int64_t	 table_builder_dict_code(struct table_builder *, int col,
	    const char *p, size_t len);

/* Rows appended so far (the same in every column once a row is done). */
uint64_t table_builder_nrows(const struct table_builder *);
unsigned int table_builder_ncols(const struct table_builder *);
/* Distinct values in a category column's dictionary so far. */
uint32_t table_builder_dict_size(const struct table_builder *, int col);

/*
 * Appends src's rows after b's and takes src over (it is freed with b):
 * src must have the same columns (names, types, roles, flags) and no
 * parts of its own. Nothing is copied until table_builder_finish(), which
 * lays out b's rows and then each appended builder's, as if one builder
 * had been fed them all: the same bytes, category codes in order of first
 * appearance. Used to build a table from pieces made side by side. After
 * an append, b takes no more rows or columns (VEIL_E_INVALID). Returns 0,
 * VEIL_E_INVALID, or VEIL_E_NOMEM/LIMIT (src is then still the caller's,
 * and b can only be freed).
 */
int	 table_builder_append(struct table_builder *b,
	    struct table_builder *src);

/*
 * Lays the columns out in one 64-byte-aligned buffer, which the caller
 * frees with free(). All columns must hold the same number of rows.
 * A builder with appended parts (made side by side, so by a process that
 * may start threads) is laid out by one thread per part; any other by the
 * calling thread alone. Returns 0 or a VEIL_E_* code.
 */
int	 table_builder_finish(struct table_builder *, void **bufp,
	    size_t *lenp, struct veil_err *err);

/* }====== */

#endif /* VEIL_TABLE_H */
