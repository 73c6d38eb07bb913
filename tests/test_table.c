/*
 * test_table.c: the table format: build -> serialize -> validate round
 * trips, file mapping, and corrupted buffers rejected (truncation, bad
 * offsets, out-of-range codes, non-monotonic strings, bad bools/floats).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"
#include "table_format.h"

struct fixture {
	void	*buf;
	size_t	 len;
};

/* A table with one column of each type, nulls in some, 100 rows. */
static int
build(void **state)
{
	struct table_builder *b = table_builder_new();
	struct fixture *f = calloc(1, sizeof(*f));
	char s[32];
	int i;

	assert_non_null(b);
	assert_non_null(f);
	assert_int_equal(table_builder_add_column(b, "id", VEIL_T_STRING,
	    VEIL_R_IDENTIFIER, TABLE_F_UNIT), 0);
	assert_int_equal(table_builder_add_column(b, "age", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 1);
	assert_int_equal(table_builder_add_column(b, "cost", VEIL_T_FLOAT,
	    VEIL_R_INSENSITIVE, 0), 2);
	assert_int_equal(table_builder_add_column(b, "flag", VEIL_T_BOOL,
	    VEIL_R_SENSITIVE, 0), 3);
	assert_int_equal(table_builder_add_column(b, "diag", VEIL_T_CATEGORY,
	    VEIL_R_SENSITIVE, 0), 4);
	assert_int_equal(table_builder_add_column(b, "day", VEIL_T_DATE,
	    VEIL_R_QUASI, 0), 5);
	assert_int_equal(table_builder_dict_add(b, 4, "J45", 3), 0);
	assert_int_equal(table_builder_dict_add(b, 4, "E11", 3), 0);
	for (i = 0; i < 100; i++) {
		snprintf(s, sizeof(s), "P%04d", i);
		assert_int_equal(table_builder_string(b, 0, s, strlen(s)), 0);
		if (i % 10 == 3)
			assert_int_equal(table_builder_null(b, 1), 0);
		else
			assert_int_equal(table_builder_int(b, 1, i - 50), 0);
		assert_int_equal(table_builder_float(b, 2, i * 1.25), 0);
		assert_int_equal(table_builder_bool(b, 3, i & 1), 0);
		if (i % 7 == 0)
			assert_int_equal(table_builder_null(b, 4), 0);
		else
			assert_int_equal(table_builder_category(b, 4,
			    i % 3 ? "I10" : "E11", 3), 0);
		assert_int_equal(table_builder_date(b, 5, 19000 + i), 0);
	}
	assert_int_equal(table_builder_nrows(b), 100);
	assert_int_equal(table_builder_finish(b, &f->buf, &f->len, NULL), 0);
	table_builder_free(b);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->buf);
	free(f);
	return 0;
}

static void
test_roundtrip(void **state)
{
	struct fixture *f = *state;
	const struct table_colview *c;
	struct table *t = NULL;
	struct veil_err err;
	const char *p;
	size_t len;

	assert_int_equal(table_open(f->buf, f->len, &t, &err), 0);
	assert_int_equal(table_nrows(t), 100);
	assert_int_equal(table_ncols(t), 6);
	assert_int_equal(table_find(t, "diag"), 4);
	assert_int_equal(table_find(t, "nope"), -1);

	c = table_column(t, 0);
	assert_string_equal(c->name, "id");
	assert_int_equal(c->flags, TABLE_F_UNIT);
	assert_null(c->nulls);
	p = table_str(c, 42, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "P0042", 5);

	c = table_column(t, 1);
	assert_true(table_isnull(c, 3));
	assert_false(table_isnull(c, 4));
	assert_int_equal(((const int64_t *)c->data)[4], -46);

	c = table_column(t, 2);
	assert_true(((const double *)c->data)[99] == 99 * 1.25);
	c = table_column(t, 3);
	assert_int_equal(((const uint8_t *)c->data)[7], 1);

	c = table_column(t, 4);
	assert_int_equal(c->dict_n, 3);	/* J45, E11 declared; I10 seen */
	assert_true(table_isnull(c, 0));
	p = table_dict(c, ((const uint32_t *)c->data)[1], &len);
	assert_memory_equal(p, "I10", 3);
	p = table_dict(c, ((const uint32_t *)c->data)[3], &len);
	assert_memory_equal(p, "E11", 3);
	assert_int_equal(((const uint32_t *)c->data)[3], 1);

	c = table_column(t, 5);
	assert_int_equal(((const int32_t *)c->data)[10], 19010);
	assert_int_equal((uintptr_t)c->data % TABLE_ALIGN, 0);
	table_free(t);
}

static void
test_file_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct table *t = NULL;
	struct veil_err err;
	char path[] = "/tmp/veil-test-table-XXXXXX";
	void *map;
	size_t len;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(table_write_file(path, f->buf, f->len, &err), 0);
	assert_int_equal(table_map_file(path, &t, &map, &len, &err), 0);
	assert_int_equal(len, f->len);
	assert_int_equal(table_nrows(t), 100);
	assert_memory_equal(map, f->buf, f->len);
	table_free(t);
	table_unmap(map, len);
	unlink(path);
	assert_int_not_equal(table_map_file(path, &t, &map, &len, &err), 0);
	assert_null(t);
}

/*
 * Columns that grow through every size a vector takes: the malloc heap,
 * a huge-page mapping, then mappings grown in place or moved while other
 * columns' mappings are made between them. Every value must survive.
 */
static void
test_big_columns(void **state)
{
	struct table_builder *b = table_builder_new();
	const struct table_colview *c0, *c1, *c2;
	struct table *t = NULL;
	struct veil_err err;
	const uint64_t n = 700000;	/* 5.6 MB of int64 per column */
	const char *p;
	char s[32];
	void *buf;
	size_t len, sl;
	uint64_t i;

	(void)state;
	assert_non_null(b);
	assert_int_equal(table_builder_add_column(b, "a", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_add_column(b, "s", VEIL_T_STRING,
	    VEIL_R_QUASI, 0), 1);
	assert_int_equal(table_builder_add_column(b, "d", VEIL_T_DATE,
	    VEIL_R_QUASI, 0), 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(table_builder_int(b, 0, (int64_t)(i * 7)), 0);
		sl = (size_t)snprintf(s, sizeof(s), "v%llu",
		    (unsigned long long)(i * 13));
		if (i % 1000 == 999)
			assert_int_equal(table_builder_null(b, 1), 0);
		else
			assert_int_equal(table_builder_string(b, 1, s, sl), 0);
		assert_int_equal(table_builder_date(b, 2, (int32_t)i), 0);
	}
	assert_int_equal(table_builder_finish(b, &buf, &len, &err), 0);
	table_builder_free(b);
	assert_int_equal(table_open(buf, len, &t, &err), 0);
	assert_int_equal(table_nrows(t), n);
	c0 = table_column(t, 0);
	c1 = table_column(t, 1);
	c2 = table_column(t, 2);
	for (i = 0; i < n; i++) {
		if (((const int64_t *)c0->data)[i] != (int64_t)(i * 7) ||
		    ((const int32_t *)c2->data)[i] != (int32_t)i)
			fail_msg("row %llu: wrong number", (unsigned long long)i);
		if (i % 1000 == 999) {
			assert_true(table_isnull(c1, i));
			continue;
		}
		sl = (size_t)snprintf(s, sizeof(s), "v%llu",
		    (unsigned long long)(i * 13));
		p = table_str(c1, i, &len);
		if (len != sl || memcmp(p, s, sl) != 0)
			fail_msg("row %llu: wrong string", (unsigned long long)i);
	}
	table_free(t);
	free(buf);
}

/*
 * A builder of rows [from, to) of a string column (every 97th null) and
 * an int column.
 */
static struct table_builder *
wide_part(uint64_t from, uint64_t to)
{
	struct table_builder *b = table_builder_new();
	char s[32];
	uint64_t i;
	int n;

	assert_non_null(b);
	assert_int_equal(table_builder_add_column(b, "s", VEIL_T_STRING,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_add_column(b, "i", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 1);
	for (i = from; i < to; i++) {
		n = snprintf(s, sizeof(s), "s%llu", (unsigned long long)(i * 31));
		if (i % 97 == 0)
			assert_int_equal(table_builder_null(b, 0), 0);
		else
			assert_int_equal(table_builder_string(b, 0, s,
			    (size_t)n), 0);
		assert_int_equal(table_builder_int(b, 1, (int64_t)i), 0);
	}
	return b;
}

/*
 * String offsets switch from 4 to 8 bytes when a heap outgrows the narrow
 * limit (lowered here to 50 KB): a table built alone or from parts, some
 * switched and some not, is the same, byte for byte, as one built narrow.
 */
static void
test_wide_offsets(void **state)
{
	static const uint64_t cut[] = { 0, 4000, 14000, 20000 };
	struct table_builder *b, *pb;
	struct table *t = NULL;
	struct veil_err err;
	void *want, *got;
	size_t wlen, glen, k;

	(void)state;
	b = wide_part(0, 20000);
	assert_int_equal(table_builder_finish(b, &want, &wlen, &err), 0);
	table_builder_free(b);
	assert_int_equal(table_open(want, wlen, &t, &err), 0);
	table_free(t);

	table_builder_test_narrow(50000);
	b = wide_part(0, 20000);
	assert_int_equal(table_builder_finish(b, &got, &glen, &err), 0);
	table_builder_free(b);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);

	b = wide_part(cut[0], cut[1]);
	for (k = 1; k + 1 < sizeof(cut) / sizeof(cut[0]); k++) {
		pb = wide_part(cut[k], cut[k + 1]);
		assert_int_equal(table_builder_append(b, pb), 0);
	}
	assert_int_equal(table_builder_finish(b, &got, &glen, &err), 0);
	table_builder_free(b);
	table_builder_test_narrow(UINT64_MAX);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);
	free(want);
}

/* Columns of every type, some twice, for test_row_same. */
static const enum veil_type row_types[] = { VEIL_T_STRING, VEIL_T_INT,
    VEIL_T_CATEGORY, VEIL_T_FLOAT, VEIL_T_BOOL, VEIL_T_DATE, VEIL_T_STRING,
    VEIL_T_CATEGORY, VEIL_T_INT };
#define NROWT	(sizeof(row_types) / sizeof(row_types[0]))

static struct table_builder *
row_builder(void)
{
	struct table_builder *b = table_builder_new();
	char name[8];
	size_t i;

	assert_non_null(b);
	for (i = 0; i < NROWT; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		assert_int_equal(table_builder_add_column(b, name, row_types[i],
		    VEIL_R_QUASI, 0), (int)i);
	}
	return b;
}

/* A value of a row, for test_row_same. */
struct tval {
	union {
		int64_t		 i;
		double		 d;
		int32_t		 days;
		uint32_t	 code;
		int		 b;
	}		 v;
	const char	*p;		/* string, category */
	size_t		 len;
	int		 kind;
};
#define TV_NULL		0
#define TV_VALUE	1
#define TV_NEW		2	/* category: not in the dictionary yet */

/* Row r's value in column i. */
static void
row_value(struct table_builder *b, uint64_t r, size_t i,
    struct tval *v, char *buf)
{
	uint64_t h = (r + 1) * UINT64_C(0x9e3779b97f4a7c15) ^ (i * 0x85ebca6b);
	int64_t code;

	h ^= h >> 29;
	memset(v, 0, sizeof(*v));
	v->kind = h % 7 == 0 ? TV_NULL : TV_VALUE;
	if (i == 5)	/* nulls in two rows only */
		v->kind = r == 5005 ? TV_NULL : TV_VALUE;
	if (r % 1000 == 500)	/* nulls only, appended value by value */
		v->kind = TV_NULL;
	switch (row_types[i]) {
	case VEIL_T_INT:
		v->v.i = (int64_t)(h >> 3) - INT64_MAX / 4;
		break;
	case VEIL_T_FLOAT:
		v->v.d = (double)(h >> 11) / 1024.0;
		break;
	case VEIL_T_BOOL:
		v->v.b = (int)(h >> 5 & 1);
		break;
	case VEIL_T_DATE:
		v->v.days = (int32_t)(h >> 40) - 8000000;
		break;
	case VEIL_T_STRING:
		/* From empty to past the 16-byte short copy. */
		v->len = (size_t)snprintf(buf, 48, "%.*s", (int)(h >> 8) % 40,
		    "0123456789abcdefghijklmnopqrstuvwxyz!?#%");
		v->p = buf;
		break;
	case VEIL_T_CATEGORY:
		v->len = (size_t)snprintf(buf, 48, "k%u",
		    (unsigned)(h >> 9) % 300);
		v->p = buf;
		v->kind = v->kind == TV_NULL ? TV_NULL : TV_NEW;
		if (v->kind == TV_NEW && (code = table_builder_dict_find(b,
		    (int)i, buf, v->len)) >= 0) {
			v->v.code = (uint32_t)code;
			v->kind = TV_VALUE;
		}
		break;
	default:
		fail();
	}
}

/* The same value through the table_builder_* call for its type. */
static int
put_value(struct table_builder *b, size_t i, const struct tval *v)
{
	if (v->kind == TV_NULL)
		return table_builder_null(b, (int)i);
	switch (row_types[i]) {
	case VEIL_T_INT:
		return table_builder_int(b, (int)i, v->v.i);
	case VEIL_T_FLOAT:
		return table_builder_float(b, (int)i, v->v.d);
	case VEIL_T_BOOL:
		return table_builder_bool(b, (int)i, v->v.b);
	case VEIL_T_DATE:
		return table_builder_date(b, (int)i, v->v.days);
	case VEIL_T_STRING:
		return table_builder_string(b, (int)i, v->p, v->len);
	default:
		return table_builder_category(b, (int)i, v->p, v->len);
	}
}

/*
 * Writes row r of a run (table.h) as its contract says, except that the
 * nulls' bits are left to run_take. Returns 0, or -1 if a string is past
 * its column's hmax (a narrow column must be widened first).
 */
static int
run_put(struct table_builder *b, struct table_slot *s, uint64_t r,
    const struct tval *v)
{
	uint64_t start, end, z = 0;
	uint32_t e;
	size_t i, w;
	int64_t code;
	uint8_t u;

	for (i = 0; i < NROWT; i++) {
		w = row_types[i] == VEIL_T_STRING ? (s[i].wide ? 8 : 4) :
		    (size_t)tf_data_len(row_types[i], 1);
		if (row_types[i] == VEIL_T_STRING) {
			start = table_slot_end(&s[i], (int64_t)r - 1);
			end = start + (v[i].kind == TV_NULL ? 0 : v[i].len);
			if (end > s[i].hmax)
				return -1;
			if (end > s[i].hcap)
				assert_int_equal(table_builder_run_heap(b, s,
				    (int)i, start, end), 0);
			if (end > start)
				memcpy(s[i].heap + start, v[i].p, end - start);
			table_slot_set_end(&s[i], (int64_t)r, end);
			continue;
		}
		if (v[i].kind == TV_NULL) {
			memcpy(s[i].data + r * w, &z, w);
			continue;
		}
		switch (row_types[i]) {
		case VEIL_T_BOOL:
			u = v[i].v.b != 0;
			memcpy(s[i].data + r * w, &u, 1);
			break;
		case VEIL_T_CATEGORY:
			if (v[i].kind == TV_NEW) {
				code = table_builder_dict_code(b, (int)i,
				    v[i].p, v[i].len);
				assert_true(code >= 0);
				e = (uint32_t)code;
			} else
				e = v[i].v.code;
			memcpy(s[i].data + r * w, &e, 4);
			break;
		default:
			memcpy(s[i].data + r * w, &v[i].v, w);
			break;
		}
	}
	return 0;
}

/* The nulls of row row0 + r, written, once it is sure to be taken. */
static void
run_take(struct table_slot *s, uint64_t row, const struct tval *v)
{
	size_t i;

	for (i = 0; i < NROWT; i++)
		if (v[i].kind == TV_NULL) {
			s[i].nulls[row >> 3] |= (unsigned char)(1u <<
			    (row & 7));
			s[i].nnull++;
		}
}

/*
 * Rows written straight into runs give the bytes that value-by-value
 * appends give: nulls of every type, new and known categories, strings
 * of every length, one string column switching to 8-byte offsets in
 * mid-table, rows appended value by value in between, rows written and
 * then dropped (the next one takes their slot, or the run ends without
 * them), and runs of every length. The switch comes with 1024 offsets,
 * so that a widened vector of just their 8 KB leaves no room past them
 * (`make asan` sees a write there). Then what a run refuses.
 */
static void
test_row_same(void **state)
{
	struct table_builder *a, *b;
	struct table_slot s[NROWT];
	struct tval v[NROWT], junk[NROWT];
	struct table *t = NULL;
	struct veil_err err;
	char bufs[NROWT][48], jbufs[NROWT][48];
	void *ba, *bb;
	size_t la, lb, i;
	uint64_t r, sum, row0 = 0, room = 0, n = 0, runs = 0, fits;
	unsigned int wide0 = 0;

	(void)state;
	for (int narrow = 0; narrow < 2; narrow++) {
		a = row_builder();
		for (r = 0, sum = 0; r < 1023; r++) {
			row_value(a, r, 0, &v[0], bufs[0]);
			sum += v[0].kind == TV_NULL ? 0 : v[0].len;
		}
		table_builder_test_narrow(narrow ? sum : UINT64_MAX);
		b = row_builder();
		for (r = 0, room = 0; r < 20000; r++) {
			for (i = 0; i < NROWT; i++)
				row_value(a, r, i, &v[i], bufs[i]);
			fits = 1;
			if (r % 1000 >= 3 && r % 1000 != 500) {
				if (n == room || r % 777 == 0) {
					if (room > 0)
						table_builder_run_end(a, s, n);
					assert_int_equal(table_builder_run(a,
					    s, &row0, &room), 0);
					assert_true(room > 0);
					assert_int_equal(row0, r);
					n = 0;
					runs++;
					wide0 = s[0].wide;
					assert_int_equal(s[0].hmax, wide0 ?
					    UINT64_C(1) << 40 : narrow ? sum :
					    UINT32_MAX);
				}
				if (r % 13 == 0) {	/* dropped */
					for (i = 0; i < NROWT; i++)
						row_value(a, r + 7, i, &junk[i],
						    jbufs[i]);
					for (i = 0; i < NROWT; i++)
						if (junk[i].kind == TV_NEW)
							junk[i].kind = TV_NULL;
					(void)run_put(a, s, n, junk);
				}
				fits = run_put(a, s, n, v) == 0;
				if (fits) {
					run_take(s, row0 + n, v);
					n++;
				}
				if (r % 101 == 0 && fits)	/* ends dropped */
					(void)run_put(a, s, n, v);
			}
			if (!fits || r % 1000 < 3 || r % 1000 == 500) {
				if (room > 0)
					table_builder_run_end(a, s, n);
				room = n = 0;
				for (i = 0; i < NROWT; i++)
					assert_int_equal(put_value(a, i, &v[i]),
					    0);
			}
			for (i = 0; i < NROWT; i++)
				assert_int_equal(put_value(b, i, &v[i]), 0);
		}
		if (room > 0)
			table_builder_run_end(a, s, n);
		room = n = 0;
		/* A run's narrow column stops at hmax: put_value widens it. */
		assert_int_equal(wide0, (unsigned int)narrow);
		assert_int_equal(table_builder_finish(a, &ba, &la, &err), 0);
		assert_int_equal(table_builder_finish(b, &bb, &lb, &err), 0);
		assert_int_equal(la, lb);
		assert_memory_equal(ba, bb, la);
		free(ba);
		free(bb);
		table_builder_free(a);
		table_builder_free(b);
	}
	table_builder_test_narrow(UINT64_MAX);
	assert_true(runs > 40);

	/* In a run, the builder takes nothing else. */
	a = row_builder();
	b = row_builder();
	assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
	assert_true(room >= 64);
	assert_int_equal(table_builder_int(a, 1, 5), VEIL_E_INVALID);
	assert_int_equal(table_builder_null(a, 1), VEIL_E_INVALID);
	assert_int_equal(table_builder_category(a, 2, "x", 1),
	    VEIL_E_INVALID);
	assert_int_equal(table_builder_add_column(a, "z", VEIL_T_INT,
	    VEIL_R_QUASI, 0), VEIL_E_INVALID);
	assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
	assert_int_equal(room, 0);
	assert_int_equal(table_builder_append(b, a), VEIL_E_INVALID);
	assert_int_equal(table_builder_finish(a, &ba, &la, &err),
	    VEIL_E_INVALID);
	assert_int_equal(table_builder_run_heap(a, s, 1, 0, 10),
	    VEIL_E_INVALID);	/* not a string column */
	assert_int_equal(table_builder_run_heap(a, s, 0, 10, 5),
	    VEIL_E_INVALID);
	assert_int_equal(table_builder_dict_code(a, 1, "x", 1),
	    VEIL_E_INVALID);
	assert_int_equal(table_builder_dict_code(a, 2, "x", 1), 0);
	table_builder_run_end(a, s, 0);
	assert_int_equal(table_builder_nrows(a), 0);
	assert_int_equal(table_builder_dict_size(a, 2), 1);
	assert_int_equal(table_builder_int(a, 1, 5), 0);
	/* Columns that have not as many rows: no room. */
	assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
	assert_int_equal(room, 0);
	assert_int_equal(table_builder_run_heap(a, s, 0, 0, 10),
	    VEIL_E_INVALID);	/* not in a run */
	table_builder_free(a);
	table_builder_free(b);

	/* A string end past hmax, or past hcap, breaks the builder. */
	for (int past = 0; past < 2; past++) {
		table_builder_test_narrow(past ? UINT64_MAX : 100);
		a = row_builder();
		assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
		assert_int_equal(table_builder_run_heap(a, s, 0, 0, 300), 0);
		assert_true(s[0].hcap >= 300);
		lb = past ? s[0].hcap + 1 : 200;
		memcpy(s[0].data, &(uint32_t){ (uint32_t)lb }, 4);
		table_builder_run_end(a, s, 1);
		assert_int_equal(table_builder_finish(a, &ba, &la, &err),
		    VEIL_E_INVALID);
		assert_non_null(strstr(err.msg, "past its column's room"));
		assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
		assert_int_equal(room, 0);
		table_builder_free(a);
	}
	table_builder_test_narrow(UINT64_MAX);

	/* A column whose only null comes in a run. */
	a = table_builder_new();
	assert_non_null(a);
	assert_int_equal(table_builder_add_column(a, "i", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_run(a, s, &row0, &room), 0);
	assert_true(room >= 10);
	for (r = 0; r < 10; r++) {
		int64_t x = r == 4 ? 0 : (int64_t)r;

		memcpy(s[0].data + r * 8, &x, 8);
	}
	s[0].nulls[4 >> 3] |= 1u << 4;
	s[0].nnull++;
	table_builder_run_end(a, s, 10);
	assert_int_equal(table_builder_finish(a, &ba, &la, &err), 0);
	table_builder_free(a);
	assert_int_equal(table_open(ba, la, &t, &err), 0);
	assert_int_equal(table_nrows(t), 10);
	assert_true(table_isnull(table_column(t, 0), 4));
	assert_false(table_isnull(table_column(t, 0), 5));
	table_free(t);
	free(ba);
}

/* Opens a corrupted copy of the fixture and expects VEIL_E_CORRUPT. */
static void
expect_corrupt(struct fixture *f, void (*mutate)(unsigned char *, size_t,
    size_t *), const char *needle)
{
	unsigned char *copy;
	struct table *t = NULL;
	struct veil_err err;
	size_t len = f->len;
	unsigned int i;
	int r;

	assert_int_equal(posix_memalign((void **)&copy, 64, f->len), 0);
	memcpy(copy, f->buf, f->len);
	mutate(copy, f->len, &len);
	veil_err_clear(&err);
	assert_int_equal(table_open(copy, len, &t, &err), VEIL_E_CORRUPT);
	assert_null(t);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg,
		    needle);
	/* lazily: the same error, at the latest once the floats and the
	 * codes are checked (nothing else is left for later) */
	veil_err_clear(&err);
	if ((r = table_open_lazy(copy, len, &t, &err)) == 0) {
		for (i = 0; r == 0 && i < table_ncols(t); i++)
			r = table_check_values(t, i, &err);
		if (r == 0 || (strcmp(needle, "non-finite") != 0 &&
		    strncmp(needle, "dictionary has", 14) != 0))
			fail_msg("lazily: \"%s\" found only by checking values",
			    needle);
		table_free(t);
	}
	assert_int_equal(r, VEIL_E_CORRUPT);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("lazily: error \"%s\" does not mention \"%s\"",
		    err.msg, needle);
	free(copy);
}

static struct tf_coldesc *
desc(unsigned char *b, int i)
{
	struct tf_header *h = (struct tf_header *)b;

	return (struct tf_coldesc *)(b + h->coldir_off) + i;
}

static void m_magic(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; b[0] = 'X'; }
static void m_version(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; ((struct tf_header *)b)->version = 2; }
static void m_truncate(unsigned char *b, size_t n, size_t *l)
{ (void)b; *l = n - 64; }
static void m_short(unsigned char *b, size_t n, size_t *l)
{ (void)b; (void)n; *l = 10; }
static void m_size(unsigned char *b, size_t n, size_t *l)
{ (void)l; ((struct tf_header *)b)->size = n + 64; }
static void m_ncols(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; ((struct tf_header *)b)->ncols = 1000; }
static void m_nrows(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; ((struct tf_header *)b)->nrows = 101; }
static void m_hugerows(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; ((struct tf_header *)b)->nrows = UINT64_MAX / 4; }
static void m_dataoff(unsigned char *b, size_t n, size_t *l)
{ (void)l; desc(b, 1)->data_off = n - 64; }
static void m_wrapoff(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 1)->data_off = UINT64_MAX - 63; }
static void m_unaligned(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 1)->data_off += 8; }
static void m_type(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 2)->type = 9; }
static void m_role(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 2)->role = 77; }
static void m_flags(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 2)->flags = 0x8000; }
static void m_name(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; b[desc(b, 0)->name_off + 2] = 'x'; }	/* NUL gone */
static void m_dupname(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; memcpy(b + desc(b, 1)->name_off, "id\0", 3);
  desc(b, 1)->name_len = 2; }

static void m_code(unsigned char *b, size_t n, size_t *l)
{
	(void)n; (void)l;
	((uint32_t *)(b + desc(b, 4)->data_off))[5] = 3;
}
static void m_dict_n(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 4)->dict_n = 0x7fffffff; }
static void m_stroff(unsigned char *b, size_t n, size_t *l)
{
	(void)n; (void)l;
	((uint64_t *)(b + desc(b, 0)->data_off))[50] = 1;
}
static void m_strend(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 0)->heap_len -= 1; }
static void m_bool(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; (b + desc(b, 3)->data_off)[9] = 2; }
static void m_nan(unsigned char *b, size_t n, size_t *l)
{
	(void)n; (void)l;
	((double *)(b + desc(b, 2)->data_off))[9] = NAN;
}
static void m_reserved(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; ((struct tf_header *)b)->reserved[1] = 1; }
static void m_heap_on_int(unsigned char *b, size_t n, size_t *l)
{ (void)n; (void)l; desc(b, 1)->heap_len = 8; }

static void
test_corrupt(void **state)
{
	struct fixture *f = *state;

	expect_corrupt(f, m_magic, "magic");
	expect_corrupt(f, m_version, "version");
	expect_corrupt(f, m_truncate, "header says");
	expect_corrupt(f, m_short, "shorter than the header");
	expect_corrupt(f, m_size, "header says");
	expect_corrupt(f, m_ncols, "column directory");
	expect_corrupt(f, m_nrows, "column 0");
	expect_corrupt(f, m_hugerows, "rows");
	expect_corrupt(f, m_dataoff, "outside");
	expect_corrupt(f, m_wrapoff, "outside");
	expect_corrupt(f, m_unaligned, "aligned");
	expect_corrupt(f, m_type, "unknown type");
	expect_corrupt(f, m_role, "unknown role");
	expect_corrupt(f, m_flags, "unknown flags");
	expect_corrupt(f, m_name, "name");
	expect_corrupt(f, m_dupname, "both called");
	expect_corrupt(f, m_code, "dictionary has 3");
	expect_corrupt(f, m_dict_n, "dictionary");
	expect_corrupt(f, m_stroff, "decreases");
	expect_corrupt(f, m_strend, "offsets end");
	expect_corrupt(f, m_bool, "bool");
	expect_corrupt(f, m_nan, "non-finite");
	expect_corrupt(f, m_reserved, "reserved");
	expect_corrupt(f, m_heap_on_int, "heap");
}

/*
 * A lazily opened table owes the value check of its float and category
 * columns, per column, until done.
 */
static void
test_lazy_floats(void **state)
{
	struct fixture *f = *state;
	struct table *t;
	unsigned int i;

	assert_int_equal(table_open(f->buf, f->len, &t, NULL), 0);
	for (i = 0; i < table_ncols(t); i++)
		assert_false(table_values_pending(t, i));
	table_free(t);
	assert_int_equal(table_open_lazy(f->buf, f->len, &t, NULL), 0);
	for (i = 0; i < table_ncols(t); i++)
		assert_int_equal(table_values_pending(t, i),
		    table_column(t, i)->type == VEIL_T_FLOAT ||
		    table_column(t, i)->type == VEIL_T_CATEGORY);
	assert_false(table_values_pending(t, table_ncols(t)));
	for (i = 0; i < table_ncols(t); i++) {
		assert_int_equal(table_check_values(t, i, NULL), 0);
		assert_false(table_values_pending(t, i));
	}
	table_free(t);
	/* checked by the reader itself */
	assert_int_equal(table_open_lazy(f->buf, f->len, &t, NULL), 0);
	assert_true(table_values_pending(t, 2));
	table_values_checked(t, 2);
	assert_false(table_values_pending(t, 2));
	table_free(t);
	/* the bits test the readers use */
	assert_false(TABLE_NONFINITE(UINT64_C(0x3ff0000000000000)) >> 63);
	assert_false(TABLE_NONFINITE(UINT64_C(0xffefffffffffffff)) >> 63);
	assert_true(TABLE_NONFINITE(UINT64_C(0x7ff0000000000000)) >> 63);
	assert_true(TABLE_NONFINITE(UINT64_C(0xfff8000000000001)) >> 63);
}

/* Every single-byte truncation point is rejected, never crashes. */
static void
test_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct table *t;
	size_t len;

	for (len = 0; len < f->len; len += 8) {
		t = NULL;
		assert_int_not_equal(table_open(f->buf, len, &t, NULL), 0);
		assert_null(t);
	}
}

static void
test_unaligned_buffer(void **state)
{
	struct fixture *f = *state;
	struct table *t = NULL;
	unsigned char *copy = malloc(f->len + 64);

	assert_non_null(copy);
	memcpy(copy + 8 + (64 - (uintptr_t)copy % 64) % 64, f->buf, f->len);
	assert_int_equal(table_open(copy + 8 + (64 - (uintptr_t)copy % 64) %
	    64, f->len, &t, NULL), VEIL_E_INVALID);
	free(copy);
}

static void
test_builder_misuse(void **state)
{
	struct table_builder *b = table_builder_new();
	void *buf;
	size_t len;
	struct veil_err err;

	(void)state;
	assert_int_equal(table_builder_add_column(b, "a", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_add_column(b, "a", VEIL_T_INT,
	    VEIL_R_QUASI, 0), VEIL_E_INVALID);
	assert_int_equal(table_builder_add_column(b, "", VEIL_T_INT,
	    VEIL_R_QUASI, 0), VEIL_E_INVALID);
	assert_int_equal(table_builder_add_column(b, "t", 42,
	    VEIL_R_QUASI, 0), VEIL_E_INVALID);
	assert_int_equal(table_builder_add_column(b, "b", VEIL_T_FLOAT,
	    VEIL_R_QUASI, 0), 1);
	/* wrong type for the column, bad index, non-finite float */
	assert_int_equal(table_builder_float(b, 0, 1.0), VEIL_E_INVALID);
	assert_int_equal(table_builder_int(b, 7, 1), VEIL_E_INVALID);
	assert_int_equal(table_builder_float(b, 1, INFINITY), VEIL_E_INVALID);
	assert_int_equal(table_builder_int(b, 0, 1), 0);
	/* no columns after rows exist */
	assert_int_equal(table_builder_add_column(b, "c", VEIL_T_INT,
	    VEIL_R_QUASI, 0), VEIL_E_INVALID);
	/* ragged columns cannot be laid out */
	assert_int_equal(table_builder_finish(b, &buf, &len, &err),
	    VEIL_E_INTERNAL);
	assert_null(buf);
	table_builder_free(b);
	table_builder_free(NULL);
	table_free(NULL);
}

static void
test_empty_table(void **state)
{
	struct table_builder *b = table_builder_new();
	struct table *t = NULL;
	void *buf;
	size_t len;

	(void)state;
	assert_int_equal(table_builder_add_column(b, "s", VEIL_T_STRING,
	    VEIL_R_TEXT, 0), 0);
	assert_int_equal(table_builder_add_column(b, "c", VEIL_T_CATEGORY,
	    VEIL_R_QUASI, 0), 1);
	assert_int_equal(table_builder_finish(b, &buf, &len, NULL), 0);
	assert_int_equal(table_open(buf, len, &t, NULL), 0);
	assert_int_equal(table_nrows(t), 0);
	table_free(t);
	free(buf);
	table_builder_free(b);
}

/* {====== appending builders */

/* A builder with a string, an int and a category column. */
static struct table_builder *
ap_new(void)
{
	struct table_builder *b = table_builder_new();

	assert_non_null(b);
	assert_int_equal(table_builder_add_column(b, "s", VEIL_T_STRING,
	    VEIL_R_IDENTIFIER, 0), 0);
	assert_int_equal(table_builder_add_column(b, "n", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 1);
	assert_int_equal(table_builder_add_column(b, "c", VEIL_T_CATEGORY,
	    VEIL_R_SENSITIVE, TABLE_F_DECLARED), 2);
	assert_int_equal(table_builder_dict_add(b, 2, "decl", 4), 0);
	return b;
}

/* Row i of the test data: nulls at irregular rows, values first seen late. */
static void
ap_row(struct table_builder *b, int i)
{
	char v[32];

	snprintf(v, sizeof(v), "s%d", i);
	if (i % 5 == 2)
		assert_int_equal(table_builder_null(b, 0), 0);
	else
		assert_int_equal(table_builder_string(b, 0, v, strlen(v)), 0);
	if (i % 3 == 1)
		assert_int_equal(table_builder_null(b, 1), 0);
	else
		assert_int_equal(table_builder_int(b, 1, i), 0);
	snprintf(v, sizeof(v), "k%d", i / 7 % 13);
	if (i % 11 == 4)
		assert_int_equal(table_builder_null(b, 2), 0);
	else
		assert_int_equal(table_builder_category(b, 2, v, strlen(v)), 0);
}

/*
 * Rows split among appended builders at every kind of boundary (row
 * counts that are and are not multiples of 8, empty parts) lay out the
 * same bytes as one builder fed them all.
 */
static void
test_append_same_bytes(void **state)
{
	static const int cuts[][5] = {
		{ 0, 8, 16, 100, 200 },
		{ 3, 3, 50, 51, 200 },
		{ 0, 0, 0, 199, 200 },
		{ 7, 90, 130, 131, 200 },
	};
	struct table_builder *one, *b, *p;
	struct veil_err err;
	void *ref, *buf;
	size_t reflen, len, k;
	int i, j;

	(void)state;
	one = ap_new();
	for (i = 0; i < 200; i++)
		ap_row(one, i);
	assert_int_equal(table_builder_finish(one, &ref, &reflen, &err), 0);
	table_builder_free(one);
	for (k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
		/* b's own rows, then each part's */
		b = ap_new();
		for (i = 0; i < cuts[k][0]; i++)
			ap_row(b, i);
		for (j = 0; j < 4; j++) {
			p = ap_new();
			for (i = cuts[k][j]; i < cuts[k][j + 1]; i++)
				ap_row(p, i);
			assert_int_equal(table_builder_append(b, p), 0);
		}
		assert_int_equal(table_builder_nrows(b), 200);
		assert_int_equal(table_builder_dict_size(b, 2), 14);
		/* after an append, no more rows or columns */
		assert_int_equal(table_builder_int(b, 1, 5), VEIL_E_INVALID);
		assert_int_equal(table_builder_null(b, 1), VEIL_E_INVALID);
		assert_int_equal(table_builder_add_column(b, "x", VEIL_T_INT,
		    VEIL_R_QUASI, 0), VEIL_E_INVALID);
		assert_int_equal(table_builder_finish(b, &buf, &len, &err), 0);
		assert_int_equal(len, reflen);
		assert_memory_equal(buf, ref, len);
		free(buf);
		table_builder_free(b);
	}
	free(ref);
}

static void
test_append_mismatch(void **state)
{
	struct table_builder *b = ap_new(), *p;

	(void)state;
	assert_int_equal(table_builder_append(b, b), VEIL_E_INVALID);
	/* different columns */
	p = table_builder_new();
	assert_non_null(p);
	assert_int_equal(table_builder_add_column(p, "s", VEIL_T_STRING,
	    VEIL_R_IDENTIFIER, 0), 0);
	assert_int_equal(table_builder_append(b, p), VEIL_E_INVALID);
	table_builder_free(p);
	/* a part with an unfinished row */
	p = ap_new();
	assert_int_equal(table_builder_int(p, 1, 1), 0);
	assert_int_equal(table_builder_append(b, p), VEIL_E_INVALID);
	table_builder_free(p);
	/* a part that has parts itself */
	p = ap_new();
	assert_int_equal(table_builder_append(p, ap_new()), 0);
	assert_int_equal(table_builder_append(b, p), VEIL_E_INVALID);
	table_builder_free(p);
	table_builder_free(b);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, build,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_roundtrip, build,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, build, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_floats, build,
		    teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, build,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_buffer, build,
		    teardown),
		cmocka_unit_test(test_builder_misuse),
		cmocka_unit_test(test_empty_table),
		cmocka_unit_test(test_big_columns),
		cmocka_unit_test(test_wide_offsets),
		cmocka_unit_test(test_row_same),
		cmocka_unit_test(test_append_same_bytes),
		cmocka_unit_test(test_append_mismatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
