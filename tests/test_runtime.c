/*
 * test_runtime.c: the job runtime (runtime/), in process. Each case runs
 * a Lua job with rt_run() over a small table built here, unpacks the map
 * of partial aggregates and checks it against values worked out by hand:
 * the job API of DESIGN.md (where, filter, derive, group_by, count, sum,
 * mean, quantile, histogram), fixed-point sums, clamping, contribution
 * bounding, the purity of row functions, and every failure class.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/wait.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "datefmt.h"
#include "frame.h"
#include "rt.h"
#include "rt_int.h"
#include "table.h"

/* {====== fixtures */

/*
 * The main table, 8 rows, 4 privacy units (pid), rows in unit order:
 *
 *   row pid age  cost  member visit       dx   city note
 *   0   p1  30   1.5   true   2024-01-15  A    X    alpha
 *   1   p1  30   2.25  false  2024-02-01  B    Y    beta
 *   2   p2  40   10    true   2024-03-10  A    X    gamma
 *   3   p3  50   100   -      2023-12-31  A    -    alpha
 *   4   p3  -    200   false  -           C    Y    -
 *   5   p3  70   -     true   2024-01-15  -    X    delta
 *   6   p4  20   -5    false  2024-06-30  B    Z    beta
 *   7   p4  90   1000  true   2025-01-01  C    Y    epsilon
 *
 * dx is a declared category (A B C D: D has no rows); city is not
 * declared (X Y Z, in order of appearance).
 */
#define NMAIN	8

static struct table *tmain, *tbound, *trow, *tq, *tcat, *tnum;
static void *bufs[6];

/* Table Q ("@row"): 1001 values with many duplicates, and some nulls. */
#define NQ	1001
static double qvals[NQ];
static int qnull[NQ];

static struct table *
finish(struct table_builder *b, int slot)
{
	struct table *t;
	size_t len;

	if (table_builder_finish(b, &bufs[slot], &len, NULL) != 0 ||
	    table_open(bufs[slot], len, &t, NULL) != 0)
		return NULL;
	table_builder_free(b);
	return t;
}

static struct table *
make_main(void)
{
	static const char *const pid[] = { "p1", "p1", "p2", "p3", "p3", "p3",
	    "p4", "p4" };
	static const int age[] = { 30, 30, 40, 50, -1, 70, 20, 90 };
	static const double cost[] = { 1.5, 2.25, 10, 100, 200, NAN, -5,
	    1000 };
	static const int member[] = { 1, 0, 1, -1, 0, 1, 0, 1 };
	static const char *const visit[] = { "2024-01-15", "2024-02-01",
	    "2024-03-10", "2023-12-31", NULL, "2024-01-15", "2024-06-30",
	    "2025-01-01" };
	static const char *const dx[] = { "A", "B", "A", "A", "C", NULL, "B",
	    "C" };
	static const char *const city[] = { "X", "Y", "X", NULL, "Y", "X", "Z",
	    "Y" };
	static const char *const note[] = { "alpha", "beta", "gamma", "alpha",
	    NULL, "delta", "beta", "epsilon" };
	struct table_builder *b = table_builder_new();
	int32_t days;
	int i;

	if (b == NULL ||
	    table_builder_add_column(b, "pid", VEIL_T_STRING,
	    VEIL_R_IDENTIFIER, TABLE_F_UNIT) != 0 ||
	    table_builder_add_column(b, "age", VEIL_T_INT, VEIL_R_QUASI, 0) != 1 ||
	    table_builder_add_column(b, "cost", VEIL_T_FLOAT,
	    VEIL_R_INSENSITIVE, 0) != 2 ||
	    table_builder_add_column(b, "member", VEIL_T_BOOL,
	    VEIL_R_INSENSITIVE, 0) != 3 ||
	    table_builder_add_column(b, "visit", VEIL_T_DATE, VEIL_R_QUASI,
	    0) != 4 ||
	    table_builder_add_column(b, "dx", VEIL_T_CATEGORY,
	    VEIL_R_SENSITIVE, TABLE_F_DECLARED) != 5 ||
	    table_builder_add_column(b, "city", VEIL_T_CATEGORY, VEIL_R_QUASI,
	    0) != 6 ||
	    table_builder_add_column(b, "note", VEIL_T_STRING,
	    VEIL_R_INSENSITIVE, 0) != 7)
		return NULL;
	for (i = 0; i < 4; i++)
		if (table_builder_dict_add(b, 5, "ABCD" + i, 1) != 0)
			return NULL;
	for (i = 0; i < NMAIN; i++) {
		int bad = 0;

		bad |= table_builder_string(b, 0, pid[i], strlen(pid[i]));
		bad |= age[i] < 0 ? table_builder_null(b, 1) :
		    table_builder_int(b, 1, age[i]);
		bad |= isnan(cost[i]) ? table_builder_null(b, 2) :
		    table_builder_float(b, 2, cost[i]);
		bad |= member[i] < 0 ? table_builder_null(b, 3) :
		    table_builder_bool(b, 3, member[i]);
		if (visit[i] == NULL)
			bad |= table_builder_null(b, 4);
		else {
			bad |= datefmt_parse(visit[i], 10, &days);
			bad |= table_builder_date(b, 4, days);
		}
		bad |= dx[i] == NULL ? table_builder_null(b, 5) :
		    table_builder_category(b, 5, dx[i], 1);
		bad |= city[i] == NULL ? table_builder_null(b, 6) :
		    table_builder_category(b, 6, city[i], 1);
		bad |= note[i] == NULL ? table_builder_null(b, 7) :
		    table_builder_string(b, 7, note[i], strlen(note[i]));
		if (bad)
			return NULL;
	}
	return finish(b, 0);
}

/*
 * Contribution bounding: unit (int) 1 has 10 rows (v = 0..9), unit 2 one
 * row (v = 100), unit 3 two rows (v = 200, 201); interleaved, so that the
 * runtime must regroup them.
 */
static struct table *
make_bound(void)
{
	static const int u[] = { 1, 2, 1, 3, 1, 1, 1, 3, 1, 1, 1, 1, 1 };
	static const int v[] = { 0, 100, 1, 200, 2, 3, 4, 201, 5, 6, 7, 8, 9 };
	struct table_builder *b = table_builder_new();
	int i;

	if (b == NULL || table_builder_add_column(b, "u", VEIL_T_INT,
	    VEIL_R_IDENTIFIER, TABLE_F_UNIT) != 0 ||
	    table_builder_add_column(b, "v", VEIL_T_INT, VEIL_R_QUASI, 0) != 1)
		return NULL;
	for (i = 0; i < 13; i++)
		if (table_builder_int(b, 0, u[i]) != 0 ||
		    table_builder_int(b, 1, v[i]) != 0)
			return NULL;
	return finish(b, 1);
}

/* "@row": no unit column; five rows, x = 1..5, k = a a b b b. */
static struct table *
make_row(void)
{
	struct table_builder *b = table_builder_new();
	int i;

	if (b == NULL || table_builder_add_column(b, "x", VEIL_T_INT,
	    VEIL_R_QUASI, 0) != 0 ||
	    table_builder_add_column(b, "k", VEIL_T_STRING, VEIL_R_QUASI,
	    0) != 1)
		return NULL;
	for (i = 0; i < 5; i++)
		if (table_builder_int(b, 0, i + 1) != 0 ||
		    table_builder_string(b, 1, i < 2 ? "a" : "b", 1) != 0)
			return NULL;
	return finish(b, 2);
}

static struct table *
make_q(void)
{
	struct table_builder *b = table_builder_new();
	uint64_t s = 12345;
	int i;

	if (b == NULL || table_builder_add_column(b, "x", VEIL_T_FLOAT,
	    VEIL_R_QUASI, 0) != 0 ||
	    table_builder_add_column(b, "y", VEIL_T_FLOAT, VEIL_R_QUASI,
	    0) != 1)
		return NULL;
	for (i = 0; i < NQ; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		qnull[i] = (s >> 60) == 0;	/* about 1 in 16 */
		qvals[i] = (double)((s >> 33) % 50) / 4 - 3;
		if ((qnull[i] ? table_builder_null(b, 0) :
		    table_builder_float(b, 0, qvals[i])) != 0 ||
		    table_builder_float(b, 1, (double)(s >> 11) / 9007199254740992.0) != 0)
			return NULL;
	}
	return finish(b, 3);
}

/* A category unit column: units a (2 rows), b (1 row); c declared only. */
static struct table *
make_cat(void)
{
	struct table_builder *b = table_builder_new();

	if (b == NULL || table_builder_add_column(b, "who", VEIL_T_CATEGORY,
	    VEIL_R_IDENTIFIER, TABLE_F_UNIT) != 0 ||
	    table_builder_add_column(b, "x", VEIL_T_INT, VEIL_R_QUASI, 0) != 1 ||
	    table_builder_category(b, 0, "a", 1) != 0 ||
	    table_builder_int(b, 1, 1) != 0 ||
	    table_builder_category(b, 0, "b", 1) != 0 ||
	    table_builder_int(b, 1, 2) != 0 ||
	    table_builder_category(b, 0, "a", 1) != 0 ||
	    table_builder_int(b, 1, 3) != 0)
		return NULL;
	return finish(b, 4);
}

/*
 * Table N: 8 rows of numbers at the edges of Lua's arithmetic, for the
 * compiled row functions (rowprog.c) against the interpreter:
 *
 *   k  i                    f                    b      n
 *   0  0                    0.0                  true   -
 *   1  1                    -0.0                 false  3
 *   2  -1                   0.5                  true   -
 *   3  7                    -2.5                 -      4
 *   4  -7                   1e300                false  5
 *   5  2^53 + 1             2^53                 true   -
 *   6  INT64_MAX            9.5e15               false  6
 *   7  INT64_MIN            -3.0                 true   -2
 */
static struct table *
make_num(void)
{
	static const int64_t iv[NMAIN] = { 0, 1, -1, 7, -7,
	    INT64_C(9007199254740993), INT64_MAX, INT64_MIN };
	static const double fv[NMAIN] = { 0.0, -0.0, 0.5, -2.5, 1e300,
	    9007199254740992.0, 9.5e15, -3.0 };
	static const int bv[NMAIN] = { 1, 0, 1, -1, 0, 1, 0, 1 };
	static const int nv[NMAIN] = { -99, 3, -99, 4, 5, -99, 6, -2 };
	struct table_builder *b = table_builder_new();
	int i, bad = 0;

	if (b == NULL ||
	    table_builder_add_column(b, "k", VEIL_T_INT, VEIL_R_INSENSITIVE,
	    0) != 0 ||
	    table_builder_add_column(b, "i", VEIL_T_INT, VEIL_R_INSENSITIVE,
	    0) != 1 ||
	    table_builder_add_column(b, "f", VEIL_T_FLOAT, VEIL_R_INSENSITIVE,
	    0) != 2 ||
	    table_builder_add_column(b, "b", VEIL_T_BOOL, VEIL_R_INSENSITIVE,
	    0) != 3 ||
	    table_builder_add_column(b, "n", VEIL_T_INT, VEIL_R_INSENSITIVE,
	    0) != 4)
		return NULL;
	for (i = 0; i < NMAIN; i++) {
		bad |= table_builder_int(b, 0, i);
		bad |= table_builder_int(b, 1, iv[i]);
		bad |= table_builder_float(b, 2, fv[i]);
		bad |= bv[i] < 0 ? table_builder_null(b, 3) :
		    table_builder_bool(b, 3, bv[i]);
		bad |= nv[i] == -99 ? table_builder_null(b, 4) :
		    table_builder_int(b, 4, nv[i]);
	}
	if (bad)
		return NULL;
	return finish(b, 5);
}

static int
setup(void **state)
{
	(void)state;
	if ((tmain = make_main()) == NULL || (tbound = make_bound()) == NULL ||
	    (trow = make_row()) == NULL || (tq = make_q()) == NULL ||
	    (tcat = make_cat()) == NULL || (tnum = make_num()) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	table_free(tmain);
	table_free(tbound);
	table_free(trow);
	table_free(tq);
	table_free(tcat);
	table_free(tnum);
	for (i = 0; i < 6; i++)
		free(bufs[i]);
	return 0;
}

/* }====== */

/* {====== running jobs */

struct jopt {
	enum rt_mode	 mode;
	int		 mock;
	uint32_t	 mrpu;		/* max_rows_per_unit */
	size_t		 mem;
	uint32_t	 insns;
	int		 log_fd;
};

static const struct jopt NONE = { RT_MODE_NONE, 0, 0, 64u << 20, 10000, -1 };

struct res {
	enum rt_fail		 f;
	char			 msg[512];
	struct rt_stats		 st;
	msgpack_sbuffer		 sb;
	msgpack_unpacked	 up;
	const msgpack_object	*map;
};

/*
 * Results alive in the running test, so that a failed assertion (which
 * leaves the test by longjmp) leaks nothing for LeakSanitizer to report.
 */
static struct {
	char		*data;
	msgpack_zone	*zone;
} live[16];
static int nlive;

static void
track(char *data)
{
	if (nlive < 16) {
		live[nlive].data = data;
		live[nlive].zone = NULL;
		nlive++;
	}
}

static void
track_zone(msgpack_zone *z)
{
	if (nlive > 0)
		live[nlive - 1].zone = z;
}

static void
untrack(char *data, msgpack_zone *z)
{
	int i;

	for (i = nlive - 1; i >= 0; i--)
		if (live[i].data == data && live[i].zone == z) {
			live[i] = live[--nlive];
			return;
		}
}

static void
run_on(const struct table *t, const struct jopt *o, const char *src,
    struct res *r)
{
	struct rt_job j;
	msgpack_packer pk;
	size_t off = 0;

	memset(&j, 0, sizeof(j));
	j.source = src;
	j.source_len = strlen(src);
	j.name = "=job";
	j.mode = o->mode;
	j.mock = o->mock;
	j.max_rows_per_unit = o->mrpu;
	j.mem_limit = o->mem;
	j.row_insns = o->insns;
	j.log_fd = o->log_fd;
	msgpack_sbuffer_init(&r->sb);
	msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&r->up);
	r->map = NULL;
	r->f = rt_run(&j, t, &pk, r->msg, sizeof(r->msg), &r->st);
	track(r->sb.data);
	if (r->f != RT_OK)
		return;
	assert_int_equal(msgpack_unpack_next(&r->up, r->sb.data, r->sb.size,
	    &off), MSGPACK_UNPACK_SUCCESS);
	track_zone(r->up.zone);
	assert_int_equal(off, r->sb.size);	/* exactly one map */
	assert_int_equal(r->up.data.type, MSGPACK_OBJECT_MAP);
	r->map = &r->up.data;
}

static void
done(struct res *r)
{
	untrack(r->sb.data, r->up.zone);
	msgpack_unpacked_destroy(&r->up);
	msgpack_sbuffer_destroy(&r->sb);
}

/* After a failed assertion: what the test could not release itself. */
static int
cleanup(void **state)
{
	(void)state;
	while (nlive > 0) {
		nlive--;
		free(live[nlive].data);
		if (live[nlive].zone != NULL)
			msgpack_zone_free(live[nlive].zone);
	}
	return 0;
}

/* Runs src over t, which must succeed. */
static void
ok_on(const struct table *t, const struct jopt *o, const char *src,
    struct res *r)
{
	run_on(t, o, src, r);
	if (r->f != RT_OK)
		fail_msg("job failed (%s): %s", rt_fail_class(r->f), r->msg);
}

static void
ok(const char *src, struct res *r)
{
	ok_on(tmain, &NONE, src, r);
}

/* Runs src over t, which must fail with class f and a message with want. */
static void
fails_on(const struct table *t, const struct jopt *o, const char *src,
    enum rt_fail f, const char *want)
{
	struct res r;

	run_on(t, o, src, &r);
	if (r.f != f)
		fail_msg("job \"%s\": class %s (%s), want %s", src,
		    rt_fail_class(r.f), r.msg, rt_fail_class(f));
	if (want != NULL && strstr(r.msg, want) == NULL)
		fail_msg("job \"%s\": message \"%s\" lacks \"%s\"", src, r.msg,
		    want);
	assert_int_equal(r.st.rows, table_nrows(t));
	done(&r);
}

static void
fails(const char *src, enum rt_fail f, const char *want)
{
	fails_on(tmain, &NONE, src, f, want);
}

/* }====== */

/* {====== reading results */

static const msgpack_object *
agg(const struct res *r, const char *name)
{
	const msgpack_object *a = frame_get(r->map, name);

	if (a == NULL || a->type != MSGPACK_OBJECT_MAP)
		fail_msg("no result '%s'", name);
	return a;
}

static uint64_t
u64(const msgpack_object *o, const char *k)
{
	uint64_t v;

	if (frame_get_uint(o, k, &v) != 0)
		fail_msg("no unsigned '%s'", k);
	return v;
}

static int64_t
i64(const msgpack_object *o, const char *k)
{
	int64_t v;

	if (frame_get_int(o, k, &v) != 0)
		fail_msg("no integer '%s'", k);
	return v;
}

static double
dbl(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = frame_get(o, k);

	if (v == NULL)
		fail_msg("no number '%s'", k);
	switch (v->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return v->via.f64;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return (double)v->via.u64;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return (double)v->via.i64;
	default:
		fail_msg("'%s' is not a number", k);
	}
	return 0;
}

static void
expect_str(const msgpack_object *o, const char *k, const char *want)
{
	const char *p;
	size_t len;

	if (frame_get_str(o, k, &p, &len) != 0)
		fail_msg("no string '%s' (want \"%s\")", k, want);
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		fail_msg("'%s' is \"%.*s\", want \"%s\"", k, (int)len, p, want);
}

static int
is_nil(const msgpack_object *o, const char *k)
{
	const msgpack_object *v = frame_get(o, k);

	return v != NULL && v->type == MSGPACK_OBJECT_NIL;
}

static int
is_bool(const msgpack_object *o, const char *k, int b)
{
	const msgpack_object *v = frame_get(o, k);

	return v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN &&
	    v->via.boolean == (b != 0);
}

static const msgpack_object *
groups(const msgpack_object *a)
{
	const msgpack_object *g = frame_get(a, "groups");

	if (g == NULL || g->type != MSGPACK_OBJECT_ARRAY)
		fail_msg("no groups");
	return g;
}

static uint32_t
ngroups(const msgpack_object *a)
{
	return groups(a)->via.array.size;
}

static const msgpack_object *
grp(const msgpack_object *a, uint32_t i)
{
	const msgpack_object *g = groups(a);

	if (i >= g->via.array.size)
		fail_msg("group %u of %u", i, g->via.array.size);
	return &g->via.array.ptr[i];
}

enum kt { K_NIL, K_STR, K_INT, K_BOOL };

static int
key_is(const msgpack_object *g, enum kt kt, const char *s, int64_t i)
{
	const msgpack_object *k = frame_get(g, "key");

	if (k == NULL)
		return 0;
	switch (kt) {
	case K_NIL:
		return k->type == MSGPACK_OBJECT_NIL;
	case K_STR:
		return frame_streq(k, s);
	case K_INT:
		return (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    i >= 0 && k->via.u64 == (uint64_t)i) ||
		    (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
		    k->via.i64 == i);
	default:
		return k->type == MSGPACK_OBJECT_BOOLEAN &&
		    k->via.boolean == (i != 0);
	}
}

/* The group with that key; fails if there is not exactly one. */
static const msgpack_object *
find(const msgpack_object *a, enum kt kt, const char *s, int64_t i)
{
	const msgpack_object *found = NULL;
	uint32_t k;

	for (k = 0; k < ngroups(a); k++)
		if (key_is(grp(a, k), kt, s, i)) {
			if (found != NULL)
				fail_msg("key %s/%lld twice", s ? s : "",
				    (long long)i);
			found = grp(a, k);
		}
	if (found == NULL)
		fail_msg("no group with key %s/%lld", s ? s : "-", (long long)i);
	return found;
}

/* rows and units of a group */
static void
expect_ru(const msgpack_object *g, uint64_t rows, uint64_t units)
{
	uint64_t r = u64(g, "rows"), u = u64(g, "units");

	if (r != rows || u != units)
		fail_msg("group rows %llu units %llu, want %llu %llu",
		    (unsigned long long)r, (unsigned long long)u,
		    (unsigned long long)rows, (unsigned long long)units);
}

/* An ungrouped result's rows. */
static void
expect_rows(const struct res *r, const char *name, uint64_t want)
{
	const msgpack_object *a = agg(r, name);
	uint64_t got;

	if (ngroups(a) != 1)
		fail_msg("%s: %u groups", name, ngroups(a));
	assert_true(is_nil(grp(a, 0), "key"));
	got = u64(grp(a, 0), "rows");
	if (got != want)
		fail_msg("%s: %llu rows, want %llu", name,
		    (unsigned long long)got, (unsigned long long)want);
}

static void
expect_units(const struct res *r, const char *name, uint64_t want)
{
	const msgpack_object *a = agg(r, name);
	uint64_t got = u64(grp(a, 0), "units");

	if (got != want)
		fail_msg("%s: %llu units, want %llu", name,
		    (unsigned long long)got, (unsigned long long)want);
	assert_int_equal(u64(a, "units"), want);
}

/* n and the fixed-point sum of a group */
static void
expect_sum(const msgpack_object *g, uint64_t n, const char *sum)
{
	uint64_t got = u64(g, "n");

	if (got != n)
		fail_msg("n %llu, want %llu", (unsigned long long)got,
		    (unsigned long long)n);
	expect_str(g, "sum", sum);
}

static void
expect_bins(const msgpack_object *g, const char *key, const uint64_t *want,
    uint32_t n)
{
	const msgpack_object *b = frame_get(g, key);
	uint32_t i;

	if (b == NULL || b->type != MSGPACK_OBJECT_ARRAY ||
	    b->via.array.size != n)
		fail_msg("%s: not an array of %u", key, n);
	for (i = 0; i < n; i++)
		if (b->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    b->via.array.ptr[i].via.u64 != want[i])
			fail_msg("%s[%u] is %llu, want %llu", key, i,
			    (unsigned long long)b->via.array.ptr[i].via.u64,
			    (unsigned long long)want[i]);
}

/* }====== */

/* {====== count, units, empty selections */

static void
test_count(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return { all = v:count(), none = v:where('age', '>', 1000):count(),\n"
	    "  eps = v:count({ epsilon = 0.25 }) }", &r);
	assert_int_equal(r.map->via.map.size, 3);
	/* results come sorted by name */
	assert_true(frame_streq(&r.map->via.map.ptr[0].key, "all"));
	assert_true(frame_streq(&r.map->via.map.ptr[1].key, "eps"));
	assert_true(frame_streq(&r.map->via.map.ptr[2].key, "none"));
	a = agg(&r, "all");
	expect_str(a, "op", "count");
	assert_true(is_nil(a, "by"));
	assert_true(is_bool(a, "declared", 1));
	assert_null(frame_get(a, "col"));
	assert_null(frame_get(a, "epsilon"));
	assert_int_equal(u64(a, "units"), 4);
	assert_int_equal(u64(a, "max_rows_per_unit"), 3);	/* p3 */
	assert_int_equal(u64(a, "max_groups_per_unit"), 1);
	assert_int_equal(ngroups(a), 1);
	expect_ru(grp(a, 0), 8, 4);
	assert_true(is_nil(grp(a, 0), "key"));
	assert_null(frame_get(grp(a, 0), "n"));	/* count counts rows */
	/* an empty selection: one group, nothing in it */
	a = agg(&r, "none");
	assert_int_equal(ngroups(a), 1);
	expect_ru(grp(a, 0), 0, 0);
	assert_int_equal(u64(a, "units"), 0);
	assert_int_equal(u64(a, "max_groups_per_unit"), 0);
	assert_true(dbl(agg(&r, "eps"), "epsilon") == 0.25);
	expect_ru(grp(agg(&r, "eps"), 0), 8, 4);
	assert_int_equal(r.st.rows, 8);
	assert_int_equal(r.st.rows_kept, 8);
	assert_int_equal(r.st.units, 4);
	assert_int_equal(r.st.row_errors, 0);
	assert_int_equal(r.st.row_overruns, 0);
	assert_true(r.st.lua_bytes > 0);
	done(&r);
}

/* }====== */

/* {====== where */

static void
test_where_int_float(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " eq = v:where('age', '=', 30):count(),\n"
	    " eq2 = v:where('age', '==', 30):count(),\n"
	    " ne = v:where('age', '~=', 30):count(),\n"
	    " ne2 = v:where('age', '!=', 30):count(),\n"
	    " lt = v:where('age', '<', 40):count(),\n"
	    " le = v:where('age', '<=', 40):count(),\n"
	    " gt = v:where('age', '>', 50):count(),\n"
	    " ge = v:where('age', '>=', 50):count(),\n"
	    " isin = v:where('age', 'in', {20, 90, 31}):count(),\n"
	    " frac = v:where('age', '<', 30.5):count(),\n"
	    " feq = v:where('cost', '=', 2.25):count(),\n"
	    " fne = v:where('cost', '~=', 10):count(),\n"
	    " flt = v:where('cost', '<', 10):count(),\n"
	    " fle = v:where('cost', '<=', 10):count(),\n"
	    " fgt = v:where('cost', '>', 100):count(),\n"
	    " fge = v:where('cost', '>=', 100):count(),\n"
	    " fin = v:where('cost', 'in', {1.5, 1000, 7}):count(),\n"
	    " chain = v:where('age', '>=', 30):where('cost', '<', 50):count(),\n"
	    "}", &r);
	expect_rows(&r, "eq", 2);
	expect_units(&r, "eq", 1);
	expect_rows(&r, "eq2", 2);
	expect_rows(&r, "ne", 5);	/* the null age never matches */
	expect_units(&r, "ne", 3);
	expect_rows(&r, "ne2", 5);
	expect_rows(&r, "lt", 3);
	expect_rows(&r, "le", 4);
	expect_rows(&r, "gt", 2);
	expect_rows(&r, "ge", 3);
	expect_units(&r, "ge", 2);
	expect_rows(&r, "isin", 2);
	expect_rows(&r, "frac", 3);
	expect_rows(&r, "feq", 1);
	expect_rows(&r, "fne", 6);	/* 7 non-null, one is 10 */
	expect_rows(&r, "flt", 3);
	expect_rows(&r, "fle", 4);
	expect_rows(&r, "fgt", 2);
	expect_rows(&r, "fge", 3);
	expect_rows(&r, "fin", 2);
	expect_rows(&r, "chain", 3);	/* rows 0 1 2 */
	expect_units(&r, "chain", 2);
	done(&r);
}

static void
test_where_bool_date(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " t = v:where('member', '=', true):count(),\n"
	    " f = v:where('member', '=', false):count(),\n"
	    " nt = v:where('member', '~=', true):count(),\n"
	    " nf = v:where('member', '~=', false):count(),\n"
	    " both = v:where('member', 'in', {true, false}):count(),\n"
	    " d_eq = v:where('visit', '=', '2024-01-15'):count(),\n"
	    " d_ne = v:where('visit', '~=', '2024-01-15'):count(),\n"
	    " d_lt = v:where('visit', '<', '2024-01-15'):count(),\n"
	    " d_le = v:where('visit', '<=', '2024-01-15'):count(),\n"
	    " d_gt = v:where('visit', '>', '2024-03-10'):count(),\n"
	    " d_ge = v:where('visit', '>=', '2024-03-10'):count(),\n"
	    " d_in = v:where('visit', 'in', {'2023-12-31', '2025-01-01'}):count(),\n"
	    "}", &r);
	expect_rows(&r, "t", 4);
	expect_units(&r, "t", 4);
	expect_rows(&r, "f", 3);
	expect_rows(&r, "nt", 3);
	expect_rows(&r, "nf", 4);
	expect_rows(&r, "both", 7);	/* not the null */
	expect_rows(&r, "d_eq", 2);
	expect_units(&r, "d_eq", 2);
	expect_rows(&r, "d_ne", 5);
	expect_rows(&r, "d_lt", 1);
	expect_rows(&r, "d_le", 3);
	expect_rows(&r, "d_gt", 2);
	expect_rows(&r, "d_ge", 3);
	expect_rows(&r, "d_in", 2);
	expect_units(&r, "d_in", 2);
	done(&r);
}

static void
test_where_category_string(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " eq = v:where('dx', '=', 'A'):count(),\n"
	    " ne = v:where('dx', '~=', 'A'):count(),\n"
	    " lt = v:where('dx', '<', 'B'):count(),\n"
	    " le = v:where('dx', '<=', 'B'):count(),\n"
	    " gt = v:where('dx', '>', 'B'):count(),\n"
	    " ge = v:where('dx', '>=', 'B'):count(),\n"
	    " isin = v:where('dx', 'in', {'A', 'C', 'Q'}):count(),\n"
	    " nowhere = v:where('dx', '=', 'Q'):count(),\n"
	    " unused = v:where('dx', '=', 'D'):count(),\n"
	    " city = v:where('city', '=', 'X'):count(),\n"
	    " s_eq = v:where('note', '=', 'alpha'):count(),\n"
	    " s_ne = v:where('note', '~=', 'alpha'):count(),\n"
	    " s_lt = v:where('note', '<', 'beta'):count(),\n"
	    " s_le = v:where('note', '<=', 'beta'):count(),\n"
	    " s_gt = v:where('note', '>', 'delta'):count(),\n"
	    " s_ge = v:where('note', '>=', 'delta'):count(),\n"
	    " s_in = v:where('note', 'in', {'beta', 'gamma'}):count(),\n"
	    " s_prefix = v:where('note', '<', 'alphab'):count(),\n"
	    " pid = v:where('pid', '=', 'p3'):count(),\n"
	    "}", &r);
	expect_rows(&r, "eq", 3);
	expect_units(&r, "eq", 3);
	expect_rows(&r, "ne", 4);	/* B B C C; the null never */
	expect_rows(&r, "lt", 3);
	expect_rows(&r, "le", 5);
	expect_rows(&r, "gt", 2);
	expect_rows(&r, "ge", 4);
	expect_rows(&r, "isin", 5);
	expect_rows(&r, "nowhere", 0);
	expect_units(&r, "nowhere", 0);
	expect_rows(&r, "unused", 0);
	expect_rows(&r, "city", 3);
	expect_units(&r, "city", 3);
	expect_rows(&r, "s_eq", 2);
	expect_units(&r, "s_eq", 2);
	expect_rows(&r, "s_ne", 5);
	expect_rows(&r, "s_lt", 2);
	expect_rows(&r, "s_le", 4);
	expect_rows(&r, "s_gt", 2);
	expect_rows(&r, "s_ge", 3);
	expect_rows(&r, "s_in", 3);
	expect_rows(&r, "s_prefix", 2);	/* "alpha" < "alphab" */
	expect_rows(&r, "pid", 3);
	expect_units(&r, "pid", 1);
	done(&r);
}

static void
test_where_derived(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local d = v:derive('band', function(r)\n"
	    "  if r.age == nil then return nil end\n"
	    "  return r.age // 10 * 10\n"
	    "end)\n"
	    "local k = v:derive('kind', function(r) return r.dx end)\n"
	    "local o = v:derive('old', function(r)\n"
	    "  return r.age ~= nil and r.age >= 50\n"
	    "end)\n"
	    "local h = v:derive('half', function(r) return r.cost and r.cost / 2 end)\n"
	    "return {\n"
	    " eq = d:where('band', '=', 30):count(),\n"
	    " ne = d:where('band', '~=', 30):count(),\n"
	    " lt = d:where('band', '<', 50):count(),\n"
	    " le = d:where('band', '<=', 50):count(),\n"
	    " gt = d:where('band', '>', 50):count(),\n"
	    " ge = d:where('band', '>=', 50):count(),\n"
	    " isin = d:where('band', 'in', {30, 90}):count(),\n"
	    " k_eq = k:where('kind', '=', 'A'):count(),\n"
	    " k_ne = k:where('kind', '~=', 'A'):count(),\n"
	    " k_lt = k:where('kind', '<', 'B'):count(),\n"
	    " k_in = k:where('kind', 'in', {'B', 'C'}):count(),\n"
	    " k_num = k:where('kind', '=', 5):count(),\n"
	    " o_t = o:where('old', '=', true):count(),\n"
	    " o_nt = o:where('old', '~=', true):count(),\n"
	    " h_gt = h:where('half', '>', 1):count(),\n"
	    " h_eq = h:where('half', '=', 1.125):count(),\n"
	    " both = d:where('band', '>=', 30):where('age', '<', 60):count(),\n"
	    "}", &r);
	expect_rows(&r, "eq", 2);
	expect_rows(&r, "ne", 5);	/* the missing value never matches */
	expect_rows(&r, "lt", 4);
	expect_rows(&r, "le", 5);
	expect_rows(&r, "gt", 2);
	expect_rows(&r, "ge", 3);
	expect_units(&r, "ge", 2);
	expect_rows(&r, "isin", 3);
	expect_rows(&r, "k_eq", 3);
	expect_rows(&r, "k_ne", 4);
	expect_rows(&r, "k_lt", 3);
	expect_rows(&r, "k_in", 4);
	expect_rows(&r, "k_num", 0);	/* strings are not numbers */
	expect_rows(&r, "o_t", 3);
	expect_rows(&r, "o_nt", 5);
	expect_rows(&r, "h_gt", 5);	/* 1.125 5 50 100 500 */
	expect_rows(&r, "h_eq", 1);
	expect_rows(&r, "both", 4);	/* 30 30 40 50 */
	assert_int_equal(r.st.row_errors, 0);
	done(&r);
}

/* }====== */

/* {====== filter and derive */

static void
test_filter(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " safe = v:filter(function(r) return r.age ~= nil and r.age > 35 end):count(),\n"
	    " fussy = v:filter(function(r) return r.age > 35 end):count(),\n"
	    " truthy = v:filter(function(r) return r.note end):count(),\n"
	    " after = v:where('dx', '=', 'A'):filter(function(r) return r.cost >= 10 end):count(),\n"
	    " before = v:filter(function(r) return r.pid ~= 'p1' end):where('member', '=', true):count(),\n"
	    " dates = v:filter(function(r) return r.visit and r.visit:sub(1, 4) == '2024' end):count(),\n"
	    " bools = v:filter(function(r) return r.member == false end):count(),\n"
	    "}", &r);
	expect_rows(&r, "safe", 4);
	expect_units(&r, "safe", 3);
	expect_rows(&r, "fussy", 4);	/* the null age errs: false */
	expect_rows(&r, "truthy", 7);
	expect_rows(&r, "after", 2);	/* rows 2 3 */
	expect_rows(&r, "before", 3);	/* rows 2 5 7 */
	expect_rows(&r, "dates", 5);
	expect_rows(&r, "bools", 3);
	assert_int_equal(r.st.row_errors, 1);	/* fussy, row 4 */
	assert_int_equal(r.st.row_overruns, 0);
	done(&r);
}

static void
test_derive(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local d = v:derive('band', function(r) return r.age and r.age // 20 end)\n"
	    "local bad = v:derive('t', function(r) return {} end)\n"
	    "local nan = v:derive('nan', function(r) return 0/0 end)\n"
	    "local s = d:derive('twice', function(r) return r.band and r.band * 2 end)\n"
	    "return {\n"
	    " h = d:histogram('band', {0, 1, 2, 3, 4, 5}),\n"
	    " n = d:count(),\n"
	    " t = bad:sum('t', 0, 1),\n"
	    " nan = nan:sum('nan', 0, 1),\n"
	    " s = s:sum('twice', 0, 100),\n"
	    "}", &r);
	/* band: 1 1 2 2 - 3 1 4; derive keeps every row */
	a = agg(&r, "h");
	expect_str(a, "col", "band");
	assert_int_equal(u64(grp(a, 0), "n"), 7);
	assert_int_equal(u64(grp(a, 0), "rows"), 8);
	expect_bins(grp(a, 0), "bins", (const uint64_t[]){ 0, 3, 2, 1, 1 }, 5);
	expect_rows(&r, "n", 8);
	/* a table is no value: missing, and counted as an error */
	expect_sum(grp(agg(&r, "t"), 0), 0, "0");
	assert_int_equal(u64(grp(agg(&r, "t"), 0), "rows"), 8);
	/* NaN is missing too */
	expect_sum(grp(agg(&r, "nan"), 0), 0, "0");
	/* a derived column of a derived column: 2 2 4 4 - 6 2 8 = 28 */
	a = agg(&r, "s");
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(grp(a, 0), 7, "29360128");	/* 28 * 2^20 */
	assert_int_equal(r.st.row_errors, 8);
	done(&r);
}

/* }====== */

/* {====== group_by */

static void
test_group_declared_category(void **state)
{
	struct res r;
	const msgpack_object *a, *g;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local g = v:group_by('dx')\n"
	    "return { n = g:count(), s = g:sum('cost', 0, 500),\n"
	    "  q = g:quantile('age', 0.5, 0, 100),\n"
	    "  e = v:where('age', '>', 1000):group_by('dx'):count() }", &r);
	a = agg(&r, "n");
	expect_str(a, "by", "dx");
	assert_true(is_bool(a, "declared", 1));
	assert_int_equal(u64(a, "units"), 4);
	assert_int_equal(u64(a, "max_groups_per_unit"), 3);	/* p3: A C - */
	/* every declared key, in declared order, then the null group */
	assert_int_equal(ngroups(a), 5);
	assert_true(key_is(grp(a, 0), K_STR, "A", 0));
	assert_true(key_is(grp(a, 1), K_STR, "B", 0));
	assert_true(key_is(grp(a, 2), K_STR, "C", 0));
	assert_true(key_is(grp(a, 3), K_STR, "D", 0));
	assert_true(key_is(grp(a, 4), K_NIL, NULL, 0));
	expect_ru(grp(a, 0), 3, 3);
	expect_ru(grp(a, 1), 2, 2);
	expect_ru(grp(a, 2), 2, 2);
	expect_ru(grp(a, 3), 0, 0);	/* declared, empty */
	expect_ru(grp(a, 4), 1, 1);
	a = agg(&r, "s");
	expect_str(a, "op", "sum");
	expect_str(a, "col", "cost");
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(find(a, K_STR, "A", 0), 3, "116916224");	/* 111.5 */
	expect_sum(find(a, K_STR, "B", 0), 2, "2359296");	/* 2.25 + 0 */
	expect_sum(find(a, K_STR, "C", 0), 2, "734003200");	/* 200 + 500 */
	expect_sum(find(a, K_STR, "D", 0), 0, "0");
	g = find(a, K_NIL, NULL, 0);
	expect_sum(g, 0, "0");		/* row 5: no cost */
	expect_ru(g, 1, 1);
	a = agg(&r, "q");
	assert_true(dbl(find(a, K_STR, "A", 0), "exact") == 40);
	assert_true(dbl(find(a, K_STR, "B", 0), "exact") == 25);
	assert_true(dbl(find(a, K_STR, "C", 0), "exact") == 90);
	assert_true(is_nil(find(a, K_STR, "D", 0), "exact"));
	assert_true(dbl(find(a, K_NIL, NULL, 0), "exact") == 70);
	/* an empty selection still has every declared group, no null one */
	a = agg(&r, "e");
	assert_int_equal(ngroups(a), 4);
	expect_ru(find(a, K_STR, "A", 0), 0, 0);
	expect_ru(find(a, K_STR, "D", 0), 0, 0);
	done(&r);
}

static void
test_group_category_bool(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return { c = v:group_by('city'):count(),\n"
	    "  b = v:group_by('member'):count(),\n"
	    "  m = v:group_by('member'):mean('age', 0, 100),\n"
	    "  e = v:where('age', '>', 1000):group_by('city'):count() }", &r);
	a = agg(&r, "c");
	assert_true(is_bool(a, "declared", 0));	/* not a declared domain */
	assert_int_equal(ngroups(a), 4);
	assert_true(key_is(grp(a, 0), K_STR, "X", 0));
	assert_true(key_is(grp(a, 1), K_STR, "Y", 0));
	assert_true(key_is(grp(a, 2), K_STR, "Z", 0));
	assert_true(key_is(grp(a, 3), K_NIL, NULL, 0));
	expect_ru(grp(a, 0), 3, 3);
	expect_ru(grp(a, 1), 3, 3);
	expect_ru(grp(a, 2), 1, 1);
	expect_ru(grp(a, 3), 1, 1);
	a = agg(&r, "b");
	expect_str(a, "by", "member");
	assert_true(is_bool(a, "declared", 1));	/* bools: both keys */
	assert_int_equal(ngroups(a), 3);
	expect_ru(find(a, K_BOOL, NULL, 0), 3, 3);
	expect_ru(find(a, K_BOOL, NULL, 1), 4, 4);
	expect_ru(find(a, K_NIL, NULL, 0), 1, 1);
	a = agg(&r, "m");
	expect_str(a, "op", "mean");
	assert_int_equal(i64(a, "scale"), 0);
	expect_sum(find(a, K_BOOL, NULL, 0), 2, "50");	/* 30 20 */
	expect_sum(find(a, K_BOOL, NULL, 1), 4, "230");	/* 30 40 70 90 */
	expect_sum(find(a, K_NIL, NULL, 0), 1, "50");
	/* an undeclared category keeps its dictionary's keys when empty */
	a = agg(&r, "e");
	assert_true(is_bool(a, "declared", 0));
	done(&r);
}

static void
test_group_dynamic_keys(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return { age = v:group_by('age'):count(),\n"
	    "  note = v:group_by('note'):count(),\n"
	    "  visit = v:group_by('visit'):count(),\n"
	    "  pid = v:group_by('pid'):sum('age', 0, 100),\n"
	    "  e = v:where('age', '>', 1000):group_by('note'):count() }", &r);
	a = agg(&r, "age");
	assert_true(is_bool(a, "declared", 0));
	assert_int_equal(ngroups(a), 7);
	expect_ru(find(a, K_INT, NULL, 30), 2, 1);
	expect_ru(find(a, K_INT, NULL, 40), 1, 1);
	expect_ru(find(a, K_INT, NULL, 50), 1, 1);
	expect_ru(find(a, K_INT, NULL, 70), 1, 1);
	expect_ru(find(a, K_INT, NULL, 20), 1, 1);
	expect_ru(find(a, K_INT, NULL, 90), 1, 1);
	expect_ru(find(a, K_NIL, NULL, 0), 1, 1);
	assert_int_equal(u64(a, "max_groups_per_unit"), 3);	/* p3 */
	a = agg(&r, "note");
	assert_int_equal(ngroups(a), 6);
	expect_ru(find(a, K_STR, "alpha", 0), 2, 2);
	expect_ru(find(a, K_STR, "beta", 0), 2, 2);
	expect_ru(find(a, K_STR, "gamma", 0), 1, 1);
	expect_ru(find(a, K_STR, "delta", 0), 1, 1);
	expect_ru(find(a, K_STR, "epsilon", 0), 1, 1);
	expect_ru(find(a, K_NIL, NULL, 0), 1, 1);
	a = agg(&r, "visit");
	assert_int_equal(ngroups(a), 7);
	expect_ru(find(a, K_STR, "2024-01-15", 0), 2, 2);
	expect_ru(find(a, K_STR, "2023-12-31", 0), 1, 1);
	expect_ru(find(a, K_STR, "2025-01-01", 0), 1, 1);
	expect_ru(find(a, K_NIL, NULL, 0), 1, 1);
	a = agg(&r, "pid");
	assert_int_equal(ngroups(a), 4);
	expect_sum(find(a, K_STR, "p1", 0), 2, "60");
	expect_sum(find(a, K_STR, "p2", 0), 1, "40");
	expect_sum(find(a, K_STR, "p3", 0), 2, "120");
	expect_ru(find(a, K_STR, "p3", 0), 3, 1);
	expect_sum(find(a, K_STR, "p4", 0), 2, "110");
	assert_int_equal(u64(a, "max_groups_per_unit"), 1);
	/* no rows, no dynamic keys */
	assert_int_equal(ngroups(agg(&r, "e")), 0);
	assert_int_equal(u64(agg(&r, "e"), "units"), 0);
	done(&r);
}

static void
test_group_function_and_derived(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local d = v:derive('band', function(r) return r.age and r.age // 50 end)\n"
	    "return {\n"
	    " f = v:group_by(function(r) return r.age and r.age >= 50 end):count(),\n"
	    " s = v:group_by(function(r) return r.note and r.note:sub(1, 1) end):count(),\n"
	    " bad = v:group_by(function(r) if r.dx == 'A' then return {} end return 1 end):count(),\n"
	    " err = v:group_by(function(r) return r.age + 1 end):count(),\n"
	    " d = d:group_by('band'):sum('cost', 0, 1000),\n"
	    "}", &r);
	a = agg(&r, "f");
	expect_str(a, "by", "function");
	assert_true(is_bool(a, "declared", 0));
	assert_int_equal(ngroups(a), 3);
	expect_ru(find(a, K_BOOL, NULL, 0), 4, 3);
	expect_ru(find(a, K_BOOL, NULL, 1), 3, 2);
	expect_ru(find(a, K_NIL, NULL, 0), 1, 1);
	a = agg(&r, "s");
	/* a: alpha alpha; b: beta beta; g; d; e; nil */
	assert_int_equal(ngroups(a), 6);
	expect_ru(find(a, K_STR, "a", 0), 2, 2);
	expect_ru(find(a, K_STR, "b", 0), 2, 2);
	expect_ru(find(a, K_STR, "e", 0), 1, 1);
	/* a key that is no value leaves the row out */
	a = agg(&r, "bad");
	assert_int_equal(ngroups(a), 1);
	expect_ru(find(a, K_INT, NULL, 1), 5, 3);
	/* an erring key function leaves the row out too */
	a = agg(&r, "err");
	assert_int_equal(ngroups(a), 6);	/* 31 41 51 71 21 91 */
	expect_ru(find(a, K_INT, NULL, 31), 2, 1);
	/* by a derived column: 0 0 0 1 - 1 0 1 */
	a = agg(&r, "d");
	expect_str(a, "by", "band");
	assert_int_equal(ngroups(a), 3);
	expect_ru(find(a, K_INT, NULL, 0), 4, 3);
	expect_sum(find(a, K_INT, NULL, 0), 4, "14417920");	/* 13.75 */
	expect_ru(find(a, K_INT, NULL, 1), 3, 2);
	expect_sum(find(a, K_INT, NULL, 1), 2, "1153433600");	/* 1100 */
	expect_sum(find(a, K_NIL, NULL, 0), 1, "209715200");	/* 200 */
	assert_int_equal(r.st.row_errors, 3 + 1);
	done(&r);
}

/* }====== */

/* {====== sums, clamping, means */

static void
test_sum_fixed_point(void **state)
{
	struct res r;
	const msgpack_object *a;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " age = v:sum('age', 0, 100),\n"
	    " age_clamped = v:sum('age', 25, 60),\n"
	    " age_frac = v:sum('age', 0, 100.5),\n"
	    " age_big = v:sum('age', 0, 2^40),\n"
	    " member = v:sum('member', 0, 1),\n"
	    " cost = v:sum('cost', 0, 500),\n"
	    " cost_neg = v:sum('cost', -10, 500),\n"
	    " cost_all_neg = v:sum('cost', -1000, -1),\n"
	    " cost_wide = v:sum('cost', 0, 1e15),\n"
	    " tenth = v:derive('t', function(r) return 0.1 end):sum('t', 0, 1),\n"
	    " big = v:derive('b', function(r) return 1e15 end):sum('b', 0, 1e15),\n"
	    " mean = v:mean('cost', 0, 500, { epsilon = 0.5 }),\n"
	    " empty = v:where('age', '>', 1000):sum('cost', 0, 500),\n"
	    "}", &r);
	a = agg(&r, "age");
	expect_str(a, "op", "sum");
	expect_str(a, "col", "age");
	assert_true(dbl(a, "lo") == 0 && dbl(a, "hi") == 100);
	assert_int_equal(i64(a, "scale"), 0);	/* ints, integral bounds */
	expect_sum(grp(a, 0), 7, "330");	/* the null is skipped */
	assert_int_equal(u64(grp(a, 0), "rows"), 8);
	expect_sum(grp(agg(&r, "age_clamped"), 0), 7, "295");
	a = agg(&r, "age_frac");
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(grp(a, 0), 7, "346030080");	/* 330 * 2^20 */
	assert_int_equal(i64(agg(&r, "age_big"), "scale"), 0);
	expect_sum(grp(agg(&r, "age_big"), 0), 7, "330");
	assert_int_equal(i64(agg(&r, "member"), "scale"), 0);
	expect_sum(grp(agg(&r, "member"), 0), 7, "4");
	/* 1.5 + 2.25 + 10 + 100 + 200 + 0 (-5) + 500 (1000) = 813.75 */
	a = agg(&r, "cost");
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(grp(a, 0), 7, "853278720");
	expect_sum(grp(agg(&r, "cost_neg"), 0), 7, "848035840");	/* 808.75 */
	expect_sum(grp(agg(&r, "cost_all_neg"), 0), 7, "-11534336");	/* -11 */
	/* |bound| 1e15 < 2^50: the grid is 2^-12 */
	a = agg(&r, "cost_wide");
	assert_int_equal(i64(a, "scale"), 12);
	expect_sum(grp(a, 0), 7, "5381120");	/* 1313.75 * 4096 */
	/* each value is rounded on the grid, then summed: not 0.8 rounded */
	a = agg(&r, "tenth");
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(grp(a, 0), 8, "838864");	/* 8 * round(104857.6) */
	/* past 2^64: 8 * 1e15 * 2^12 */
	expect_sum(grp(agg(&r, "big"), 0), 8, "32768000000000000000");
	a = agg(&r, "mean");
	expect_str(a, "op", "mean");
	assert_true(dbl(a, "epsilon") == 0.5);
	assert_int_equal(i64(a, "scale"), 20);
	expect_sum(grp(a, 0), 7, "853278720");
	expect_sum(grp(agg(&r, "empty"), 0), 0, "0");
	expect_ru(grp(agg(&r, "empty"), 0), 0, 0);
	done(&r);
}

/*
 * The count/sum/mean kernels (fast_values()) against sums worked out here
 * the same way: clamp, scale to the grid, round, add. Group by a category
 * without nulls over all rows (the codes are the group ids, two rows at a
 * time: an odd row count leaves one over), with nulls (ids copied), over
 * a selection, and per numeric type (float, int, bool); and ungrouped.
 */
#define NK	1001
#define NKG	5

static const char *const kkeys[NKG] = { "a", "b", "c", "d", "e" };

struct kref {
	uint64_t	 n[NKG + 1];	/* by key; NKG: the null key */
	int64_t		 sum[NKG + 1];
};

static void
kref_add(struct kref *k, int key, double x, double lo, double hi, int bits)
{
	x = x < lo ? lo : x > hi ? hi : x;
	k->n[key]++;
	k->sum[key] += (int64_t)llrint(ldexp(x, bits));
}

static void
expect_kref(const msgpack_object *a, const struct kref *k, int nkeys,
    int nulls)
{
	char want[32];
	int i;

	assert_int_equal(ngroups(a), nkeys + (nulls ? 1 : 0));
	for (i = 0; i < nkeys; i++) {
		snprintf(want, sizeof(want), "%lld", (long long)k->sum[i]);
		expect_sum(find(a, K_STR, kkeys[i], 0), k->n[i], want);
	}
	if (nulls) {
		snprintf(want, sizeof(want), "%lld", (long long)k->sum[NKG]);
		expect_sum(find(a, K_NIL, NULL, 0), k->n[NKG], want);
	}
}

static void
test_kernels_grouped(void **state)
{
	struct table_builder *b = table_builder_new();
	struct kref kx, ki, kb, kh, ks, kc, kt;
	struct table *t;
	struct res r;
	const msgpack_object *a;
	uint64_t seed = 7, i;
	double x[NK];
	int64_t iv[NK];
	int g[NK], h[NK], bv[NK];
	char want[32];
	void *buf;
	size_t len;

	(void)state;
	memset(&kx, 0, sizeof(kx));
	ki = kb = kh = ks = kc = kt = kx;
	assert_non_null(b);
	assert_int_equal(table_builder_add_column(b, "g", VEIL_T_CATEGORY,
	    VEIL_R_QUASI, TABLE_F_DECLARED), 0);
	assert_int_equal(table_builder_add_column(b, "h", VEIL_T_CATEGORY,
	    VEIL_R_QUASI, TABLE_F_DECLARED), 1);
	assert_int_equal(table_builder_add_column(b, "x", VEIL_T_FLOAT,
	    VEIL_R_INSENSITIVE, 0), 2);
	assert_int_equal(table_builder_add_column(b, "i", VEIL_T_INT,
	    VEIL_R_INSENSITIVE, 0), 3);
	assert_int_equal(table_builder_add_column(b, "b", VEIL_T_BOOL,
	    VEIL_R_INSENSITIVE, 0), 4);
	for (i = 0; i < NKG; i++) {	/* "e" declared, never used in g */
		assert_int_equal(table_builder_dict_add(b, 0, kkeys[i], 1), 0);
		assert_int_equal(table_builder_dict_add(b, 1, kkeys[i], 1), 0);
	}
	for (i = 0; i < NK; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		g[i] = (int)((seed >> 33) % (NKG - 1));
		h[i] = (int)((seed >> 40) % (NKG + 1));	/* NKG: null */
		x[i] = (double)((int64_t)(seed >> 20) % 30000) / 128 - 20;
		iv[i] = (int64_t)((seed >> 12) % 300) - 100;
		bv[i] = (int)((seed >> 50) & 1);
		assert_int_equal(table_builder_category(b, 0, kkeys[g[i]], 1),
		    0);
		assert_int_equal(h[i] == NKG ? table_builder_null(b, 1) :
		    table_builder_category(b, 1, kkeys[h[i]], 1), 0);
		assert_int_equal(table_builder_float(b, 2, x[i]), 0);
		assert_int_equal(table_builder_int(b, 3, iv[i]), 0);
		assert_int_equal(table_builder_bool(b, 4, bv[i]), 0);
		/* bounds [0, 100]: 20 bits; ints and bools: none */
		kref_add(&kx, g[i], x[i], 0, 100, 20);
		kref_add(&ki, g[i], (double)iv[i], 0, 100, 0);
		kref_add(&kb, g[i], bv[i], 0, 1, 0);
		kref_add(&kh, h[i], x[i], 0, 100, 20);
		if (iv[i] > 0)
			kref_add(&ks, g[i], x[i], 0, 100, 20);
		kc.n[g[i]]++;
		kref_add(&kt, 0, x[i], 0, 100, 20);
	}
	assert_int_equal(table_builder_finish(b, &buf, &len, NULL), 0);
	table_builder_free(b);
	assert_int_equal(table_open(buf, len, &t, NULL), 0);
	ok_on(t, &NONE, "local v = veil.dataset()\n"
	    "local g = v:group_by('g')\n"
	    "return { x = g:mean('x', 0, 100), i = g:sum('i', 0, 100),\n"
	    "  b = g:sum('b', 0, 1),\n"
	    "  h = v:group_by('h'):sum('x', 0, 100),\n"
	    "  s = v:where('i', '>', 0):group_by('g'):sum('x', 0, 100),\n"
	    "  c = g:count(), t = v:sum('x', 0, 100) }", &r);
	expect_kref(agg(&r, "x"), &kx, NKG, 0);
	expect_kref(agg(&r, "i"), &ki, NKG, 0);
	expect_kref(agg(&r, "b"), &kb, NKG, 0);
	expect_kref(agg(&r, "h"), &kh, NKG, 1);
	expect_kref(agg(&r, "s"), &ks, NKG, 0);
	a = agg(&r, "t");	/* ungrouped, all rows */
	assert_int_equal(ngroups(a), 1);
	snprintf(want, sizeof(want), "%lld", (long long)kt.sum[0]);
	expect_sum(grp(a, 0), NK, want);
	a = agg(&r, "c");
	for (i = 0; i < NKG; i++)
		expect_ru(find(a, K_STR, kkeys[i], 0), kc.n[i], kc.n[i]);
	done(&r);
	table_free(t);
	free(buf);
}

/* }====== */

/* {====== quantiles and histograms */

static void
test_quantile(void **state)
{
	struct res r;
	const msgpack_object *a, *b;
	uint64_t total = 0;
	uint32_t i;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " med = v:quantile('age', 0.5, 0, 128),\n"
	    " q0 = v:quantile('age', 0, 0, 120),\n"
	    " q1 = v:quantile('age', 1, 0, 120),\n"
	    " q25 = v:quantile('age', 0.25, 0, 120),\n"
	    " q75 = v:quantile('age', 0.75, 0, 120),\n"
	    " q60 = v:quantile('age', 0.6, 0, 120),\n"
	    " cmed = v:quantile('cost', 0.5, 0, 500),\n"
	    " cmax = v:quantile('cost', 1, 0, 500),\n"
	    " cmin = v:quantile('cost', 0, 0, 500),\n"
	    " empty = v:where('age', '>', 1000):quantile('age', 0.5, 0, 120),\n"
	    "}", &r);
	/* ages, sorted: 20 30 30 40 50 70 90 */
	a = agg(&r, "med");
	expect_str(a, "op", "quantile");
	assert_true(dbl(a, "q") == 0.5);
	assert_int_equal(u64(a, "grid"), 256);
	assert_int_equal(u64(grp(a, 0), "n"), 7);
	assert_int_equal(u64(grp(a, 0), "rows"), 8);
	assert_true(dbl(grp(a, 0), "exact") == 40);
	/* the grid: 256 bins over [0, 128], bin = 2 * age */
	b = frame_get(grp(a, 0), "bins");
	assert_non_null(b);
	assert_int_equal(b->via.array.size, 256);
	for (i = 0; i < 256; i++)
		total += b->via.array.ptr[i].via.u64;
	assert_int_equal(total, 7);
	assert_int_equal(b->via.array.ptr[60].via.u64, 2);
	assert_int_equal(b->via.array.ptr[40].via.u64, 1);
	assert_int_equal(b->via.array.ptr[180].via.u64, 1);
	assert_true(dbl(grp(agg(&r, "q0"), 0), "exact") == 20);
	assert_true(dbl(grp(agg(&r, "q1"), 0), "exact") == 90);
	assert_true(dbl(grp(agg(&r, "q25"), 0), "exact") == 30);	/* h 1.5 */
	assert_true(dbl(grp(agg(&r, "q75"), 0), "exact") == 60);	/* h 4.5 */
	/* h = 3.6: 40 + 0.6 * 10 */
	assert_true(fabs(dbl(grp(agg(&r, "q60"), 0), "exact") - 46) < 1e-9);
	/* clamped: 0 1.5 2.25 10 100 200 500 */
	assert_true(dbl(grp(agg(&r, "cmed"), 0), "exact") == 10);
	assert_true(dbl(grp(agg(&r, "cmax"), 0), "exact") == 500);
	assert_true(dbl(grp(agg(&r, "cmin"), 0), "exact") == 0);
	assert_true(is_nil(grp(agg(&r, "empty"), 0), "exact"));
	assert_int_equal(u64(grp(agg(&r, "empty"), 0), "n"), 0);
	done(&r);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
type7(const double *s, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t i = (size_t)floor(h);

	if (i + 1 >= n || h == (double)i)
		return s[i];
	return s[i] + (h - (double)i) * (s[i + 1] - s[i]);
}

/* Many duplicates, nulls, and distinct values: against a full sort. */
static void
test_quantile_reference(void **state)
{
	static const double qs[] = { 0, 0.001, 0.1, 0.25, 1.0 / 3, 0.5, 0.61,
	    0.9, 0.999, 1 };
	static const char *const names[] = { "a", "b", "c", "d", "e", "f",
	    "g", "h", "i", "j" };
	static double xs[NQ], ys[NQ];
	char src[4096], key[8];
	size_t nx = 0, i;
	struct res r;
	int k, len;

	(void)state;
	len = snprintf(src, sizeof(src), "local v = veil.dataset()\nreturn {\n");
	for (k = 0; k < 10; k++)
		len += snprintf(src + len, sizeof(src) - (size_t)len,
		    " x%s = v:quantile('x', %.17g, -100, 100),\n"
		    " y%s = v:quantile('y', %.17g, 0, 1),\n",
		    names[k], qs[k], names[k], qs[k]);
	snprintf(src + len, sizeof(src) - (size_t)len, "}");
	ok_on(tq, &NONE, src, &r);
	for (i = 0; i < NQ; i++)
		if (!qnull[i])
			xs[nx++] = qvals[i];
	qsort(xs, nx, sizeof(double), cmp_dbl);
	{
		/* y: read back from the table, as the builder stored it */
		const struct table_colview *v = table_column(tq, 1);

		for (i = 0; i < NQ; i++)
			ys[i] = ((const double *)v->data)[i];
		qsort(ys, NQ, sizeof(double), cmp_dbl);
	}
	assert_true(nx > 900 && nx < NQ);
	for (k = 0; k < 10; k++) {
		double got, want;

		snprintf(key, sizeof(key), "x%s", names[k]);
		assert_int_equal(u64(grp(agg(&r, key), 0), "n"), nx);
		got = dbl(grp(agg(&r, key), 0), "exact");
		want = type7(xs, nx, qs[k]);
		if (got != want)
			fail_msg("x q=%g: %.17g, want %.17g", qs[k], got, want);
		snprintf(key, sizeof(key), "y%s", names[k]);
		got = dbl(grp(agg(&r, key), 0), "exact");
		want = type7(ys, NQ, qs[k]);
		if (got != want)
			fail_msg("y q=%g: %.17g, want %.17g", qs[k], got, want);
	}
	done(&r);
}

static void
test_histogram(void **state)
{
	struct res r;
	const msgpack_object *a, *g;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "return {\n"
	    " h = v:histogram('age', {0, 18, 30, 65, 90}),\n"
	    " out = v:histogram('age', {25, 45, 60}),\n"
	    " edge = v:histogram('age', {20, 50, 90}),\n"
	    " f = v:histogram('cost', {0, 2.25, 100.5}, { epsilon = 1 }),\n"
	    " g = v:group_by('member'):histogram('age', {0, 50, 100}),\n"
	    "}", &r);
	/* 30 30 40 50 - 70 20 90 */
	a = agg(&r, "h");
	expect_str(a, "op", "histogram");
	expect_str(a, "col", "age");
	assert_null(frame_get(a, "lo"));
	g = grp(a, 0);
	assert_int_equal(u64(g, "n"), 7);
	assert_int_equal(u64(g, "rows"), 8);
	expect_bins(g, "bins", (const uint64_t[]){ 0, 1, 4, 2 }, 4);
	expect_bins(g, "bin_units", (const uint64_t[]){ 0, 1, 3, 2 }, 4);
	assert_int_equal(u64(g, "below"), 0);
	assert_int_equal(u64(g, "above"), 0);
	{
		const msgpack_object *e = frame_get(a, "edges");

		assert_non_null(e);
		assert_int_equal(e->via.array.size, 5);
		assert_true(e->via.array.ptr[3].via.f64 == 65);
	}
	/* outside the edges: below and above, with their units */
	g = grp(agg(&r, "out"), 0);
	expect_bins(g, "bins", (const uint64_t[]){ 3, 1 }, 2);
	expect_bins(g, "bin_units", (const uint64_t[]){ 2, 1 }, 2);
	assert_int_equal(u64(g, "below"), 1);
	assert_int_equal(u64(g, "below_units"), 1);
	assert_int_equal(u64(g, "above"), 2);
	assert_int_equal(u64(g, "above_units"), 2);
	/* an inner edge opens the next bin; the last bin is closed */
	g = grp(agg(&r, "edge"), 0);
	expect_bins(g, "bins", (const uint64_t[]){ 4, 3 }, 2);
	assert_int_equal(u64(g, "below"), 0);
	assert_int_equal(u64(g, "above"), 0);
	/* floats: 1.5 | 2.25 10 100 | -5 below, 200 1000 above */
	a = agg(&r, "f");
	assert_true(dbl(a, "epsilon") == 1);
	g = grp(a, 0);
	expect_bins(g, "bins", (const uint64_t[]){ 1, 3 }, 2);
	expect_bins(g, "bin_units", (const uint64_t[]){ 1, 3 }, 2);
	assert_int_equal(u64(g, "below"), 1);
	assert_int_equal(u64(g, "above"), 2);
	assert_int_equal(u64(g, "above_units"), 2);
	/* grouped: false 30 - 20; true 30 40 70 90; null 50 */
	a = agg(&r, "g");
	expect_bins(find(a, K_BOOL, NULL, 0), "bins",
	    (const uint64_t[]){ 2, 0 }, 2);
	expect_bins(find(a, K_BOOL, NULL, 1), "bins",
	    (const uint64_t[]){ 2, 2 }, 2);
	expect_bins(find(a, K_NIL, NULL, 0), "bins",
	    (const uint64_t[]){ 0, 1 }, 2);
	done(&r);
}

/* }====== */

/* {====== privacy units and contribution bounding */

static void
test_bound(void **state)
{
	struct jopt o = NONE;
	struct res r;
	const msgpack_object *a;

	(void)state;
	o.mrpu = 3;
	ok_on(tbound, &o, "local v = veil.dataset()\n"
	    "return { n = v:count(), g = v:group_by('u'):count(),\n"
	    "  s = v:where('v', '>=', 100):sum('v', 0, 1000) }", &r);
	assert_int_equal(r.st.rows, 13);
	assert_int_equal(r.st.rows_kept, 6);	/* 3 + 1 + 2 */
	assert_int_equal(r.st.units, 3);
	a = agg(&r, "n");
	expect_ru(grp(a, 0), 6, 3);
	assert_int_equal(u64(a, "max_rows_per_unit"), 3);
	a = agg(&r, "g");
	expect_ru(find(a, K_INT, NULL, 1), 3, 1);
	expect_ru(find(a, K_INT, NULL, 2), 1, 1);
	expect_ru(find(a, K_INT, NULL, 3), 2, 1);
	/* units under the bound keep every row */
	expect_sum(grp(agg(&r, "s"), 0), 3, "501");
	done(&r);

	/* no bound: everything, and the largest contribution reported */
	o.mrpu = 0;
	ok_on(tbound, &o, "return { n = veil.dataset():count() }", &r);
	assert_int_equal(r.st.rows_kept, 13);
	expect_ru(grp(agg(&r, "n"), 0), 13, 3);
	assert_int_equal(u64(agg(&r, "n"), "max_rows_per_unit"), 10);
	done(&r);

	/* a bound of 1 */
	o.mrpu = 1;
	ok_on(tbound, &o, "return { n = veil.dataset():count() }", &r);
	assert_int_equal(r.st.rows_kept, 3);
	expect_ru(grp(agg(&r, "n"), 0), 3, 3);
	done(&r);
}

/* Which of unit 1's rows are kept is random, and each gets its chance. */
static void
test_bound_random(void **state)
{
	struct jopt o = NONE;
	unsigned int hits[10] = { 0 }, run, i, sets = 0;
	unsigned int seen[1024] = { 0 };
	struct res r;
	const msgpack_object *b;

	(void)state;
	o.mrpu = 3;
	for (run = 0; run < 200; run++) {
		unsigned int kept = 0, mask = 0;

		ok_on(tbound, &o, "return { h = veil.dataset():histogram('v',\n"
		    "  {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) }", &r);
		b = frame_get(grp(agg(&r, "h"), 0), "bins");
		assert_non_null(b);
		assert_int_equal(b->via.array.size, 10);
		for (i = 0; i < 10; i++) {
			uint64_t x = b->via.array.ptr[i].via.u64;

			assert_true(x <= 1);
			kept += (unsigned)x;
			hits[i] += (unsigned)x;
			mask |= (unsigned)x << i;
		}
		assert_int_equal(kept, 3);
		assert_int_equal(u64(grp(agg(&r, "h"), 0), "above"), 3);
		if (!seen[mask]++)
			sets++;
		done(&r);
	}
	/* Binomial(200, 0.3): mean 60, sd 6.5; a row never kept has
	 * probability 0.7^200 */
	for (i = 0; i < 10; i++)
		if (hits[i] < 25 || hits[i] > 100)
			fail_msg("row v=%u kept %u times in 200", i, hits[i]);
	assert_true(sets >= 40);	/* of the 120 possible subsets */
}

static void
test_row_units(void **state)
{
	struct jopt o = NONE;
	struct res r;
	const msgpack_object *a;

	(void)state;
	o.mrpu = 1;
	ok_on(trow, &o, "local v = veil.dataset()\n"
	    "return { n = v:count(), g = v:group_by('k'):sum('x', 0, 10) }", &r);
	assert_int_equal(r.st.rows_kept, 5);
	assert_int_equal(r.st.units, 5);
	a = agg(&r, "n");
	expect_ru(grp(a, 0), 5, 5);	/* every row its own unit */
	assert_int_equal(u64(a, "max_rows_per_unit"), 1);
	a = agg(&r, "g");
	expect_ru(find(a, K_STR, "a", 0), 2, 2);
	expect_sum(find(a, K_STR, "a", 0), 2, "3");
	expect_ru(find(a, K_STR, "b", 0), 3, 3);
	expect_sum(find(a, K_STR, "b", 0), 3, "12");
	done(&r);

	/* a category unit column */
	o.mrpu = 0;
	ok_on(tcat, &o, "return { n = veil.dataset():count(),\n"
	    " s = veil.dataset():group_by('who'):sum('x', 0, 10) }", &r);
	expect_ru(grp(agg(&r, "n"), 0), 3, 2);
	expect_sum(find(agg(&r, "s"), K_STR, "a", 0), 2, "4");
	expect_ru(find(agg(&r, "s"), K_STR, "a", 0), 2, 1);
	done(&r);
}

/* }====== */

/* {====== purity of row functions */

/* d's column 'c' must be 1 in every row: no state crossed rows. */
static void
expect_all_one(const char *what, const char *fn)
{
	char src[2048];
	struct res r;
	const msgpack_object *g;

	snprintf(src, sizeof(src), "local v = veil.dataset()\n%s\n"
	    "local d = v:derive('c', f)\n"
	    "return { h = d:histogram('c', {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) }",
	    fn);
	ok(src, &r);
	g = grp(agg(&r, "h"), 0);
	if (u64(g, "n") != NMAIN || frame_get(g, "bins") == NULL ||
	    frame_get(g, "bins")->via.array.ptr[1].via.u64 != NMAIN) {
		uint64_t b[9];
		uint32_t i;

		for (i = 0; i < 9; i++)
			b[i] = frame_get(g, "bins")->via.array.ptr[i].via.u64;
		fail_msg("%s: n=%llu, values 0..8 seen %llu %llu %llu %llu "
		    "%llu %llu %llu %llu %llu times (errors %llu)", what,
		    (unsigned long long)u64(g, "n"),
		    (unsigned long long)b[0], (unsigned long long)b[1],
		    (unsigned long long)b[2], (unsigned long long)b[3],
		    (unsigned long long)b[4], (unsigned long long)b[5],
		    (unsigned long long)b[6], (unsigned long long)b[7],
		    (unsigned long long)b[8],
		    (unsigned long long)r.st.row_errors);
	}
	done(&r);
}

/*
 * d's column 'c' never exceeds 1: a write either fails (an error: the
 * default) or is undone before the next row.
 */
static void
expect_no_growth(const char *what, const char *fn)
{
	char src[2048];
	struct res r;
	const msgpack_object *g;

	snprintf(src, sizeof(src), "local v = veil.dataset()\n%s\n"
	    "local d = v:derive('c', f)\n"
	    "return { big = d:where('c', '>', 1):count(),\n"
	    "  one = d:where('c', '=', 1):count() }", fn);
	ok(src, &r);
	g = grp(agg(&r, "big"), 0);
	if (u64(g, "rows") != 0)
		fail_msg("%s: %llu rows saw state of earlier rows", what,
		    (unsigned long long)u64(g, "rows"));
	/* every row either errs or sees a fresh state */
	assert_int_equal(u64(grp(agg(&r, "one"), 0), "rows") + r.st.row_errors,
	    NMAIN);
	done(&r);
}

static void
test_purity_upvalues(void **state)
{
	struct res r;

	(void)state;
	expect_all_one("counter",
	    "local counter = 0\n"
	    "local f = function(r) counter = counter + 1; return counter end");
	expect_all_one("two functions share an upvalue",
	    "local n = 0\n"
	    "local g = function(r) n = n + 1 return n end\n"
	    "v:derive('other', g)\n"
	    "local f = function(r) n = n + 1 return n end");
	expect_no_growth("table field",
	    "local t = { n = 0 }\n"
	    "local f = function(r) t.n = t.n + 1; return t.n end");
	expect_no_growth("table.insert",
	    "local t = {}\n"
	    "local f = function(r) table.insert(t, r.age); return #t end");
	expect_no_growth("nested table",
	    "local t = { inner = { n = 0 } }\n"
	    "local f = function(r) t.inner.n = t.inner.n + 1; return t.inner.n end");
	/* rawset is not there to get around a read-only table */
	expect_no_growth("rawset",
	    "local t = { n = 0 }\n"
	    "local f = function(r) rawset(t, 'n', t.n + 1); return t.n end");
	/* the chunk's own variables are untouched by the row functions */
	ok("local v = veil.dataset()\n"
	    "local counter = 0\n"
	    "local d = v:derive('c', function(r) counter = counter + 1 return counter end)\n"
	    "local m = d:column('c')\n"
	    "if counter ~= 0 then error('counter leaked: ' .. counter) end\n"
	    "for i = 1, 8 do if m[i] ~= 1 then error('row ' .. i .. ': ' .. tostring(m[i])) end end\n"
	    "return { n = d:count() }", &r);
	done(&r);
}

/* A closure called by the row function keeps its own upvalues. */
static void
test_purity_nested_closure(void **state)
{
	(void)state;
	/* the assignment is in a prototype nested in the row function */
	expect_all_one("a nested closure assigns the row function's upvalue",
	    "local n = 0\n"
	    "local f = function(r)\n"
	    "  local function inc() n = n + 1 end\n"
	    "  inc()\n"
	    "  return n\n"
	    "end");
	expect_all_one("a nested closure two levels down",
	    "local n = 0\n"
	    "local f = function(r)\n"
	    "  local function outer() return function() n = n + 1 return n end end\n"
	    "  return outer()()\n"
	    "end");
	expect_all_one("a helper's counter",
	    "local n = 0\n"
	    "local function inc() n = n + 1 return n end\n"
	    "local f = function(r) return inc() end");
	expect_no_growth("a helper's table",
	    "local t = { n = 0 }\n"
	    "local function inc() t.n = t.n + 1 return t.n end\n"
	    "local f = function(r) return inc() end");
}

/* Iterating a frozen table must not hand out a writable one. */
static void
test_purity_pairs_backdoor(void **state)
{
	(void)state;
	expect_no_growth("pairs() of an upvalue table",
	    "local t = { n = 0 }\n"
	    "local f = function(r)\n"
	    "  local _, s = pairs(t)\n"
	    "  s.n = s.n + 1\n"
	    "  return s.n\n"
	    "end");
	expect_no_growth("pairs() of math",
	    "local f = function(r)\n"
	    "  local _, m = pairs(math)\n"
	    "  m.c = (m.c or 0) + 1\n"
	    "  return m.c\n"
	    "end");
}

static void
test_purity_globals(void **state)
{
	struct res r;

	(void)state;
	/* assigning a global fails: the row gets the default */
	ok("local v = veil.dataset()\n"
	    "local d = v:derive('c', function(r) x = 1; return 1 end)\n"
	    "return { one = d:where('c', '=', 1):count(), s = d:sum('c', 0, 1),\n"
	    "  f = v:filter(function(r) y = 2; return true end):count() }", &r);
	expect_rows(&r, "one", 0);
	expect_sum(grp(agg(&r, "s"), 0), 0, "0");
	expect_rows(&r, "f", 0);
	assert_int_equal(r.st.row_errors, 2 * NMAIN);
	done(&r);

	/* what a row function sees of the world */
	ok("local v = veil.dataset()\n"
	    "local function absent(r)\n"
	    "  return math.random == nil and math.randomseed == nil and print == nil\n"
	    "    and setmetatable == nil and getmetatable == nil and veil == nil\n"
	    "    and load == nil and collectgarbage == nil and rawset == nil\n"
	    "    and os == nil and io == nil and debug == nil and require == nil\n"
	    "    and string.dump == nil\n"
	    "end\n"
	    "local function present(r)\n"
	    "  return string.upper('a') == 'A' and ('b'):rep(2) == 'bb'\n"
	    "    and table.concat({1, 2}, ',') == '1,2' and utf8.char(65) == 'A'\n"
	    "    and select('#', 1, 2) == 2 and tostring(1) == '1'\n"
	    "end\n"
	    "local function ro(r)\n"
	    "  return not pcall(function() math.floor = nil end)\n"
	    "    and not pcall(function() string.x = 1 end)\n"
	    "    and not pcall(function() r.age = 1 end)\n"
	    "end\n"
	    "return { a = v:filter(absent):count(), p = v:filter(present):count(),\n"
	    "  ro = v:filter(ro):count() }", &r);
	expect_rows(&r, "a", NMAIN);
	expect_rows(&r, "p", NMAIN);
	expect_rows(&r, "ro", NMAIN);
	assert_int_equal(r.st.row_errors, 0);
	done(&r);
}

/* math without its state: everything but random and randomseed. */
static void
test_rowenv_math(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local m = v:filter(function(r)\n"
	    "  return math.floor(2.5) == 2 and math.abs(-3) == 3\n"
	    "    and math.max(1, 4) == 4 and math.huge > 0 and math.pi > 3\n"
	    "    and math.random == nil and math.randomseed == nil\n"
	    "end)\n"
	    "local d = v:derive('c', function(r) return r.cost and math.sqrt(math.abs(r.cost)) end)\n"
	    "return { m = m:count(), d = d:where('c', '=', 10):count() }", &r);
	expect_rows(&r, "m", NMAIN);
	expect_rows(&r, "d", 1);	/* sqrt(100) */
	assert_int_equal(r.st.row_errors, 0);
	done(&r);
}

static void
test_row_errors(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local d = v:derive('c', function(r) error('x') end)\n"
	    "return {\n"
	    " f = v:filter(function(r) error('x') end):count(),\n"
	    " d = d:count(), s = d:sum('c', 0, 1),\n"
	    " col = v:filter(function(r) return r.nope == nil end):count(),\n"
	    " some = v:filter(function(r) if r.dx == 'A' then error({}) end return true end):count(),\n"
	    "}", &r);
	expect_rows(&r, "f", 0);
	expect_rows(&r, "d", NMAIN);	/* derive keeps rows, values missing */
	expect_sum(grp(agg(&r, "s"), 0), 0, "0");
	expect_rows(&r, "col", 0);	/* an unknown column is an error */
	expect_rows(&r, "some", 5);
	assert_int_equal(r.st.row_errors, NMAIN + NMAIN + NMAIN + 3);
	assert_int_equal(r.st.row_overruns, 0);
	done(&r);
}

static void
test_row_overrun(void **state)
{
	struct jopt o = NONE;
	struct res r;

	(void)state;
	o.insns = 1000;
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return {\n"
	    " f = v:filter(function(r) while true do end end):count(),\n"
	    " some = v:filter(function(r)\n"
	    "   if r.age == 30 then while true do end end\n"
	    "   return true\n"
	    " end):count(),\n"
	    " d = v:derive('c', function(r) local i = 0 while true do i = i + 1 end end):sum('c', 0, 1),\n"
	    " ok = v:filter(function(r) local s = 0 for i = 1, 50 do s = s + i end return s == 1275 end):count(),\n"
	    "}", &r);
	expect_rows(&r, "f", 0);
	expect_rows(&r, "some", 6);
	expect_sum(grp(agg(&r, "d"), 0), 0, "0");
	expect_rows(&r, "ok", NMAIN);	/* the cap is per row, not per job */
	assert_int_equal(r.st.row_overruns, NMAIN + 2 + NMAIN);
	assert_int_equal(r.st.row_errors, 0);
	done(&r);

	/* pcall inside the row function cannot swallow the overrun */
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return { f = v:filter(function(r)\n"
	    "  pcall(function() while true do end end)\n"
	    "  return true\n"
	    "end):count() }", &r);
	expect_rows(&r, "f", 0);
	assert_int_equal(r.st.row_overruns, NMAIN);
	done(&r);
}

/* The same, with the function on one line (no line event after pcall). */
static void
test_row_overrun_pcall_one_line(void **state)
{
	struct jopt o = NONE;
	struct res r;

	(void)state;
	o.insns = 1000;
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return { f = v:filter(function(r) pcall(function() while true do end end) return true end):count() }",
	    &r);
	if (r.st.row_overruns != NMAIN)
		fail_msg("pcall swallowed the per-row cap: %llu rows kept, "
		    "%llu overruns", (unsigned long long)u64(grp(agg(&r, "f"),
		    0), "rows"), (unsigned long long)r.st.row_overruns);
	expect_rows(&r, "f", 0);
	done(&r);
}

/* {====== compiled row functions (rowprog.c) */

/*
 * The row function `function(r) return E end` through its compiled form
 * against the interpreter (the same with a call, which keeps it from
 * compiling): a derive gives the same values, a filter keeps the same
 * rows (by key), and both count the same errors. pre declares upvalues
 * and v (derived columns made by interpreted functions, never failing).
 * want: the compiled form must have answered some rows.
 */
static void
expect_same(const struct table *t, const char *pre, const char *key,
    const char *e, int want)
{
	char src[4096];
	struct res r;
	uint64_t errs, kept;

	snprintf(src, sizeof(src), "%s\n"
	    "local b = v:derive('db', function(r) local _ = type(r) return %s end)\n"
	    "return { n = v:filter(function(r) local _ = type(r) return %s end):count(),\n"
	    "  s = b:count() }", pre, e, e);
	run_on(t, &NONE, src, &r);
	if (r.f != RT_OK)
		fail_msg("%s: interpreted: %s", e, r.msg);
	if (r.st.row_compiled != 0)
		fail_msg("%s: compiled a function that calls", e);
	errs = r.st.row_errors;
	kept = u64(grp(agg(&r, "n"), 0), "rows");
	done(&r);
	snprintf(src, sizeof(src), "%s\n"
	    "local a = v:derive('da', function(r) return %s end)\n"
	    "local b = a:derive('db', function(r) local _ = type(r) return %s end)\n"
	    "local fa = v:filter(function(r) return %s end)\n"
	    "local fb = v:filter(function(r) local _ = type(r) return %s end)\n"
	    "local ca, cb = b:column('da'), b:column('db')\n"
	    "for i = 1, %d do\n"
	    "  if ca[i] ~= cb[i] then\n"
	    "    error(('row %%d: %%s, not %%s'):format(i, tostring(ca[i]), tostring(cb[i])))\n"
	    "  end\n"
	    "end\n"
	    "local ka = table.concat(fa:column('%s'), ',')\n"
	    "local kb = table.concat(fb:column('%s'), ',')\n"
	    "if ka ~= kb then error('kept ' .. ka .. ', not ' .. kb) end\n"
	    "return { n = fa:count() }", pre, e, e, e, e,
	    (int)table_nrows(t), key, key);
	run_on(t, &NONE, src, &r);
	if (r.f != RT_OK)
		fail_msg("%s: %s", e, r.msg);
	if (r.st.row_errors != 2 * errs)
		fail_msg("%s: %llu errors, want %llu", e,
		    (unsigned long long)r.st.row_errors,
		    (unsigned long long)(2 * errs));
	if (u64(grp(agg(&r, "n"), 0), "rows") != kept)
		fail_msg("%s: kept %llu rows, want %llu", e,
		    (unsigned long long)u64(grp(agg(&r, "n"), 0), "rows"),
		    (unsigned long long)kept);
	if (want && r.st.row_compiled == 0)
		fail_msg("%s: not compiled", e);
	if (!want && r.st.row_compiled != 0)
		fail_msg("%s: compiled %llu rows, want none", e,
		    (unsigned long long)r.st.row_compiled);
	done(&r);
}

static void
test_compiled_numbers(void **state)
{
	static const char pre[] =
	    "local lim, big, yes, none = 3, 2^53, true, nil\n"
	    "local v = veil.dataset()\n"
	    "  :derive('h', function(r) local _ = type(r) return r.n and r.n / 2 end)\n"
	    "  :derive('hs', function(r) local _ = type(r)\n"
	    "    return r.n and (r.n > 3 and 'big' or r.n > 0) end)";
	static const struct {
		const char	*e;
		int		 want;	/* some rows compiled */
	} c[] = {
		/* integers wrap; / and ^ are floats; // and % floor */
		{ "r.i + 1", 1 }, { "r.i - 1", 1 }, { "r.i - r.f", 1 },
		{ "r.i * r.i", 1 }, { "r.i * 3", 1 }, { "r.f * 1.1", 1 },
		{ "9223372036854775807 + r.i", 1 }, { "r.i + 0.0", 1 },
		{ "r.i // 3", 1 }, { "r.i % 3", 1 }, { "r.i // -3", 1 },
		{ "r.i % -3", 1 }, { "r.i // -1", 1 }, { "r.i % -1", 1 },
		{ "r.f // 2", 1 }, { "r.f % -2", 1 }, { "r.f % 2.5", 1 },
		{ "r.i // 1.0", 1 }, { "r.i / 2", 1 }, { "r.i / 0", 1 },
		{ "r.i ^ 2", 1 }, { "r.f ^ 0.5", 1 }, { "2 ^ r.k", 1 },
		{ "-r.i", 1 }, { "-r.f", 1 }, { "r.i * 1.5", 1 },
		/* integer division by zero is an error (the interpreter's) */
		{ "r.i // 0", 0 }, { "r.i % 0", 0 }, { "r.k % (r.k - 3)", 1 },
		{ "r.f // 0", 1 }, { "r.f % 0", 1 },
		/* a float where an integer was, or not: // 0 tells */
		{ "(r.i + r.k) // 0", 0 }, { "(r.f + r.k) // 0", 1 },
		{ "(r.i / 1) // 0", 1 }, { "(r.h or 0) // 0", 1 },
		/* comparisons, mixed, at 2^53 and beyond */
		{ "r.i < r.f", 1 }, { "r.i <= r.f", 1 }, { "r.f < r.i", 1 },
		{ "r.f <= r.i", 1 }, { "r.i == r.f", 1 }, { "r.i ~= r.f", 1 },
		{ "r.i > 3", 1 }, { "r.i >= 3", 1 }, { "r.i < 3", 1 },
		{ "r.i <= -3", 1 }, { "r.f > 0", 1 }, { "r.f >= -2", 1 },
		{ "r.f < 0.5", 1 }, { "r.i == 7", 1 }, { "r.f == 0", 1 },
		{ "r.f == -3", 1 }, { "r.i == 7.0", 1 }, { "r.i == 0.5", 1 },
		{ "r.f == 9007199254740993", 1 },
		{ "r.i < 9007199254740992.0", 1 },
		{ "r.f < 9007199254740993", 0 }, { "r.i < 1e300", 1 },
		{ "r.i + 0.0 == r.i", 1 }, { "r.i + 1 > r.i", 1 },
		{ "-r.f == r.f", 1 }, { "1 / r.f > 0", 1 },
		/* booleans, nils, and/or/not */
		{ "not r.i", 1 }, { "not r.b", 1 }, { "r.b", 1 },
		{ "r.b == true", 1 }, { "r.b ~= false", 1 }, { "r.b == nil", 1 },
		{ "r.n", 1 }, { "r.n + 1", 1 }, { "r.n > 3", 1 },
		{ "r.n and r.n + 1", 1 }, { "r.n or -1", 1 },
		{ "r.n ~= nil and r.n > 3", 1 }, { "r.n or r.i", 1 },
		{ "r.i > 0 and r.f or -1", 1 }, { "(r.i > 0) == (r.f > 0)", 1 },
		{ "r.b and 1 or 0", 1 }, { "r.b == r.n", 1 }, { "r.b < 1", 0 },
		{ "nil", 1 }, { "false", 1 }, { "r", 0 },
		/* upvalues: values fixed when the plan is made */
		{ "r.i > lim", 1 }, { "r.f * big", 1 }, { "yes and r.i", 1 },
		{ "none == r.n", 1 }, { "r.k + lim // 2", 1 },
		/* derived columns: numbers, booleans, strings */
		{ "r.h", 1 }, { "r.h + 1", 1 }, { "r.h == 2", 1 },
		{ "r.h * 2 // 1", 1 }, { "r.hs", 1 }, { "r.hs == true", 1 },
		{ "not r.hs", 1 }, { "r.hs and 1", 1 },
		/* what is never compiled */
		{ "r.nope", 0 }, { "r.k .. ''", 0 }, { "r['k']", 1 },
		{ "math.floor(r.f)", 0 }, { "#tostring(r.k)", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		expect_same(tnum, pre, "k", c[i].e, c[i].want);
	expect_same(tmain, "local v = veil.dataset()", "pid",
	    "r.age >= 35", 1);
	expect_same(tmain, "local v = veil.dataset()", "pid",
	    "r.age and r.age // 20", 1);
	expect_same(tmain, "local v = veil.dataset()", "pid",
	    "r.cost > 5 and r.member", 1);
	expect_same(tmain, "local v = veil.dataset()", "pid",
	    "r.visit", 0);
	expect_same(tmain, "local v = veil.dataset()", "pid",
	    "r.dx == 'A'", 0);
}

/* Longer than the per-row cap: never compiled, so it still overruns. */
static void
test_compiled_cap(void **state)
{
	struct jopt o = NONE;
	struct res r;

	(void)state;
	o.insns = 3;
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return { f = v:filter(function(r)\n"
	    "  return r.cost ~= nil and r.cost > 1 and r.cost < 500 end):count() }",
	    &r);
	expect_rows(&r, "f", 0);
	assert_int_equal(r.st.row_overruns, NMAIN);
	assert_int_equal(r.st.row_compiled, 0);
	done(&r);
	o.insns = 1000;
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return { f = v:filter(function(r)\n"
	    "  return r.cost ~= nil and r.cost > 1 and r.cost < 500 end):count() }",
	    &r);
	expect_rows(&r, "f", 5);	/* 1.5 2.25 10 100 200 */
	assert_int_equal(r.st.row_overruns, 0);
	assert_int_equal(r.st.row_compiled, NMAIN);
	done(&r);
}

/* Rows stay read-only, and fields by computed names keep working. */
static void
test_row_write_computed_name(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local pre = 'a'\n"
	    "return {\n"
	    " w = v:filter(function(r) r.age = 1 return true end):count(),\n"
	    " w2 = v:filter(function(r) r.zzz = 1 return true end):count(),\n"
	    " n = v:filter(function(r) local k = pre .. 'ge' return r[k] == 30 end):count(),\n"
	    " d = v:derive('x', function(r) return r[pre .. 'ge'] end):where('x', '>', 45):count(),\n"
	    "}", &r);
	expect_rows(&r, "w", 0);
	expect_rows(&r, "w2", 0);
	expect_rows(&r, "n", 2);
	expect_rows(&r, "d", 3);	/* 50 70 90 */
	assert_int_equal(r.st.row_errors, 2 * NMAIN);
	done(&r);
}

static int
dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	luaL_Buffer *b = ud;

	(void)L;
	luaL_addlstring(b, p, sz);
	return 0;
}

/* Dumps the function chunk src returns; the dump is on the stack top. */
static const char *
dump_of(lua_State *L, const char *src, int strip, size_t *lenp)
{
	luaL_Buffer b;

	assert_int_equal(luaL_dostring(L, src), LUA_OK);
	luaL_buffinit(L, &b);
	/* the buffer may sit on the stack: dump a copy on top */
	lua_pushvalue(L, -2);
	assert_int_equal(lua_dump(L, dump_writer, &b, strip), 0);
	lua_pop(L, 1);
	luaL_pushresult(&b);
	lua_remove(L, -2);
	return lua_tolstring(L, -1, lenp);
}

/* The bytecode reader: OP_SETUPVAL anywhere, and damaged dumps. */
static void
test_rowprog_scan(void **state)
{
	static const struct {
		const char	*src;
		int		 setupval;
	} c[] = {
		{ "return function(r) return r.x * 1.1 end", 0 },
		{ "local n = 0 return function(r) return n + r.x end", 0 },
		{ "local n = 0 return function(r) n = n + 1 return n end", 1 },
		{ "local n = 0 return function(r) local function g() n = 1 end "
		  "g() return n end", 1 },
		{ "local n = 0 return function(r) return function() "
		  "return function() n = 2 end end end", 1 },
		/* a nested function assigning its own local's upvalue:
		 * harmless, but reported (the check is per opcode) */
		{ "return function(r) local x = 0 local function g() x = 1 end "
		  "g() return x end", 1 },
		{ "local t = { 'a', 1.5, 2, true, false } return function(r) "
		  "return t, 'str', 1.5, 7, 2^60, nil, true, false, "
		  "'a long string constant, more than forty bytes long' end", 0 },
	};
	lua_State *L = luaL_newstate();
	const char *d;
	char *bad;
	size_t len, i, n;
	int s, strip;

	(void)state;
	assert_non_null(L);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		for (strip = 0; strip <= 1; strip++) {
			d = dump_of(L, c[i].src, strip, &len);
			s = 0;
			if (rowprog_scan(d, len, &s) != 0)
				fail_msg("%s: not understood", c[i].src);
			if (s != c[i].setupval)
				fail_msg("%s: setupval %d", c[i].src, s);
			/* every truncation, and trailing garbage, fail safe */
			for (n = 0; n < len; n++) {
				s = 0;
				assert_int_equal(rowprog_scan(d, n, &s), -1);
				assert_int_equal(s, 1);
			}
			bad = malloc(len + 1);
			assert_non_null(bad);
			memcpy(bad, d, len);
			bad[len] = 0;
			s = 0;
			assert_int_equal(rowprog_scan(bad, len + 1, &s), -1);
			assert_int_equal(s, 1);
			/* any byte changed: understood or not, never a
			 * read out of bounds (ASan) */
			for (n = 0; n < len; n++) {
				unsigned char *p = (unsigned char *)bad;
				int v;

				for (v = 0; v < 256; v += 37) {
					memcpy(bad, d, len);
					p[n] ^= (unsigned char)(v | 1);
					s = 0;
					if (rowprog_scan(bad, len, &s) != 0)
						assert_int_equal(s, 1);
				}
			}
			free(bad);
			lua_pop(L, 1);
		}
	assert_int_equal(rowprog_scan(NULL, 0, &s), -1);
	lua_close(L);
}

/* }====== */

static void
test_api_in_row(void **state)
{
	struct res r;

	(void)state;
	ok("local v = veil.dataset()\n"
	    "local function try(g)\n"
	    "  return function(r)\n"
	    "    local ok, e = pcall(g)\n"
	    "    return not ok and string.find(e, 'inside a row function', 1, true) ~= nil\n"
	    "  end\n"
	    "end\n"
	    "return {\n"
	    " count = v:filter(try(function() return v:count() end)):count(),\n"
	    " where = v:filter(try(function() return v:where('age', '=', 1) end)):count(),\n"
	    " filter = v:filter(try(function() return v:filter(function() return true end) end)):count(),\n"
	    " rows = v:filter(try(function() return v:rows() end)):count(),\n"
	    " plain = v:filter(function(r) return v:count() ~= nil end):count(),\n"
	    "}", &r);
	expect_rows(&r, "count", NMAIN);
	expect_rows(&r, "where", NMAIN);
	expect_rows(&r, "filter", NMAIN);
	expect_rows(&r, "rows", NMAIN);
	expect_rows(&r, "plain", 0);
	assert_int_equal(r.st.row_errors, NMAIN);
	done(&r);
}

/*
 * A finalizer left behind by the job must not keep rt_run from
 * returning (job.c arms the kill before closing the state). Run in a
 * child with an alarm, so that a hang fails instead of blocking.
 */
static void
test_gc_finalizer_bounded(void **state)
{
	static const char *const jobs[] = {
		"setmetatable({}, { __gc = function() while true do end end })\n"
		"return { n = veil.dataset():count() }",
		"local keep = setmetatable({}, { __gc = function() while true do end end })\n"
		"error('and fail')",
	};
	unsigned int i;
	pid_t pid;
	int st;

	(void)state;
	for (i = 0; i < 2; i++) {
		if ((pid = fork()) == 0) {
			struct res r;

			alarm(3);
			run_on(tmain, &NONE, jobs[i], &r);
			/* finalizers are refused when the metatable is set */
			_exit(r.f == RT_RUNTIME && strstr(r.msg,
			    "finalizers (__gc) are not allowed") != NULL ? 0 :
			    1);
		}
		assert_true(pid > 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (WIFSIGNALED(st))
			fail_msg("job %u: rt_run did not return (signal %d)", i,
			    WTERMSIG(st));
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

/* }====== */

/* {====== failures */

static void
test_fail_syntax_runtime(void **state)
{
	(void)state;
	fails("return {", RT_SYNTAX, "job:1:");
	fails("return { n = veil.dataset():count() ", RT_SYNTAX, "'}' expected");
	fails("\x1bLua\x54\x00", RT_SYNTAX, "binary");
	fails("error('boom')", RT_RUNTIME, "job:1: boom");
	fails("local x\nreturn x.y", RT_RUNTIME, "job:2:");
	fails("error(setmetatable({}, {}))", RT_RUNTIME,
	    "error object is not a string");
	fails("return load('return 1')", RT_RUNTIME, "global 'load'");
}

static void
test_fail_result(void **state)
{
	(void)state;
	fails("return 5", RT_RESULT, "the job returned number; return a table "
	    "of named aggregations");
	fails("return", RT_RESULT, "the job returned nil");
	fails("return {}", RT_RESULT, "the job returned no results");
	fails("return { x = 5 }", RT_RESULT,
	    "result 'x' is a number; return aggregations such as t:count()");
	fails("return { n = veil.dataset():count(), x = 'text' }", RT_RESULT,
	    "result 'x' is a string; return aggregations");
	fails("return { x = veil.dataset() }", RT_RESULT,
	    "result 'x' is a plan, not an aggregation");
	fails("return { x = veil.dataset():group_by('dx') }", RT_RESULT,
	    "result 'x' is a plan, not an aggregation");
	fails("return { x = {} }", RT_RESULT, "result 'x' is a table");
	fails("local t = {}\n"
	    "for i = 1, 300 do t['r' .. i] = veil.dataset():count() end\n"
	    "return t", RT_RESULT, "more than 256 results");
}

/* An integer key is reported as what it is. */
static void
test_fail_result_key(void **state)
{
	(void)state;
	fails("return { veil.dataset():count() }", RT_RESULT,
	    "result keys must be names (strings), not number");
}

static void
test_fail_memory(void **state)
{
	struct jopt o = NONE;
	struct res r;

	(void)state;
	o.mem = 2u << 20;
	fails_on(tmain, &o, "local t = {}\nfor i = 1, 1e8 do t[i] = i end",
	    RT_MEMORY, "not enough memory");
	fails_on(tmain, &o, "local s = string.rep('x', 1 << 30)", RT_MEMORY,
	    NULL);
	fails_on(tmain, &o, "local s = 'x'\nwhile true do s = s .. s end",
	    RT_MEMORY, NULL);
	fails_on(tmain, &o, "local t = {}\n"
	    "while true do t[#t + 1] = veil.dataset():where('age', '=', 1) end",
	    RT_MEMORY, NULL);
	/* in a row function, it is that row's error */
	ok_on(tmain, &o, "local v = veil.dataset()\n"
	    "return { n = v:filter(function(r) return #string.rep('x', 1 << 30) > 0 end):count() }",
	    &r);
	expect_rows(&r, "n", 0);
	assert_int_equal(r.st.row_errors, NMAIN);
	assert_true(r.st.lua_bytes <= o.mem);
	done(&r);
	/* the state itself does not fit */
	o.mem = 1024;
	fails_on(tmain, &o, "return {}", RT_MEMORY, "Lua state");
}

static void
test_bad_arguments(void **state)
{
	static const struct {
		const char	*call;
		const char	*want;
	} bad[] = {
		{ "v:where('nope', '=', 1)", "where: no column 'nope'" },
		{ "v:where('age', 'like', 1)", "where: unknown operator 'like'" },
		{ "v:where('age', '=', 'x')",
		    "where: column 'age' is int; compare it with a number" },
		{ "v:where('cost', '<', true)", "column 'cost' is float" },
		{ "v:where('visit', '=', '2024-02-30')",
		    "compare it with \"YYYY-MM-DD\"" },
		{ "v:where('visit', '>', 20240101)", "column 'visit' is a date" },
		{ "v:where('member', '<', true)",
		    "bools compare with = ~= and in only" },
		{ "v:where('member', '=', 1)", "column 'member' is bool" },
		{ "v:where('dx', '=', 1)", "column 'dx' is category; compare it "
		    "with a string" },
		{ "v:where('note', 'in', {'a', 2})", "column 'note' is string" },
		{ "v:where('age', '=')", "missing the value to compare with" },
		{ "v:where('age', 'in', {})", "'in' takes a list of 1 to" },
		{ "v:where('age', 'in', 5)", "table expected" },
		{ "v:sum('age', 10, 10)", "sum: bounds must be finite numbers "
		    "with lo < hi" },
		{ "v:mean('age', 5, 1)", "mean: bounds must be finite" },
		{ "v:sum('age', 0, 1/0)", "sum: bounds must be finite" },
		{ "v:sum('age', 0, 0/0)", "sum: bounds must be finite" },
		{ "v:sum('age', 0, 1e16)", "|bound| <= 1e15" },
		{ "v:sum('age')", "number expected" },
		{ "v:sum('nope', 0, 1)", "sum: no column 'nope'" },
		{ "v:sum('note', 0, 1)", "sum: column 'note' is string; "
		    "aggregate a numeric column" },
		{ "v:mean('visit', 0, 1)", "mean: column 'visit' is date" },
		{ "v:histogram('dx', {0, 1})", "histogram: column 'dx' is category" },
		{ "v:quantile('age', 1.5, 0, 100)",
		    "quantile: q must be between 0 and 1" },
		{ "v:quantile('age', -0.1, 0, 100)", "q must be between 0 and 1" },
		{ "v:quantile('age', 0/0, 0, 100)", "q must be between 0 and 1" },
		{ "v:quantile('age', 0.5, 100, 0)", "quantile: bounds" },
		{ "v:count({ eps = 1 })",
		    "count: unknown option 'eps' (known: epsilon)" },
		{ "v:sum('age', 0, 1, { epsilon = 1, delta = 2 })",
		    "sum: unknown option 'delta'" },
		{ "v:count({ epsilon = -1 })",
		    "count: epsilon must be a positive number" },
		{ "v:count({ epsilon = 0 })", "epsilon must be a positive" },
		{ "v:count({ epsilon = 1/0 })", "epsilon must be a positive" },
		{ "v:count({ epsilon = 'x' })", "epsilon must be a positive" },
		{ "v:count(5)", "table expected" },
		{ "v:histogram('age', {0, 10, 10})",
		    "histogram: edges must increase" },
		{ "v:histogram('age', {10, 0})", "histogram: edges must increase" },
		{ "v:histogram('age', {5})", "histogram: edges must list 2 to" },
		{ "v:histogram('age', {0, 0/0})", "edge 2 is not a finite number" },
		{ "v:histogram('age', {0, 'x'})", "edge 2 is not a finite number" },
		{ "v:group_by('dx'):group_by('city')",
		    "group_by: the plan is already grouped" },
		{ "v:group_by('dx'):where('age', '=', 1)",
		    "where: the plan is already grouped" },
		{ "v:group_by('dx'):filter(function(r) return true end)",
		    "filter: the plan is already grouped" },
		{ "v:group_by('nope')", "group_by: no column 'nope'" },
		{ "v:group_by(5)", "group_by: expected a column name or a function" },
		{ "v:derive('age', function(r) return 1 end)",
		    "derive: column 'age' exists already" },
		{ "v:derive('', function(r) return 1 end)",
		    "derive: a column name of 1 to 255 bytes" },
		{ "v:derive('x', 5)", "function expected" },
		{ "v:filter(5)", "function expected" },
		{ "v:filter(tostring)", "expected a Lua function of one row" },
		{ "v.count(5)", "veil.node expected" },
		{ "v:derive('a', function(r) return 1 end):where('b', '=', 1)",
		    "where: no column 'b'" },
	};
	char src[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(src, sizeof(src), "local v = veil.dataset()\n"
		    "local x = %s\nreturn { n = v:count() }", bad[i].call);
		fails(src, RT_RUNTIME, bad[i].want);
	}
}

static void
test_row_access(void **state)
{
	static const char src[] =
	    "local v = veil.dataset()\n"
	    "local n, s = 0, 0\n"
	    "for r in v:where('age', '>=', 40):rows() do n = n + 1; s = s + r.age end\n"
	    "local c = v:column('note')\n"
	    "local d = v:derive('band', function(r) return r.age and r.age // 10 end)\n"
	    "local b = d:column('band')\n"
	    "local seen = {}\n"
	    "for r in d:rows() do seen[#seen + 1] = tostring(r.band) .. r.pid end\n"
	    "if n ~= 4 or s ~= 250 then error('rows: ' .. n .. ' ' .. s) end\n"
	    "if c[1] ~= 'alpha' or c[5] ~= nil or c[8] ~= 'epsilon' then error('column') end\n"
	    "if b[1] ~= 3 or b[5] ~= nil or b[8] ~= 9 then error('derived column') end\n"
	    "if table.concat(seen, ',') ~= '3p1,3p1,4p2,5p3,nilp3,7p3,2p4,9p4' then\n"
	    "  error(table.concat(seen, ','))\n"
	    "end\n"
	    "return { n = v:count() }";
	struct jopt o = NONE;
	struct res r;

	(void)state;
	ok_on(tmain, &o, src, &r);
	expect_rows(&r, "n", NMAIN);
	done(&r);
	o.mode = RT_MODE_DP;
	o.mock = 1;
	ok_on(tmain, &o, src, &r);
	done(&r);
	o.mode = RT_MODE_THRESHOLD;
	ok_on(tmain, &o, src, &r);
	done(&r);
	o.mock = 0;
	fails_on(tmain, &o, src, RT_RUNTIME, "rows: row access is only for "
	    "mode \"none\" or mock data");
	o.mode = RT_MODE_DP;
	fails_on(tmain, &o, src, RT_RUNTIME, "row access is only");
	fails_on(tmain, &o, "local c = veil.dataset():column('age')",
	    RT_RUNTIME, "column: row access is only");
	fails("local x = veil.dataset():group_by('dx'):rows()", RT_RUNTIME,
	    "already grouped");
	fails("local x = veil.dataset():column('nope')", RT_RUNTIME,
	    "column: no column 'nope'");
}

static void
test_print(void **state)
{
	struct jopt o = NONE;
	struct res r;
	char buf[256];
	ssize_t n;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	o.log_fd = p[1];
	ok_on(tmain, &o, "print('hello', 42, nil, true)\n"
	    "return { n = veil.dataset():count() }", &r);
	done(&r);
	o.mode = RT_MODE_DP;
	o.mock = 1;
	ok_on(tmain, &o, "print('mock too')\n"
	    "return { n = veil.dataset():count() }", &r);
	done(&r);
	o.mock = 0;
	fails_on(tmain, &o, "print('real data')\n"
	    "return { n = veil.dataset():count() }", RT_RUNTIME,
	    "global 'print'");
	o.mode = RT_MODE_THRESHOLD;
	fails_on(tmain, &o, "print('real data')", RT_RUNTIME, "global 'print'");
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "hello\t42\tnil\ttrue\nmock too\n");
}

static void
test_fail_classes(void **state)
{
	(void)state;
	assert_string_equal(rt_fail_class(RT_OK), "ok");
	assert_string_equal(rt_fail_class(RT_SYNTAX), "syntax");
	assert_string_equal(rt_fail_class(RT_RUNTIME), "runtime");
	assert_string_equal(rt_fail_class(RT_MEMORY), "memory");
	assert_string_equal(rt_fail_class(RT_CPU), "cpu");
	assert_string_equal(rt_fail_class(RT_RESULT), "result");
	assert_string_equal(rt_fail_class(RT_INTERNAL), "internal");
	assert_string_equal(rt_fail_class((enum rt_fail)99), "internal");
}

/* }====== */

/* Every test frees what a failed assertion left behind. */
#define T(f)	cmocka_unit_test_teardown(f, cleanup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_count),
		T(test_where_int_float),
		T(test_where_bool_date),
		T(test_where_category_string),
		T(test_where_derived),
		T(test_filter),
		T(test_derive),
		T(test_group_declared_category),
		T(test_group_category_bool),
		T(test_group_dynamic_keys),
		T(test_group_function_and_derived),
		T(test_sum_fixed_point),
		T(test_kernels_grouped),
		T(test_quantile),
		T(test_quantile_reference),
		T(test_histogram),
		T(test_bound),
		T(test_bound_random),
		T(test_row_units),
		T(test_purity_upvalues),
		T(test_purity_nested_closure),
		T(test_purity_pairs_backdoor),
		T(test_purity_globals),
		T(test_rowenv_math),
		T(test_row_errors),
		T(test_row_overrun),
		T(test_row_overrun_pcall_one_line),
		T(test_compiled_numbers),
		T(test_compiled_cap),
		T(test_row_write_computed_name),
		T(test_rowprog_scan),
		T(test_api_in_row),
		T(test_gc_finalizer_bounded),
		T(test_fail_syntax_runtime),
		T(test_fail_result),
		T(test_fail_result_key),
		T(test_fail_memory),
		T(test_bad_arguments),
		T(test_row_access),
		T(test_print),
		T(test_fail_classes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
