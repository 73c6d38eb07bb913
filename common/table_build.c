/*
 * table_build.c: builds a table column by column, then lays it out in one
 * contiguous 64-byte-aligned buffer (the format of table.h). Used by CSV
 * ingestion and, later, by the anonymizer to emit the desensitized table.
 *
 * Columns grow by doubling. Categories keep an open-addressing hash table
 * from value bytes to code, so repeated values cost one lookup.
 */
#include <sys/mman.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "table.h"
#include "table_format.h"

#define DICT_MAX	(1u << 24)	/* distinct values per category */
#define HEAP_MAX	(UINT64_C(1) << 40)

struct vec {
	unsigned char	*p;
	size_t		 len, cap;
};

struct bcol {
	char		*name;
	enum veil_type	 type;
	enum veil_role	 role;
	unsigned int	 flags;
	uint64_t	 nrows, nnull;
	struct vec	 data;		/* values (string: end offsets) */
	int		 wide;		/* string: offsets of 8 bytes, not 4 */
	struct vec	 nulls;		/* one bit per row */
	struct vec	 heap;		/* string or dictionary bytes */
	struct vec	 dict;		/* category: uint64 offsets */
	uint32_t	 dict_n;
	uint32_t	*ht;		/* code + 1, 0 = empty */
	uint64_t	*hv;		/* hash of each code, for rehashing */
	uint64_t	*hk;		/* its first 8 bytes, zero-padded */
	uint32_t	 ht_cap;	/* power of two */
};

/*
 * A builder appended to another (table_builder_append): its rows follow
 * the other's, and its category codes become the other's through remap.
 */
struct part {
	struct table_builder	*b;
	uint32_t		**remap;	/* per column; NULL: the same */
};

#define BROKEN_APPEND	1	/* a failed append */
#define BROKEN_RUN	2	/* a run's string ends past hmax or hcap */

struct table_builder {
	struct bcol	*cols;
	unsigned int	 ncols, cap;
	struct part	*parts;		/* in row order, after our own rows */
	size_t		 nparts, partcap;
	uint64_t	 prows;		/* rows in parts */
	int		 broken;	/* BROKEN_*: only free is left */
	int		 inrun;		/* between run and run_end */
};

/*
 * Small vectors live on the malloc heap. From BIG bytes on, a vector is its
 * own mapping, at least one huge page long and aligned to one, marked for
 * transparent huge pages before anything touches it, and grown with
 * mremap (no copy): a million-row column then costs a few page faults
 * instead of thousands. (Marked after the copy from the heap, its first
 * 2 MB stayed small pages: that was a tenth of the ingest's time.) BIG is
 * well below a huge page so that the many mid-sized vectors of a table
 * built in pieces (ingest.c) are not copied by realloc as they grow.
 */
#define BIG	(256u << 10)
#define HUGE	((size_t)2 << 20)	/* a transparent huge page */

/*
 * len bytes of fresh memory (len a multiple of HUGE) at an address that
 * is a multiple of HUGE, so that every page of it can be a huge one (a
 * huge page must be aligned; the rest of a mapping faults 4 KB at a time).
 */
static void *
map_aligned(size_t len)
{
	uintptr_t m, a;
	void *p;

	if (len > SIZE_MAX - HUGE || (p = mmap(NULL, len + HUGE,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) ==
	    MAP_FAILED)
		return NULL;
	m = (uintptr_t)p;
	a = (m + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
	if (a > m)
		(void)munmap(p, a - m);
	if (m + HUGE > a)
		(void)munmap((void *)(a + len), m + HUGE - a);
	return (void *)a;
}

static int
vec_grow(struct vec *v, size_t need)
{
	size_t cap = v->cap ? v->cap : 4096;
	unsigned char *np;
	void *m;

	while (cap - v->len < need) {
		if (cap > SIZE_MAX / 2)
			return VEIL_E_NOMEM;
		cap *= 2;
	}
	/*
	 * Past the heap, straight to a whole huge page: the sizes between
	 * would fault 4 KB at a time and stay small pages as it grows.
	 */
	if (cap >= BIG && cap < HUGE)
		cap = HUGE;
	if (cap < BIG) {
		if ((np = realloc(v->p, cap)) == NULL)
			return VEIL_E_NOMEM;
	} else if (v->cap >= BIG) {
		/*
		 * In place if the room after is free, else moved (page
		 * tables, not bytes) to another aligned place.
		 */
		if ((m = mremap(v->p, v->cap, cap, 0)) == MAP_FAILED) {
			if ((m = map_aligned(cap)) == NULL)
				return VEIL_E_NOMEM;
			if (mremap(v->p, v->cap, cap, MREMAP_MAYMOVE |
			    MREMAP_FIXED, m) == MAP_FAILED) {
				(void)munmap(m, cap);
				return VEIL_E_NOMEM;
			}
		}
		np = m;
		(void)madvise(np, cap, MADV_HUGEPAGE);
	} else {
		if ((np = map_aligned(cap)) == NULL)
			return VEIL_E_NOMEM;
		/* Before the copy: a page touched first stays a small one. */
		(void)madvise(np, cap, MADV_HUGEPAGE);
		if (v->len > 0)
			memcpy(np, v->p, v->len);
		free(v->p);
	}
	v->p = np;
	v->cap = cap;
	return 0;
}

/* The bytes of a key of n <= 8 bytes, zero-padded. */
static inline uint64_t
load_short(const unsigned char *p, size_t n)
{
	uint32_t x, y;

	if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		return x | (uint64_t)y << (8 * (n - 4));
	}
	if (n > 0)
		return p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) |
		    (uint64_t)p[n - 1] << (8 * (n - 1));
	return 0;
}

static inline int
vec_push(struct vec *v, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if (v->cap - v->len < n && (r = vec_grow(v, n)) != 0)
		return r;
	memcpy(v->p + v->len, p, n);
	v->len += n;
	return 0;
}

/* vec_push for bytes of any length, mostly short (string values). */
static inline int
vec_push_bytes(struct vec *v, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if (v->cap - v->len < n && (r = vec_grow(v, n)) != 0)
		return r;
	copy_bytes(v->p + v->len, p, n);
	v->len += n;
	return 0;
}

static void
vec_free(struct vec *v)
{
	if (v->cap >= BIG)
		munmap(v->p, v->cap);
	else
		free(v->p);
	v->p = NULL;
	v->len = v->cap = 0;
}

/*
 * A string column keeps its end offsets in 4 bytes while its heap is
 * under 4 GB, and the layout widens them to the table's 8: a seventh less
 * memory for ingest to fault in and write. A bigger heap switches the
 * column to 8 bytes, once, keeping room for as many offsets as before.
 * (narrow_max is lowered by tests only.)
 */
static uint64_t narrow_max = UINT32_MAX;

void
table_builder_test_narrow(uint64_t max)
{
	narrow_max = max < UINT32_MAX ? max : UINT32_MAX;
}

static int
widen(struct bcol *c)
{
	struct vec w = { NULL, 0, 0 };
	const uint32_t *s = (const uint32_t *)(void *)c->data.p;
	uint64_t *d;
	size_t n = c->data.len / 4, k;
	int r;

	if (c->data.cap > SIZE_MAX / 2)
		return VEIL_E_NOMEM;
	if ((r = vec_grow(&w, c->data.cap / 4 * 8)) != 0)
		return r;
	d = (uint64_t *)(void *)w.p;
	for (k = 0; k < n; k++)
		d[k] = s[k];
	w.len = n * 8;
	vec_free(&c->data);
	c->data = w;
	c->wide = 1;
	return 0;
}

/* Appends a string column's next end offset. */
static inline int
push_end(struct bcol *c, uint64_t end)
{
	uint32_t e;
	int r;

	if (!c->wide) {
		if (end <= narrow_max) {
			e = (uint32_t)end;
			return vec_push(&c->data, &e, 4);
		}
		if ((r = widen(c)) != 0)
			return r;
	}
	return vec_push(&c->data, &end, 8);
}

/*
 * A string column's end offsets from the from'th (0: the start of row 0)
 * to the last, plus base, as the table's 8 bytes at d. Returns d past
 * them.
 */
static unsigned char *
copy_ends(unsigned char *d, const struct bcol *c, uint64_t from,
    uint64_t base)
{
	const uint64_t *w = (const uint64_t *)(void *)c->data.p;
	const uint32_t *s = (const uint32_t *)(void *)c->data.p;
	uint64_t *dof = (uint64_t *)(void *)d, j;

	for (j = from; j <= c->nrows; j++)
		*dof++ = (c->wide ? w[j] : s[j]) + base;
	return (unsigned char *)dof;
}

/*
 * A small, fast, well-mixing hash for short byte strings. The codes do not
 * depend on it (they follow first appearance), only the lookups' speed.
 */
static inline uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	w = load_short((const unsigned char *)p, n);
	h = (h ^ w) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

struct table_builder *
table_builder_new(void)
{
	return calloc(1, sizeof(struct table_builder));
}

static void
part_free(struct part *pt, unsigned int ncols)
{
	unsigned int i;

	if (pt->remap != NULL)
		for (i = 0; i < ncols; i++)
			free(pt->remap[i]);
	free(pt->remap);
	table_builder_free(pt->b);
}

void
table_builder_free(struct table_builder *b)
{
	unsigned int i;
	struct bcol *c;
	size_t k;

	if (b == NULL)
		return;
	for (k = 0; k < b->nparts; k++)
		part_free(&b->parts[k], b->ncols);
	free(b->parts);
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		free(c->name);
		vec_free(&c->data);
		vec_free(&c->nulls);
		vec_free(&c->heap);
		vec_free(&c->dict);
		free(c->ht);
		free(c->hv);
		free(c->hk);
	}
	free(b->cols);
	free(b);
}

int
table_builder_add_column(struct table_builder *b, const char *name,
    enum veil_type type, enum veil_role role, unsigned int flags)
{
	struct bcol *c, *nc;
	size_t len = strlen(name);
	uint64_t zero = 0;
	unsigned int i;

	if (type < 1 || type > VEIL_T_LAST || (unsigned)role > VEIL_R_LAST ||
	    (flags & ~TABLE_F_MASK) != 0 || len == 0 || len > TABLE_MAX_NAME)
		return VEIL_E_INVALID;
	if (b->nparts > 0 || b->inrun)
		return VEIL_E_INVALID;
	for (i = 0; i < b->ncols; i++)
		if (strcmp(b->cols[i].name, name) == 0 || b->cols[i].nrows > 0)
			return VEIL_E_INVALID;
	if (b->ncols >= TABLE_MAX_COLS)
		return VEIL_E_LIMIT;
	if (b->ncols == b->cap) {
		unsigned int ncap = b->cap ? b->cap * 2 : 16;
		if ((nc = reallocarray(b->cols, ncap, sizeof(*nc))) == NULL)
			return VEIL_E_NOMEM;
		b->cols = nc;
		b->cap = ncap;
	}
	c = &b->cols[b->ncols];
	memset(c, 0, sizeof(*c));
	if ((c->name = strdup(name)) == NULL)
		return VEIL_E_NOMEM;
	c->type = type;
	c->role = role;
	c->flags = flags;
	if ((type == VEIL_T_STRING && vec_push(&c->data, &zero, 4) != 0) ||
	    (type == VEIL_T_CATEGORY && vec_push(&c->dict, &zero, 8) != 0)) {
		free(c->name);
		vec_free(&c->data);
		return VEIL_E_NOMEM;
	}
	return (int)b->ncols++;
}

uint64_t
table_builder_nrows(const struct table_builder *b)
{
	return b->ncols > 0 ? b->cols[0].nrows + b->prows : 0;
}

uint32_t
table_builder_dict_size(const struct table_builder *b, int col)
{
	if (col < 0 || (unsigned)col >= b->ncols)
		return 0;
	return b->cols[col].dict_n;
}

unsigned int
table_builder_ncols(const struct table_builder *b)
{
	return b->ncols;
}

/* Starts a new row in c: one more bit in the null bitmap. */
static inline int
row_begin(struct bcol *c, int isnull)
{
	unsigned char z = 0;
	int r;

	if (c->nrows >= TABLE_MAX_ROWS)
		return VEIL_E_LIMIT;
	if ((c->nrows & 7) == 0 && (r = vec_push(&c->nulls, &z, 1)) != 0)
		return r;
	if (isnull) {
		c->nulls.p[c->nrows >> 3] |= 1u << (c->nrows & 7);
		c->nnull++;
	}
	return 0;
}

static inline struct bcol *
col_of(struct table_builder *b, int col, enum veil_type t)
{
	struct bcol *c;

	if (col < 0 || (unsigned)col >= b->ncols || b->nparts > 0 ||
	    b->inrun)
		return NULL;
	c = &b->cols[col];
	return c->type == t ? c : NULL;
}

#define APPEND(b, col, t, v) do {					\
	struct bcol *c_;						\
	int r_;								\
	if ((c_ = col_of((b), (col), (t))) == NULL)			\
		return VEIL_E_INVALID;					\
	if ((r_ = row_begin(c_, 0)) != 0 ||				\
	    (r_ = vec_push(&c_->data, &(v), sizeof(v))) != 0)		\
		return r_;						\
	c_->nrows++;							\
	return 0;							\
} while (0)

int
table_builder_int(struct table_builder *b, int col, int64_t v)
{
	APPEND(b, col, VEIL_T_INT, v);
}

int
table_builder_float(struct table_builder *b, int col, double v)
{
	if (v != v || v - v != 0)	/* NaN or infinite */
		return VEIL_E_INVALID;
	APPEND(b, col, VEIL_T_FLOAT, v);
}

int
table_builder_bool(struct table_builder *b, int col, int v)
{
	uint8_t u = v != 0;

	APPEND(b, col, VEIL_T_BOOL, u);
}

int
table_builder_date(struct table_builder *b, int col, int32_t days)
{
	APPEND(b, col, VEIL_T_DATE, days);
}

int
table_builder_string(struct table_builder *b, int col, const char *p,
    size_t len)
{
	struct bcol *c;
	uint64_t end;
	int r;

	if ((c = col_of(b, col, VEIL_T_STRING)) == NULL)
		return VEIL_E_INVALID;
	if (len > HEAP_MAX - c->heap.len)
		return VEIL_E_LIMIT;
	end = c->heap.len + len;
	if ((r = row_begin(c, 0)) != 0 ||
	    (r = vec_push_bytes(&c->heap, p, len)) != 0 ||
	    (r = push_end(c, end)) != 0)
		return r;
	c->nrows++;
	return 0;
}

static int
rehash(struct bcol *c)
{
	uint32_t ncap = c->ht_cap ? c->ht_cap * 2 : 64, i, j, *nt;
	uint64_t *nh;

	if ((nt = calloc(ncap, sizeof(*nt))) == NULL)
		return VEIL_E_NOMEM;
	if ((nh = reallocarray(c->hv, ncap / 2, sizeof(*nh))) == NULL) {
		free(nt);
		return VEIL_E_NOMEM;
	}
	c->hv = nh;
	if ((nh = reallocarray(c->hk, ncap / 2, sizeof(*nh))) == NULL) {
		free(nt);
		return VEIL_E_NOMEM;
	}
	c->hk = nh;
	for (i = 0; i < c->dict_n; i++) {
		for (j = c->hv[i] & (ncap - 1); nt[j] != 0; j = (j + 1) &
		    (ncap - 1))
			;
		nt[j] = i + 1;
	}
	free(c->ht);
	c->ht = nt;
	c->ht_cap = ncap;
	return 0;
}

/*
 * Looks p (hash h) up in c's hash table: returns 1 with its code in
 * *codep, or 0 with *slotp at the empty slot where it would go. The table
 * must exist (ht_cap > 0).
 */
static inline int
dict_lookup(const struct bcol *c, const char *p, size_t len, uint64_t h,
    uint32_t *codep, uint32_t *slotp)
{
	const uint64_t *off = (const uint64_t *)c->dict.p;
	uint64_t k;
	uint32_t j, code;

	/*
	 * Category values are mostly short codes: their first eight bytes,
	 * kept per code, decide equality with no memcmp call.
	 */
	k = load_short((const unsigned char *)p, len < 8 ? len : 8);
	for (j = h & (c->ht_cap - 1); c->ht[j] != 0;
	    j = (j + 1) & (c->ht_cap - 1)) {
		code = c->ht[j] - 1;
		if (c->hv[code] == h && c->hk[code] == k &&
		    off[code + 1] - off[code] == len && (len <= 8 ||
		    memcmp(c->heap.p + off[code] + 8, p + 8, len - 8) == 0)) {
			*codep = code;
			return 1;
		}
	}
	*slotp = j;
	return 0;
}

/* Finds or adds p in c's dictionary; stores its code in *codep. */
static int
dict_intern(struct bcol *c, const char *p, size_t len, uint32_t *codep)
{
	uint64_t h = hash_bytes(p, len), end, k;
	uint32_t j, code;
	int r;

	if (c->dict_n >= c->ht_cap / 2 && (r = rehash(c)) != 0)
		return r;
	if (dict_lookup(c, p, len, h, codep, &j))
		return 0;
	k = load_short((const unsigned char *)p, len < 8 ? len : 8);
	if (c->dict_n >= DICT_MAX || len > HEAP_MAX - c->heap.len)
		return VEIL_E_LIMIT;
	end = c->heap.len + len;
	if ((r = vec_push(&c->heap, p, len)) != 0 ||
	    (r = vec_push(&c->dict, &end, 8)) != 0)
		return r;
	code = c->dict_n++;
	c->hv[code] = h;
	c->hk[code] = k;
	c->ht[j] = code + 1;
	*codep = code;
	return 0;
}

int
table_builder_dict_add(struct table_builder *b, int col, const char *p,
    size_t len)
{
	struct bcol *c;
	uint32_t code;

	if ((c = col_of(b, col, VEIL_T_CATEGORY)) == NULL)
		return VEIL_E_INVALID;
	return dict_intern(c, p, len, &code);
}

int
table_builder_category(struct table_builder *b, int col, const char *p,
    size_t len)
{
	struct bcol *c;
	uint32_t code;
	int r;

	if ((c = col_of(b, col, VEIL_T_CATEGORY)) == NULL)
		return VEIL_E_INVALID;
	if ((r = dict_intern(c, p, len, &code)) != 0 ||
	    (r = row_begin(c, 0)) != 0 ||
	    (r = vec_push(&c->data, &code, 4)) != 0)
		return r;
	c->nrows++;
	return 0;
}

int64_t
table_builder_dict_find(const struct table_builder *b, int col,
    const char *p, size_t len)
{
	const struct bcol *c;
	uint32_t code, j;

	if (col < 0 || (unsigned)col >= b->ncols || b->nparts > 0)
		return -1;
	c = &b->cols[col];
	if (c->type != VEIL_T_CATEGORY || c->ht_cap == 0 ||
	    !dict_lookup(c, p, len, hash_bytes(p, len), &code, &j))
		return -1;
	return code;
}

/* A null in column c: its bitmap bit, and an empty slot (a string's
 * offset stays where it was). */
static int
push_null(struct bcol *c)
{
	uint64_t zero = 0, end;
	int r;

	if ((r = row_begin(c, 1)) != 0)
		return r;
	if (c->type == VEIL_T_STRING) {
		end = c->heap.len;
		r = push_end(c, end);
	} else
		r = vec_push(&c->data, &zero,
		    (size_t)tf_data_len(c->type, 1));
	if (r != 0)
		return r;
	c->nrows++;
	return 0;
}

/*
 * Runs (table.h): the caller writes rows into the room make_room made and
 * run_end takes them, so a row costs no call, no value struct and no test
 * but its own. A third of ingest's time went to appending rows before.
 */
/* One value's bytes in column c's data. */
static inline size_t
slot(const struct bcol *c)
{
	if (c->type == VEIL_T_STRING)
		return c->wide ? 8 : 4;
	return (size_t)tf_data_len(c->type, 1);
}

#define ROOM_MIN	64	/* rows make_room makes room for */
#define RUN_MAX		4096	/* rows a run offers */

/*
 * Makes room for ROOM_MIN more rows in every column, if they all have as
 * many rows, and sets *roomp to how many rows they all take before one of
 * their values or null bitmaps must grow; else sets it to 0.
 */
static int
make_room(struct table_builder *b, uint64_t *roomp)
{
	struct bcol *c;
	uint64_t room = TABLE_MAX_ROWS - b->cols[0].nrows, n;
	unsigned int i;
	size_t w;
	int r;

	*roomp = 0;
	if (b->cols[0].nrows >= TABLE_MAX_ROWS)
		return 0;
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		if (c->nrows != b->cols[0].nrows)
			return 0;
		w = slot(c);
		if ((c->data.cap - c->data.len < ROOM_MIN * w &&
		    (r = vec_grow(&c->data, ROOM_MIN * w)) != 0) ||
		    (c->nulls.cap - c->nulls.len < ROOM_MIN / 8 &&
		    (r = vec_grow(&c->nulls, ROOM_MIN / 8)) != 0))
			return r;
		if ((n = (c->data.cap - c->data.len) / w) < room)
			room = n;
		/* A row in eight pushes a bitmap byte. */
		if ((n = 8 * (uint64_t)(c->nulls.cap - c->nulls.len)) < room)
			room = n;
	}
	*roomp = room;
	return 0;
}

int
table_builder_run(struct table_builder *b, struct table_slot *s,
    uint64_t *row0p, uint64_t *roomp)
{
	struct bcol *c;
	uint64_t row0, room, zend;
	unsigned int i;
	int r;

	*roomp = 0;
	*row0p = 0;
	if (b->nparts > 0 || b->inrun || b->broken || b->ncols == 0)
		return 0;
	if ((r = make_room(b, &room)) != 0 || room == 0)
		return r;
	if (room > RUN_MAX)
		room = RUN_MAX;
	row0 = b->cols[0].nrows;
	/* The bitmap bytes of the run's rows, the partial first one kept. */
	zend = (row0 + room + 7) / 8;
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		memset(c->nulls.p + c->nulls.len, 0, zend - c->nulls.len);
		s[i].data = c->data.p + c->data.len;
		s[i].nulls = c->nulls.p;
		s[i].heap = c->heap.p;
		s[i].hcap = c->heap.cap;
		s[i].hmax = c->wide ? HEAP_MAX : narrow_max;
		s[i].nnull = 0;
		s[i].wide = (unsigned int)c->wide;
	}
	b->inrun = 1;
	*row0p = row0;
	*roomp = room;
	return 0;
}

int
table_builder_run_heap(struct table_builder *b, struct table_slot *s,
    int col, uint64_t used, uint64_t need)
{
	struct bcol *c;
	int r;

	if (!b->inrun || col < 0 || (unsigned)col >= b->ncols ||
	    b->cols[col].type != VEIL_T_STRING || used > s[col].hcap ||
	    need < used || need > HEAP_MAX)
		return VEIL_E_INVALID;
	c = &b->cols[col];
	c->heap.len = used;	/* what a move must keep */
	if ((r = vec_grow(&c->heap, need - used)) != 0)
		return r;
	s[col].heap = c->heap.p;
	s[col].hcap = c->heap.cap;
	return 0;
}

void
table_builder_run_end(struct table_builder *b, struct table_slot *s,
    uint64_t n)
{
	struct bcol *c;
	unsigned int i;
	uint64_t end;

	if (!b->inrun)
		return;
	b->inrun = 0;
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		c->data.len += n * slot(c);
		c->nrows += n;
		c->nnull += s[i].nnull;
		c->nulls.len = (size_t)((c->nrows + 7) / 8);
		if (c->type != VEIL_T_STRING)
			continue;
		/* The last end: the heap's length. */
		end = table_slot_end(&s[i], (int64_t)n - 1);
		/* Past hmax or hcap: the caller broke the contract. */
		if (end > s[i].hmax || end > c->heap.cap)
			b->broken = BROKEN_RUN;
		else
			c->heap.len = (size_t)end;
	}
}

int64_t
table_builder_dict_code(struct table_builder *b, int col, const char *p,
    size_t len)
{
	struct bcol *c;
	uint32_t code;
	int r;

	if (col < 0 || (unsigned)col >= b->ncols || b->nparts > 0 ||
	    (c = &b->cols[col])->type != VEIL_T_CATEGORY)
		return VEIL_E_INVALID;
	if ((r = dict_intern(c, p, len, &code)) != 0)
		return r;
	return code;
}

int
table_builder_null(struct table_builder *b, int col)
{
	if (col < 0 || (unsigned)col >= b->ncols || b->nparts > 0 ||
	    b->inrun)
		return VEIL_E_INVALID;
	return push_null(&b->cols[col]);
}

int
table_builder_append(struct table_builder *b, struct table_builder *src)
{
	struct part pt;
	struct bcol *c, *sc;
	const uint64_t *off;
	uint64_t rows, heap;
	uint32_t k, code, *m;
	unsigned int i;
	size_t ncap, pk;
	int r, same;

	if (b == src || b->broken || src->broken || b->inrun || src->inrun ||
	    src->nparts > 0 || src->ncols != b->ncols)
		return VEIL_E_INVALID;
	rows = table_builder_nrows(src);
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		sc = &src->cols[i];
		if (c->type != sc->type || c->flags != sc->flags ||
		    c->role != sc->role || strcmp(c->name, sc->name) != 0 ||
		    sc->nrows != rows || c->nrows != b->cols[0].nrows)
			return VEIL_E_INVALID;
	}
	if (rows > TABLE_MAX_ROWS - table_builder_nrows(b))
		return VEIL_E_LIMIT;
	/* String heaps join at finish: their sum stays within HEAP_MAX. */
	for (i = 0; i < b->ncols; i++) {
		if (b->cols[i].type != VEIL_T_STRING)
			continue;
		heap = b->cols[i].heap.len + src->cols[i].heap.len;
		for (pk = 0; pk < b->nparts; pk++)
			heap += b->parts[pk].b->cols[i].heap.len;
		if (heap > HEAP_MAX)
			return VEIL_E_LIMIT;
	}
	if (b->nparts == b->partcap) {
		struct part *np;

		ncap = b->partcap ? b->partcap * 2 : 16;
		if ((np = reallocarray(b->parts, ncap, sizeof(*np))) == NULL)
			return VEIL_E_NOMEM;
		b->parts = np;
		b->partcap = ncap;
	}
	memset(&pt, 0, sizeof(pt));
	if (b->ncols > 0 && (pt.remap = calloc(b->ncols,
	    sizeof(*pt.remap))) == NULL)
		return VEIL_E_NOMEM;
	/*
	 * src's values join our dictionaries in src's code order, that is in
	 * the order of their first appearance in src: appending parts in row
	 * order gives the codes one builder fed every row would have given.
	 */
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		sc = &src->cols[i];
		if (c->type != VEIL_T_CATEGORY || sc->dict_n == 0)
			continue;
		if ((m = reallocarray(NULL, sc->dict_n, sizeof(*m))) == NULL) {
			r = VEIL_E_NOMEM;
			goto fail;
		}
		pt.remap[i] = m;
		off = (const uint64_t *)sc->dict.p;
		for (k = 0, same = 1; k < sc->dict_n; k++) {
			if ((r = dict_intern(c, off[k + 1] > off[k] ?
			    (const char *)sc->heap.p + off[k] : "",
			    off[k + 1] - off[k], &code)) != 0)
				goto fail;
			m[k] = code;
			same &= code == k;
		}
		if (same) {
			free(m);
			pt.remap[i] = NULL;
		}
	}
	pt.b = src;
	b->parts[b->nparts++] = pt;
	b->prows += rows;
	return 0;
 fail:
	/* Our dictionaries may have grown: nothing is left to use. */
	b->broken = BROKEN_APPEND;
	for (i = 0; i < b->ncols; i++)
		free(pt.remap[i]);
	free(pt.remap);
	return r;
}

/* What column i takes in the layout, appended parts included. */
struct collen {
	uint64_t	data, nulls, heap, nnull;
};

static void
col_lens(const struct table_builder *b, unsigned int i, uint64_t nrows,
    struct collen *l)
{
	const struct bcol *c = &b->cols[i], *pc;
	size_t k;

	l->data = tf_data_len(c->type, c->nrows);
	l->nulls = c->nulls.len;
	l->heap = c->heap.len;
	l->nnull = c->nnull;
	if (b->nparts == 0)
		return;
	l->data = tf_data_len(c->type, nrows);
	l->nulls = (nrows + 7) / 8;
	for (k = 0; k < b->nparts; k++) {
		pc = &b->parts[k].b->cols[i];
		l->nnull += pc->nnull;
		if (c->type == VEIL_T_STRING)
			l->heap += pc->heap.len;
	}
}

/* Zero-pads out from *pos + n up to the next boundary; moves *pos there. */
static void
pad(unsigned char *out, uint64_t *pos, uint64_t n)
{
	uint64_t end = tf_align(*pos + n);

	memset(out + *pos + n, 0, end - *pos - n);
	*pos = end;
}

/* Copies n bytes to out + *pos and zero-pads up to the next boundary. */
static void
place(unsigned char *out, uint64_t *pos, const void *p, uint64_t n)
{
	if (n > 0)
		memcpy(out + *pos, p, n);
	pad(out, pos, n);
}

/*
 * Column i's values, then those of each part: string offsets move by the
 * heap bytes before the part's, and category codes go through the part's
 * remap.
 */
static void
copy_data(unsigned char *d, const struct table_builder *b, unsigned int i)
{
	const struct bcol *c = &b->cols[i], *pc;
	const struct part *pt;
	const uint32_t *sv, *m;
	uint64_t base = c->heap.len, n, j;
	uint32_t *dv;
	size_t k;

	if (c->type == VEIL_T_STRING)
		d = copy_ends(d, c, 0, 0);
	else {
		if (c->data.len > 0)
			memcpy(d, c->data.p, c->data.len);
		d += c->data.len;
	}
	for (k = 0; k < b->nparts; k++) {
		pt = &b->parts[k];
		pc = &pt->b->cols[i];
		n = pc->nrows;
		if (c->type == VEIL_T_STRING) {
			d = copy_ends(d, pc, 1, base);
			base += pc->heap.len;
		} else if (c->type == VEIL_T_CATEGORY &&
		    (m = pt->remap[i]) != NULL) {
			sv = (const uint32_t *)pc->data.p;
			dv = (uint32_t *)(void *)d;
			for (j = 0; j < n; j++)
				dv[j] = m[sv[j]];
			/* A null's code is 0, as table_builder_null wrote. */
			for (j = 0; pc->nnull > 0 && j < n; j++)
				if (pc->nulls.p[j >> 3] >> (j & 7) & 1)
					dv[j] = 0;
			d += 4 * n;
		} else if (pc->data.len > 0) {
			memcpy(d, pc->data.p, pc->data.len);
			d += pc->data.len;
		}
	}
}

/* Column i's null bits, then each part's, bit after bit; len bytes. */
static void
copy_nulls(unsigned char *d, const struct table_builder *b, unsigned int i,
    uint64_t len)
{
	const struct bcol *c = &b->cols[i], *pc;
	const unsigned char *s;
	uint64_t bit = c->nrows, j, at;
	unsigned int sh;
	size_t k;

	memset(d, 0, len);
	if (c->nulls.len > 0)
		memcpy(d, c->nulls.p, c->nulls.len);
	for (k = 0; k < b->nparts; k++) {
		pc = &b->parts[k].b->cols[i];
		s = pc->nulls.p;
		at = bit >> 3;
		sh = bit & 7;
		if (pc->nnull > 0 && sh == 0)
			memcpy(d + at, s, pc->nulls.len);
		else if (pc->nnull > 0) {
			/* A part's bits past its last row are clear. */
			for (j = 0; j < pc->nulls.len; j++) {
				d[at + j] |= (unsigned char)(s[j] << sh);
				if (at + j + 1 < len)
					d[at + j + 1] |= s[j] >> (8 - sh);
			}
		}
		bit += pc->nrows;
	}
}

/* Column i's string bytes, then each part's. */
static void
copy_heap(unsigned char *d, const struct table_builder *b, unsigned int i)
{
	const struct bcol *c = &b->cols[i], *pc;
	size_t k;

	if (c->heap.len > 0)
		memcpy(d, c->heap.p, c->heap.len);
	d += c->heap.len;
	for (k = 0; k < b->nparts && c->type == VEIL_T_STRING; k++) {
		pc = &b->parts[k].b->cols[i];
		if (pc->heap.len > 0)
			memcpy(d, pc->heap.p, pc->heap.len);
		d += pc->heap.len;
	}
}

/*
 * The copies of a layout: one column's values, null bits or heap, each
 * followed by its zero padding. A table built from appended parts is laid
 * out by as many threads as it has parts (those were made side by side,
 * so threads are allowed here), up to COPY_THREADS, largest copy first;
 * any other by the caller alone.
 */
#define COPY_THREADS	16

enum { COPY_DATA, COPY_NULLS, COPY_HEAP };

struct copytask {
	unsigned char	*at;
	uint64_t	 n, padded;
	unsigned int	 col;
	int		 kind;
};

struct copyjob {
	const struct table_builder *b;
	struct copytask	*t;
	size_t		 n;
	atomic_size_t	 next;
};

static void *
copy_worker(void *arg)
{
	struct copyjob *j = arg;
	struct copytask *t;
	size_t k;

	while ((k = atomic_fetch_add(&j->next, 1)) < j->n) {
		t = &j->t[k];
		if (t->kind == COPY_DATA)
			copy_data(t->at, j->b, t->col);
		else if (t->kind == COPY_NULLS)
			copy_nulls(t->at, j->b, t->col, t->n);
		else
			copy_heap(t->at, j->b, t->col);
		memset(t->at + t->n, 0, t->padded - t->n);
	}
	return NULL;
}

static int
bigger_first(const void *a, const void *b)
{
	const struct copytask *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

/* Adds the copy of n bytes at out + *pos, padded; moves *pos past it. */
static void
add_task(struct copyjob *j, unsigned char *out, uint64_t *pos, uint64_t n,
    unsigned int col, int kind)
{
	struct copytask *t = &j->t[j->n++];

	t->at = out + *pos;
	t->n = n;
	t->padded = tf_align(*pos + n) - *pos;
	t->col = col;
	t->kind = kind;
	*pos += t->padded;
}

static void
run_copies(struct copyjob *j)
{
	pthread_t tid[COPY_THREADS];
	size_t n = j->b->nparts, i, started = 0;

	if (n > COPY_THREADS)
		n = COPY_THREADS;
	if (n > 1)
		qsort(j->t, j->n, sizeof(*j->t), bigger_first);
	atomic_store(&j->next, 0);
	for (i = 1; i < n; i++) {
		if (pthread_create(&tid[started], NULL, copy_worker, j) != 0)
			break;	/* fewer threads do the same copies */
		started++;
	}
	copy_worker(j);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

int
table_builder_finish(struct table_builder *b, void **bufp, size_t *lenp,
    struct veil_err *err)
{
	struct tf_header h;
	struct tf_coldesc *d;
	struct collen l;
	struct copyjob j;
	struct bcol *c;
	unsigned char *out = NULL;
	uint64_t nrows = table_builder_nrows(b), size, pos;
	unsigned int i;
	size_t k;
	void *mem;

	*bufp = NULL;
	*lenp = 0;
	memset(&j, 0, sizeof(j));
	j.b = b;
	if (b->ncols > 0 && (j.t = calloc(3 * (size_t)b->ncols,
	    sizeof(*j.t))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	if (b->broken) {
		free(j.t);
		return veil_seterr(err, VEIL_E_INVALID, "table: %s",
		    b->broken == BROKEN_RUN ? "a run wrote a string past its "
		    "column's room" : "the builder failed to take an "
		    "appended part");
	}
	if (b->inrun) {
		free(j.t);
		return veil_seterr(err, VEIL_E_INVALID, "table: a run of "
		    "rows was not ended");
	}
	size = tf_align(sizeof(h)) + tf_align((uint64_t)b->ncols * sizeof(*d));
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		if (c->nrows + b->prows != nrows) {
			free(j.t);
			return veil_seterr(err, VEIL_E_INTERNAL, "table: column "
			    "%u (%s) has %llu rows, column 0 has %llu", i,
			    c->name, (unsigned long long)(c->nrows + b->prows),
			    (unsigned long long)nrows);
		}
		for (k = 0; k < b->nparts; k++)
			if (b->parts[k].b->cols[i].nrows !=
			    b->parts[k].b->cols[0].nrows) {
				free(j.t);
				return veil_seterr(err, VEIL_E_INTERNAL, "table: "
				    "column %u (%s) of part %zu is not complete",
				    i, c->name, k);
			}
		col_lens(b, i, nrows, &l);
		size += tf_align(strlen(c->name) + 1) + tf_align(l.data) +
		    (l.nnull ? tf_align(l.nulls) : 0) + tf_align(l.heap) +
		    tf_align(c->dict.len);
	}
	if (size > SIZE_MAX || posix_memalign(&mem, TABLE_ALIGN, size) != 0) {
		free(j.t);
		return veil_seterr(err, VEIL_E_NOMEM, "table: cannot allocate "
		    "%llu bytes", (unsigned long long)size);
	}
	out = mem;
	/*
	 * A large table is written front to back once: with huge pages that
	 * is a few hundred page faults rather than one per 4 KiB. (A large
	 * block from malloc is a mapping of its own; the hint covers its
	 * whole pages only.)
	 */
	if (size >= BIG) {
		uintptr_t a = ((uintptr_t)out + 4095) & ~(uintptr_t)4095;

		(void)madvise((void *)a, ((uintptr_t)out + size - a) &
		    ~(uintptr_t)4095, MADV_HUGEPAGE);
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, TABLE_MAGIC, sizeof(h.magic));
	h.version = TABLE_VERSION;
	h.ncols = b->ncols;
	h.nrows = nrows;
	h.size = size;
	h.coldir_off = tf_align(sizeof(h));
	memcpy(out, &h, sizeof(h));
	pos = h.coldir_off;
	memset(out + pos, 0, tf_align((uint64_t)b->ncols * sizeof(*d)));
	pos += tf_align((uint64_t)b->ncols * sizeof(*d));
	for (i = 0; i < b->ncols; i++) {
		c = &b->cols[i];
		d = (struct tf_coldesc *)(out + h.coldir_off) + i;
		d->type = (uint8_t)c->type;
		d->role = (uint8_t)c->role;
		d->flags = (uint16_t)c->flags;
		d->name_len = (uint32_t)strlen(c->name);
		d->name_off = pos;
		place(out, &pos, c->name, d->name_len + 1);
		col_lens(b, i, nrows, &l);
		d->data_off = pos;
		add_task(&j, out, &pos, l.data, i, COPY_DATA);
		if (l.nnull > 0) {
			d->nulls_off = pos;
			add_task(&j, out, &pos, l.nulls, i, COPY_NULLS);
		}
		if (c->type == VEIL_T_STRING || c->type == VEIL_T_CATEGORY) {
			d->heap_off = l.heap ? pos : 0;
			d->heap_len = l.heap;
			add_task(&j, out, &pos, l.heap, i, COPY_HEAP);
		}
		if (c->type == VEIL_T_CATEGORY) {
			d->dict_off = pos;
			d->dict_n = c->dict_n;
			place(out, &pos, c->dict.p, c->dict.len);
		}
	}
	if (pos != size) {
		free(out);
		free(j.t);
		return veil_seterr(err, VEIL_E_INTERNAL, "table: layout %llu "
		    "!= %llu", (unsigned long long)pos,
		    (unsigned long long)size);
	}
	run_copies(&j);
	free(j.t);
	*bufp = out;
	*lenp = (size_t)size;
	return 0;
}
