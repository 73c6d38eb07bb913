/*
 * test_clinic.c: the example data generator, clinic-gen. Its output must
 * be deterministic per seed, load through examples/clinic/schema.lua, and
 * be realistic where the de-identification pipeline depends on it: valid
 * resident ID check characters that agree with birth date and sex, real
 * mobile prefixes, Luhn-valid UnionPay numbers planted in the notes, and
 * consistent per-patient attributes across visits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datefmt.h"
#include "ingest.h"
#include "schema.h"
#include "table.h"

static char dir[] = "/tmp/veil-test-clinic-XXXXXX";

static int
gen(const char *rows, const char *seed, const char *name)
{
	char cmd[1024];
	const char *b = getenv("VEIL_BUILD");

	snprintf(cmd, sizeof(cmd), "%s/clinic-gen --rows %s --seed %s "
	    "--out %s/%s", b ? b : "build", rows, seed, dir, name);
	return system(cmd);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	return gen("20000", "3", "a.csv") == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
same_files(const char *a, const char *b)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cmp -s %s/%s %s/%s", dir, a, dir, b);
	return system(cmd) == 0;
}

static void
test_deterministic(void **state)
{
	(void)state;
	assert_int_equal(gen("20000", "3", "b.csv"), 0);
	assert_true(same_files("a.csv", "b.csv"));
	assert_int_equal(gen("20000", "4", "c.csv"), 0);
	assert_false(same_files("a.csv", "c.csv"));
	assert_int_not_equal(gen("0", "1", "d.csv"), 0);
	assert_int_not_equal(gen("ten", "1", "d.csv"), 0);
}

/* GB 11643-1999: the check character of the first 17 digits. */
static char
id_check(const char *p)
{
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10,
	    5, 8, 4, 2 };
	int i, sum = 0;

	for (i = 0; i < 17; i++)
		sum += (p[i] - '0') * w[i];
	return "10X98765432"[sum % 11];
}

static int
luhn_ok(const char *d, size_t n)
{
	size_t i;
	int sum = 0, v;

	for (i = 0; i < n; i++) {
		v = d[n - 1 - i] - '0';
		if (i % 2 == 1 && (v *= 2) > 9)
			v -= 9;
		sum += v;
	}
	return sum % 10 == 0;
}

/* Counts UnionPay-looking numbers (62..., 16 or 19 digits, maybe grouped
 * by spaces) in s and checks each one's Luhn digit. */
static int
cards_in(const char *s, size_t len, int *bad)
{
	char digits[32];
	size_t i = 0, n;
	int found = 0;

	while (i < len) {
		if (!isdigit((unsigned char)s[i]) ||
		    (i > 0 && isdigit((unsigned char)s[i - 1]))) {
			i++;
			continue;
		}
		n = 0;
		while (i < len && n < sizeof(digits) &&
		    (isdigit((unsigned char)s[i]) || (s[i] == ' ' &&
		    i + 1 < len && isdigit((unsigned char)s[i + 1]) && n > 0 &&
		    n % 4 == 0))) {
			if (s[i] != ' ')
				digits[n++] = s[i];
			i++;
		}
		if ((n == 16 || n == 19) && digits[0] == '6' &&
		    digits[1] == '2') {
			found++;
			*bad += !luhn_ok(digits, n);
		}
	}
	return found;
}

static void
test_realistic(void **state)
{
	struct schema *s = NULL;
	struct table_builder *b = NULL;
	struct table *t = NULL;
	struct veil_err err;
	const struct table_colview *pid, *idn, *sex, *bd, *ph, *notes, *nm;
	char path[256], ymd[11];
	const char *p, *q;
	size_t len, qlen;
	uint64_t r, n;
	void *buf;
	int fd, cards = 0, badcards = 0, seq;

	(void)state;
	assert_int_equal(schema_load_file("examples/clinic/schema.lua", &s,
	    &err), 0);
	snprintf(path, sizeof(path), "%s/a.csv", dir);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	if (ingest_csv_fd(fd, path, s, NULL, &b, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	close(fd);
	assert_int_equal(table_builder_finish(b, &buf, &len, &err), 0);
	assert_int_equal(table_open(buf, len, &t, &err), 0);
	n = table_nrows(t);
	assert_int_equal(n, 20000);
	pid = table_column(t, (unsigned)table_find(t, "patient_id"));
	nm = table_column(t, (unsigned)table_find(t, "name"));
	idn = table_column(t, (unsigned)table_find(t, "id_number"));
	sex = table_column(t, (unsigned)table_find(t, "sex"));
	bd = table_column(t, (unsigned)table_find(t, "birth_date"));
	ph = table_column(t, (unsigned)table_find(t, "phone"));
	notes = table_column(t, (unsigned)table_find(t, "notes"));
	for (r = 0; r < n; r++) {
		p = table_str(idn, r, &len);
		assert_int_equal(len, 18);
		assert_int_equal(p[17], id_check(p));
		datefmt_format(((const int32_t *)bd->data)[r], ymd);
		assert_memory_equal(p + 6, ymd, 4);
		assert_memory_equal(p + 10, ymd + 5, 2);
		assert_memory_equal(p + 12, ymd + 8, 2);
		seq = p[16] - '0';
		q = table_dict(sex, ((const uint32_t *)sex->data)[r], &qlen);
		assert_int_equal(q[0], seq % 2 ? 'M' : 'F');
		p = table_str(ph, r, &len);
		assert_int_equal(len, 11);
		assert_int_equal(p[0], '1');
		assert_true(strchr("3456789", p[1]) != NULL);
		if (!table_isnull(notes, r)) {
			p = table_str(notes, r, &len);
			cards += cards_in(p, len, &badcards);
		}
		/* a patient's visits are consecutive and agree */
		if (r > 0) {
			p = table_str(pid, r, &len);
			q = table_str(pid, r - 1, &qlen);
			if (len == qlen && memcmp(p, q, len) == 0) {
				p = table_str(nm, r, &len);
				q = table_str(nm, r - 1, &qlen);
				assert_int_equal(len, qlen);
				assert_memory_equal(p, q, len);
			}
		}
	}
	assert_true(cards > 200);		/* about 6% of 20000 rows */
	assert_int_equal(badcards, 0);
	table_free(t);
	free(buf);
	table_builder_free(b);
	schema_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_realistic),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
