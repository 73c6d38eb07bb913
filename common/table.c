/*
 * table.c: the validating reader of the table format (see table.h).
 *
 * table_open() trusts nothing in the buffer: the worker maps buffers that
 * another process built. Every offset and length is checked against the
 * buffer before it is used, string offsets must be monotonic, category
 * codes must index the dictionary, bools are 0 or 1, floats are finite.
 * table_open_lazy() leaves the last two of these (one pass over each
 * float and category column), per column, to the reader, which can make
 * them during its own first pass over the column.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"
#include "table_format.h"
#include "utf8.h"

struct table {
	const unsigned char	*buf;
	uint64_t		 nrows;
	unsigned int		 ncols;
	struct table_colview	*cols;
	uint8_t			*pending;	/* per column: float or
						   category values owe
						   their check (lazy) */
};

static const char *const type_names[] = {
	"?", "int", "float", "bool", "category", "string", "date"
};
static const char *const role_names[] = {
	"insensitive", "identifier", "quasi", "sensitive", "text"
};

const char *
veil_type_name(enum veil_type t)
{
	return (t >= 1 && t <= VEIL_T_LAST) ? type_names[t] : "?";
}

const char *
veil_role_name(enum veil_role r)
{
	return ((unsigned)r <= VEIL_R_LAST) ? role_names[r] : "?";
}

/* Is [off, off+len) inside a buffer of size bytes? Never wraps. */
static int
in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

#define CORRUPT(...)	veil_seterr(err, VEIL_E_CORRUPT, __VA_ARGS__)

static int
check_region(const char *what, unsigned int col, uint64_t off, uint64_t len,
    uint64_t size, struct veil_err *err)
{
	if (off % TABLE_ALIGN != 0)
		return CORRUPT("table: column %u: %s offset %llu is not "
		    "64-byte aligned", col, what, (unsigned long long)off);
	if (off < sizeof(struct tf_header) || !in_bounds(off, len, size))
		return CORRUPT("table: column %u: %s [%llu, +%llu) lies outside "
		    "the %llu-byte buffer", col, what, (unsigned long long)off,
		    (unsigned long long)len, (unsigned long long)size);
	return 0;
}

static int
check_offsets(const char *what, unsigned int col, const uint64_t *off,
    uint64_t n, uint64_t heap_len, struct veil_err *err)
{
	uint64_t i;

	if (off[0] != 0)
		return CORRUPT("table: column %u: %s offsets start at %llu, "
		    "not 0", col, what, (unsigned long long)off[0]);
	for (i = 0; i < n; i++)
		if (off[i + 1] < off[i])
			return CORRUPT("table: column %u: %s offset %llu "
			    "decreases", col, what, (unsigned long long)i + 1);
	if (off[n] != heap_len)
		return CORRUPT("table: column %u: %s offsets end at %llu, "
		    "heap holds %llu bytes", col, what,
		    (unsigned long long)off[n], (unsigned long long)heap_len);
	return 0;
}

/*
 * The value checks are branch-free loops in blocks of a fixed size
 * (VBLOCK, twice that for bytes and codes), which GCC's -O2 (its "very
 * cheap" vectorizer) does vectorize; a plain loop it left scalar.
 */
#define VBLOCK		8

/* TABLE_NONFINITE (table.h), in blocks. */
static int
all_finite(const uint64_t *d, uint64_t n)
{
	uint64_t acc[VBLOCK] = { 0 }, bad = 0, i, j;

	for (i = 0; i + VBLOCK <= n; i += VBLOCK)
		for (j = 0; j < VBLOCK; j++)
			acc[j] |= TABLE_NONFINITE(d[i + j]);
	for (; i < n; i++)
		bad |= TABLE_NONFINITE(d[i]);
	for (j = 0; j < VBLOCK; j++)
		bad |= acc[j];
	return (bad >> 63) == 0;
}

static int
check_values(unsigned int col, const struct table_colview *c, uint64_t n,
    int lazy, struct veil_err *err)
{
	uint64_t i, j;

	switch (c->type) {
	case VEIL_T_FLOAT: {
		if (lazy)
			break;		/* table_check_values() */
		/* the slow loop only runs to name the row */
		if (all_finite(c->data, n))
			break;
		for (i = 0; i < n; i++)
			if (!isfinite(((const double *)c->data)[i]))
				return CORRUPT("table: column %u: row %llu "
				    "holds a non-finite float", col,
				    (unsigned long long)i);
		break;
	}
	case VEIL_T_BOOL: {
		const uint8_t *b = c->data;
		uint8_t acc[2 * VBLOCK] = { 0 }, bad = 0;

		for (i = 0; i + 2 * VBLOCK <= n; i += 2 * VBLOCK)
			for (j = 0; j < 2 * VBLOCK; j++)
				acc[j] |= b[i + j];
		for (; i < n; i++)
			bad |= b[i];
		for (j = 0; j < 2 * VBLOCK; j++)
			bad |= acc[j];
		for (i = 0; bad > 1 && i < n; i++)
			if (b[i] > 1)
				return CORRUPT("table: column %u: row %llu "
				    "holds bool value %u", col,
				    (unsigned long long)i, b[i]);
		break;
	}
	case VEIL_T_CATEGORY: {
		const uint32_t *k = c->data;
		uint32_t acc[2 * VBLOCK] = { 0 }, bad = 0;

		if (lazy)
			break;		/* table_check_values() */
		for (i = 0; i + 2 * VBLOCK <= n; i += 2 * VBLOCK)
			for (j = 0; j < 2 * VBLOCK; j++)
				acc[j] |= k[i + j] >= c->dict_n;
		for (; i < n; i++)
			bad |= k[i] >= c->dict_n;
		for (j = 0; j < 2 * VBLOCK; j++)
			bad |= acc[j];
		if (!bad)
			break;
		for (i = 0; i < n; i++)
			if (k[i] >= c->dict_n && !table_isnull(c, i))
				return CORRUPT("table: column %u: row %llu "
				    "has code %u, dictionary has %u", col,
				    (unsigned long long)i, k[i], c->dict_n);
			else if (k[i] >= c->dict_n && k[i] != 0)
				return CORRUPT("table: column %u: null row "
				    "%llu has code %u", col,
				    (unsigned long long)i, k[i]);
		break;
	}
	default:
		break;
	}
	return 0;
}

static int
open_column(const unsigned char *buf, uint64_t size, uint64_t nrows,
    unsigned int i, const struct tf_coldesc *d, struct table_colview *c,
    int lazy, struct veil_err *err)
{
	uint64_t dlen;
	int r;

	if (d->type < 1 || d->type > VEIL_T_LAST)
		return CORRUPT("table: column %u: unknown type %u", i, d->type);
	if (d->role > VEIL_R_LAST)
		return CORRUPT("table: column %u: unknown role %u", i, d->role);
	if ((d->flags & ~TABLE_F_MASK) != 0 || d->reserved != 0)
		return CORRUPT("table: column %u: unknown flags", i);
	if (d->name_len == 0 || d->name_len > TABLE_MAX_NAME ||
	    !in_bounds(d->name_off, (uint64_t)d->name_len + 1, size) ||
	    d->name_off < sizeof(struct tf_header))
		return CORRUPT("table: column %u: bad name", i);
	if (buf[d->name_off + d->name_len] != '\0' ||
	    memchr(buf + d->name_off, '\0', d->name_len) != NULL ||
	    !utf8_valid((const char *)buf + d->name_off, d->name_len))
		return CORRUPT("table: column %u: name is not a NUL-terminated "
		    "UTF-8 string", i);
	c->name = (const char *)buf + d->name_off;
	c->type = d->type;
	c->role = d->role;
	c->flags = d->flags;

	dlen = tf_data_len(d->type, nrows);
	if ((r = check_region("values", i, d->data_off, dlen, size, err)) != 0)
		return r;
	c->data = buf + d->data_off;
	if (d->nulls_off != 0) {
		if ((r = check_region("null bitmap", i, d->nulls_off,
		    (nrows + 7) / 8, size, err)) != 0)
			return r;
		c->nulls = buf + d->nulls_off;
	}
	if (d->type == VEIL_T_STRING || d->type == VEIL_T_CATEGORY) {
		if (d->heap_len == 0 && d->heap_off != 0)
			return CORRUPT("table: column %u: empty heap at offset "
			    "%llu (must be 0)", i,
			    (unsigned long long)d->heap_off);
		if (d->heap_len > 0 && (r = check_region("heap", i,
		    d->heap_off, d->heap_len, size, err)) != 0)
			return r;
		c->heap = (const char *)buf + d->heap_off;
		c->heap_len = d->heap_len;
	} else if (d->heap_off != 0 || d->heap_len != 0)
		return CORRUPT("table: column %u: %s column has a heap", i,
		    veil_type_name(d->type));
	if (d->type == VEIL_T_CATEGORY) {
		if (d->dict_n > UINT32_MAX - 1 || (r = check_region(
		    "dictionary", i, d->dict_off,
		    8 * ((uint64_t)d->dict_n + 1), size, err)) != 0)
			return r != 0 ? r : CORRUPT("table: column %u: "
			    "dictionary too large", i);
		c->dict_off = (const uint64_t *)(buf + d->dict_off);
		c->dict_n = d->dict_n;
		if ((r = check_offsets("dictionary", i, c->dict_off,
		    c->dict_n, c->heap_len, err)) != 0)
			return r;
	} else if (d->dict_off != 0 || d->dict_n != 0)
		return CORRUPT("table: column %u: %s column has a dictionary",
		    i, veil_type_name(d->type));
	if (d->type == VEIL_T_STRING && (r = check_offsets("string", i,
	    c->data, nrows, c->heap_len, err)) != 0)
		return r;
	return check_values(i, c, nrows, lazy, err);
}

static int
open_table(const void *vbuf, size_t len, int lazy, struct table **tp,
    struct veil_err *err)
{
	const unsigned char *buf = vbuf;
	const struct tf_header *h = vbuf;
	const struct tf_coldesc *dir;
	struct table *t = NULL;
	unsigned int i, j;
	int r = VEIL_E_CORRUPT;

	*tp = NULL;
	if (((uintptr_t)buf % TABLE_ALIGN) != 0)
		return veil_seterr(err, VEIL_E_INVALID,
		    "table: buffer is not 64-byte aligned");
	if (len < sizeof(*h))
		return CORRUPT("table: %zu bytes is shorter than the header",
		    len);
	if (memcmp(h->magic, TABLE_MAGIC, sizeof(h->magic)) != 0)
		return CORRUPT("table: bad magic (not a veil table)");
	if (h->version != TABLE_VERSION)
		return CORRUPT("table: version %u, this build reads %u",
		    h->version, TABLE_VERSION);
	if (h->size != len)
		return CORRUPT("table: header says %llu bytes, buffer has %zu",
		    (unsigned long long)h->size, len);
	if (h->reserved[0] != 0 || h->reserved[1] != 0 || h->reserved[2] != 0)
		return CORRUPT("table: reserved header fields are not zero");
	if (h->ncols > TABLE_MAX_COLS)
		return CORRUPT("table: %u columns (at most %d)", h->ncols,
		    TABLE_MAX_COLS);
	if (h->nrows > TABLE_MAX_ROWS)
		return CORRUPT("table: %llu rows (at most %llu)",
		    (unsigned long long)h->nrows,
		    (unsigned long long)TABLE_MAX_ROWS);
	if (h->coldir_off % TABLE_ALIGN != 0 ||
	    h->coldir_off < sizeof(*h) ||
	    !in_bounds(h->coldir_off, (uint64_t)h->ncols * sizeof(*dir), len))
		return CORRUPT("table: column directory lies outside the buffer");
	dir = (const struct tf_coldesc *)(buf + h->coldir_off);

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->cols = calloc(h->ncols + 1, sizeof(*t->cols))) == NULL ||
	    (t->pending = calloc(h->ncols + 1, 1)) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "table: out of memory");
		goto out;
	}
	t->buf = buf;
	t->nrows = h->nrows;
	t->ncols = h->ncols;
	for (i = 0; i < t->ncols; i++)
		if ((r = open_column(buf, len, t->nrows, i, &dir[i],
		    &t->cols[i], lazy, err)) != 0)
			goto out;
		else if (lazy && (t->cols[i].type == VEIL_T_FLOAT ||
		    t->cols[i].type == VEIL_T_CATEGORY))
			t->pending[i] = 1;
	for (i = 0; i < t->ncols; i++)
		for (j = i + 1; j < t->ncols; j++)
			if (strcmp(t->cols[i].name, t->cols[j].name) == 0) {
				r = CORRUPT("table: columns %u and %u are both "
				    "called \"%s\"", i, j, t->cols[i].name);
				goto out;
			}
	*tp = t;
	t = NULL;
	r = 0;
 out:
	table_free(t);
	return r;
}

int
table_open(const void *buf, size_t len, struct table **tp,
    struct veil_err *err)
{
	return open_table(buf, len, 0, tp, err);
}

int
table_open_lazy(const void *buf, size_t len, struct table **tp,
    struct veil_err *err)
{
	return open_table(buf, len, 1, tp, err);
}

int
table_values_pending(const struct table *t, unsigned int col)
{
	return col < t->ncols && t->pending[col];
}

int
table_check_values(const struct table *t, unsigned int col,
    struct veil_err *err)
{
	int r;

	if (!table_values_pending(t, col))
		return 0;
	if ((r = check_values(col, &t->cols[col], t->nrows, 0, err)) != 0)
		return r;
	t->pending[col] = 0;
	return 0;
}

void
table_values_checked(const struct table *t, unsigned int col)
{
	if (col < t->ncols)
		t->pending[col] = 0;
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	free(t->pending);
	free(t->cols);
	free(t);
}

uint64_t
table_nrows(const struct table *t)
{
	return t->nrows;
}

unsigned int
table_ncols(const struct table *t)
{
	return t->ncols;
}

const struct table_colview *
table_column(const struct table *t, unsigned int col)
{
	return col < t->ncols ? &t->cols[col] : NULL;
}

int
table_find(const struct table *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
table_map_file(const char *path, struct table **tp, void **mapp,
    size_t *lenp, struct veil_err *err)
{
	struct stat st;
	void *map = MAP_FAILED;
	int fd, r;

	*tp = NULL;
	*mapp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return veil_seterr(err, VEIL_E_IO, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || st.st_size <= 0) {
		r = veil_seterr(err, VEIL_E_CORRUPT, "%s: empty or unreadable",
		    path);
		close(fd);
		return r;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return veil_seterr(err, VEIL_E_IO, "%s: mmap: %s", path,
		    strerror(errno));
	if ((r = table_open(map, (size_t)st.st_size, tp, err)) != 0) {
		munmap(map, (size_t)st.st_size);
		return r;
	}
	*mapp = map;
	*lenp = (size_t)st.st_size;
	return 0;
}

void
table_unmap(void *map, size_t len)
{
	if (map != NULL)
		munmap(map, len);
}

int
table_write_file(const char *path, const void *buf, size_t len,
    struct veil_err *err)
{
	char tmp[4096];
	const char *p = buf;
	ssize_t n;
	int fd, oerrno;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return veil_seterr(err, VEIL_E_INVALID, "%s: path too long",
		    path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return veil_seterr(err, VEIL_E_IO, "%s: %s", tmp,
		    strerror(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (rename(tmp, path) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
 fail:
	oerrno = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return veil_seterr(err, VEIL_E_IO, "%s: %s", path, strerror(oerrno));
}
