/*
 * test_ingestor.c: the ingest child (sandbox/ingestor.c and the "check"
 * and "ingest" kinds of veil-worker). Schema and policy texts are checked
 * in the worker, with the loader's messages coming back; the clinic
 * example goes through a confined worker and comes back byte for byte as
 * `veil run` would have made it in process; bad CSV, a too small output
 * memfd, hierarchy files, a stalled pipe and concurrent runs end as the
 * API says; no descriptor leaks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "confine.h"
#include "identifiers.h"
#include "ingest.h"
#include "ingestor.h"
#include "luadata.h"
#include "schema.h"
#include "table.h"

#define CLINIC_ROWS	2000

static char dir[] = "/tmp/veil-test-ingestor-XXXXXX";
static char worker[512], csv_path[600];
static char *clinic_schema, *clinic_policy;
static size_t clinic_slen, clinic_plen;
static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

/* Confinement every worker reaches, namespaces or not. */
#define NEED	(CONFINE_SECCOMP | CONFINE_RLIMITS | CONFINE_NOPRIV)

static int
setup(void **state)
{
	const char *b = getenv("VEIL_BUILD");
	struct veil_err err;
	char cmd[1024];

	(void)state;
	if (b == NULL)
		b = "build";
	snprintf(worker, sizeof(worker), "%s/veil-ingest", b);
	if (access(worker, X_OK) != 0 || mkdtemp(dir) == NULL)
		return -1;
	snprintf(csv_path, sizeof(csv_path), "%s/clinic.csv", dir);
	snprintf(cmd, sizeof(cmd), "%s/clinic-gen --rows %d --seed 5 --out %s",
	    b, CLINIC_ROWS, csv_path);
	if (system(cmd) != 0)
		return -1;
	if (luadata_slurp("examples/clinic/schema.lua", LUADATA_MAX_FILE,
	    &clinic_schema, &clinic_slen, &err) != 0 ||
	    luadata_slurp("examples/clinic/policy.lua", LUADATA_MAX_FILE,
	    &clinic_policy, &clinic_plen, &err) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	free(clinic_schema);
	free(clinic_policy);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct spawner_limits
limits(uint32_t wall_ms)
{
	struct spawner_limits l;

	memset(&l, 0, sizeof(l));
	l.memory_bytes = 512u << 20;
	l.cpu_ms = 20000;
	l.wall_ms = wall_ms;
	return l;
}

static int
check(const char *schema, const char *policy, struct ingestor_result *r,
    struct veil_err *err)
{
	return ingestor_check(worker, schema, strlen(schema), policy,
	    strlen(policy), r, err);
}

/* Ingests the CSV text through schema (policy: mode dp). */
static int
ingest_text(const char *csv, const char *schema, uint64_t out_bytes,
    struct ingestor_result *r, struct veil_err *err)
{
	static const char policy[] = "return { mode = 'dp' }\n";
	struct spawner_limits l = limits(30000);
	int fd, rc;

	assert_true((fd = memfd_create("csv", MFD_CLOEXEC)) >= 0);
	assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	rc = ingestor_run_sized(worker, fd, strlen(csv), schema,
	    strlen(schema), policy, sizeof(policy) - 1, key, sizeof(key), &l,
	    out_bytes, r, err);
	close(fd);
	return rc;
}

static int
count_fds(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* {====== check */

static void
test_check_clinic(void **state)
{
	struct ingestor_result r;
	struct veil_err err;
	char *exp;
	size_t elen;

	(void)state;
	if (ingestor_check(worker, clinic_schema, clinic_slen, clinic_policy,
	    clinic_plen, &r, &err) != 0)
		fail_msg("check: %s", err.msg);
	assert_int_equal(r.columns, 13);
	assert_string_equal(r.name, "clinic_visits");
	assert_string_equal(r.mode, "dp");
	assert_string_equal(r.unit, "patient_id");
	assert_null(r.table);
	assert_int_equal(r.confinement & NEED, NEED);
	ingestor_result_free(&r);

	/* an export policy is fine for a check */
	assert_int_equal(luadata_slurp("examples/clinic/policy_export.lua",
	    LUADATA_MAX_FILE, &exp, &elen, &err), 0);
	if (ingestor_check(worker, clinic_schema, clinic_slen, exp, elen, &r,
	    &err) != 0)
		fail_msg("check: %s", err.msg);
	assert_string_equal(r.mode, "export");
	ingestor_result_free(&r);
	free(exp);
}

static void
test_check_schema_syntax_error(void **state)
{
	static const char bad[] =
	    "return {\n"
	    "  name = 'visits',\n"
	    "  unit = '@row',\n"
	    "  columns = {\n"
	    "    { name = 'age' type = 'int', role = 'quasi' },\n"
	    "  },\n"
	    "}\n";
	struct ingestor_result r;
	struct veil_err err;

	(void)state;
	assert_int_equal(check(bad, "return {}", &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "schema.lua:5:") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(r.table);
	ingestor_result_free(&r);

	/* valid Lua, invalid schema: the column is named */
	assert_int_equal(check("return { name = 'v', unit = '@row', columns = "
	    "{ { name = 'a', type = 'integer', role = 'quasi' } } }",
	    "return {}", &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "schema.lua: column 1 (a)") == NULL ||
	    strstr(err.msg, "integer") == NULL)
		fail_msg("message: %s", err.msg);
}

static void
test_check_policy_unknown_key(void **state)
{
	struct ingestor_result r;
	struct veil_err err;
	char *pol;

	(void)state;
	pol = "return {\n  mode = 'dp',\n  colour = 'red',\n}\n";
	assert_int_equal(ingestor_check(worker, clinic_schema, clinic_slen,
	    pol, strlen(pol), &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "policy.lua") == NULL ||
	    strstr(err.msg, "colour") == NULL)
		fail_msg("message: %s", err.msg);
	/* a Lua syntax error in the policy names its line */
	pol = "return {\n  mode = 'dp'\n  k = 5,\n}\n";
	assert_int_equal(ingestor_check(worker, clinic_schema, clinic_slen,
	    pol, strlen(pol), &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "policy.lua:3:") == NULL)
		fail_msg("message: %s", err.msg);
}

/* A hierarchy file cannot be read in the child: a clear refusal. */
static const char hier_file_schema[] =
    "return {\n"
    "  name = 'adult', unit = '@row',\n"
    "  columns = {\n"
    "    { name = 'age', type = 'int', role = 'quasi' },\n"
    "    { name = 'sex', type = 'category', role = 'quasi',\n"
    "      values = { 'M', 'F' } },\n"
    "    { name = 'education', type = 'category', role = 'quasi',\n"
    "      values = { 'a', 'b' },\n"
    "      hierarchy = { file = '/etc/passwd' } },\n"
    "  },\n"
    "}\n";

static void
test_check_hierarchy_file_refused(void **state)
{
	struct ingestor_result r;
	struct veil_err err;

	(void)state;
	assert_int_equal(check(hier_file_schema, "return {}", &r, &err),
	    VEIL_E_PARSE);
	if (strstr(err.msg, "schema.lua: column 3 (education)") == NULL ||
	    strstr(err.msg, "hierarchy") == NULL ||
	    strstr(err.msg, "inline") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(strstr(err.msg, "root:"));	/* nothing was read */
}

/* }====== */

/* {====== ingest */

/* The clinic CSV through schema and identifier actions, in process. */
static void
local_ingest(int fd, struct schema **sp, void **rawp, size_t *rawlen,
    void **anonp, size_t *anonlen)
{
	struct table_builder *b;
	struct table *t;
	struct veil_err err;

	assert_int_equal(schema_load_buffer(clinic_schema, clinic_slen,
	    "schema.lua", NULL, sp, &err), 0);
	if (ingest_csv_fd(fd, "data.csv", *sp, NULL, &b, NULL, &err) != 0)
		fail_msg("ingest: %s", err.msg);
	assert_int_equal(table_builder_finish(b, rawp, rawlen, &err), 0);
	table_builder_free(b);
	assert_int_equal(table_open(*rawp, *rawlen, &t, &err), 0);
	assert_int_equal(anon_identifiers(t, *sp, key, sizeof(key), anonp,
	    anonlen, &err), 0);
	table_free(t);
}

static void
hex_sha256(const void *p, size_t n, char hex[65])
{
	unsigned char md[32];
	unsigned int len = 0, i;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
test_ingest_clinic(void **state)
{
	struct spawner_limits l = limits(60000);
	struct ingestor_result r;
	struct veil_err err;
	struct schema *s;
	struct table *raw_t, *t;
	const struct table_colview *rc, *pc;
	struct stat st;
	void *raw, *anon;
	size_t rawlen, anonlen, a, b;
	const char *ra, *pa;
	char hex[65];
	int fd, fds, col;

	(void)state;
	fds = count_fds();
	assert_true((fd = open(csv_path, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (ingestor_run(worker, fd, (uint64_t)st.st_size, clinic_schema,
	    clinic_slen, clinic_policy, clinic_plen, key, sizeof(key), &l, &r,
	    &err) != 0)
		fail_msg("ingest: %s", err.msg);
	assert_int_equal(r.rows, CLINIC_ROWS);
	assert_int_equal(r.columns, 10);	/* 3 identifiers dropped */
	assert_int_equal(r.confinement & NEED, NEED);
	assert_non_null(r.table);
	assert_int_equal((uintptr_t)r.table % TABLE_ALIGN, 0);

	/* the table opens, and its digest is its bytes' */
	assert_int_equal(table_open(r.table, r.len, &t, &err), 0);
	assert_int_equal(table_nrows(t), CLINIC_ROWS);
	hex_sha256(r.table, r.len, hex);
	assert_string_equal(r.digest, hex);

	/* exactly what `veil run` makes in process with the same key */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	local_ingest(fd, &s, &raw, &rawlen, &anon, &anonlen);
	assert_int_equal(r.len, anonlen);
	assert_memory_equal(r.table, anon, anonlen);

	/* the unit is pseudonymized: no raw id survives */
	assert_int_equal(table_open(raw, rawlen, &raw_t, &err), 0);
	assert_true((col = table_find(raw_t, "patient_id")) >= 0);
	rc = table_column(raw_t, (unsigned)col);
	assert_true((col = table_find(t, "patient_id")) >= 0);
	pc = table_column(t, (unsigned)col);
	assert_true(pc->flags & TABLE_F_UNIT);
	ra = table_str(rc, 0, &a);
	/* kept as a category: its codes are the dense unit ids */
	assert_int_equal(pc->type, VEIL_T_CATEGORY);
	pa = table_dict(pc, ((const uint32_t *)pc->data)[0], &b);
	assert_int_equal(b, 16);
	assert_false(a == b && memcmp(ra, pa, a) == 0);
	assert_true(table_find(t, "name") < 0);
	assert_true(table_find(t, "id_number") < 0);

	table_free(raw_t);
	table_free(t);
	schema_free(s);
	free(raw);
	free(anon);
	ingestor_result_free(&r);
	assert_null(r.table);
	ingestor_result_free(&r);	/* a cleared result: no-op */
	close(fd);
	assert_int_equal(count_fds(), fds);	/* nothing leaked */
}

/* The CSV starts at the descriptor's offset, here in a memfd. */
static void
test_ingest_from_offset(void **state)
{
	static const char schema[] =
	    "return { name = 'v', unit = 'id', columns = {\n"
	    "  { name = 'id', type = 'string', role = 'identifier',\n"
	    "    action = 'pseudonymize' },\n"
	    "  { name = 'age', type = 'int', role = 'quasi' } } }\n";
	static const char text[] = "not,csv\x01\x02 garbage\nid,age\np1,30\n"
	    "p2,40\np3,50\n";
	struct spawner_limits l = limits(30000);
	struct ingestor_result r;
	struct veil_err err;
	const char *pol = "return { mode = 'threshold', k = 2 }";
	off_t at = (off_t)(strchr(text, '\n') - text + 1);
	int fd;

	(void)state;
	assert_true((fd = memfd_create("csv", MFD_CLOEXEC)) >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	assert_int_equal(lseek(fd, at, SEEK_SET), at);
	if (ingestor_run(worker, fd, sizeof(text) - 1, schema,
	    sizeof(schema) - 1, pol, strlen(pol), key, sizeof(key), &l, &r,
	    &err) != 0)
		fail_msg("ingest: %s", err.msg);
	assert_int_equal(r.rows, 3);
	assert_int_equal(r.columns, 2);
	ingestor_result_free(&r);
	close(fd);
}

/*
 * A CSV big enough for ingest.c to share it out among threads, in a
 * memfd (a regular file) after some garbage: the confined child parses
 * it in one thread (a thread would be killed by the filter), and the
 * table is the one made here in process, where threads may take it.
 */
static void
test_ingest_big(void **state)
{
	struct spawner_limits l = limits(60000);
	struct ingestor_result r;
	struct veil_err err;
	struct schema *s;
	struct stat st;
	char path[700], cmd[1024], *text;
	void *raw, *anon;
	size_t rawlen, anonlen;
	off_t at = 5;
	int fd, in;

	(void)state;
	snprintf(path, sizeof(path), "%s/big.csv", dir);
	snprintf(cmd, sizeof(cmd), "%s/clinic-gen --rows 30000 --seed 9 "
	    "--out %s", getenv("VEIL_BUILD") ? getenv("VEIL_BUILD") : "build",
	    path);
	assert_int_equal(system(cmd), 0);
	assert_true((in = open(path, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(fstat(in, &st), 0);
	assert_true(st.st_size > (3 << 20));	/* 2 threads at least */
	assert_non_null(text = malloc((size_t)st.st_size));
	assert_int_equal(read(in, text, (size_t)st.st_size), st.st_size);
	close(in);
	assert_true((fd = memfd_create("csv", MFD_CLOEXEC)) >= 0);
	assert_int_equal(write(fd, "junk\n", 5), 5);
	assert_int_equal(write(fd, text, (size_t)st.st_size), st.st_size);
	free(text);
	assert_int_equal(lseek(fd, at, SEEK_SET), at);
	if (ingestor_run(worker, fd, (uint64_t)st.st_size, clinic_schema,
	    clinic_slen, clinic_policy, clinic_plen, key, sizeof(key), &l, &r,
	    &err) != 0)
		fail_msg("ingest: %s", err.msg);
	assert_int_equal(r.rows, 30000);
	assert_int_equal(lseek(fd, at, SEEK_SET), at);
	local_ingest(fd, &s, &raw, &rawlen, &anon, &anonlen);
	assert_int_equal(r.len, anonlen);
	assert_memory_equal(r.table, anon, anonlen);
	schema_free(s);
	free(raw);
	free(anon);
	ingestor_result_free(&r);
	close(fd);
}

static void
test_ingest_bad_number_line7(void **state)
{
	static const char schema[] =
	    "return { name = 'v', unit = 'id', columns = {\n"
	    "  { name = 'id', type = 'string', role = 'identifier',\n"
	    "    action = 'pseudonymize' },\n"
	    "  { name = 'age', type = 'int', role = 'quasi' },\n"
	    "  { name = 'cost', type = 'float', role = 'insensitive' } } }\n";
	static const char csv[] =
	    "id,age,cost\n"		/* line 1 */
	    "p1,30,1.5\n"
	    "p2,31,2.5\n"
	    "p3,32,3.5\n"
	    "p4,33,4.5\n"
	    "p5,34,5.5\n"
	    "p6,35,6.5x\n"		/* line 7 */
	    "p7,36,7.5\n";
	struct ingestor_result r;
	struct veil_err err;

	(void)state;
	assert_int_equal(ingest_text(csv, schema, 0, &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "data.csv:7:") == NULL ||
	    strstr(err.msg, "cost") == NULL ||
	    strstr(err.msg, "6.5x") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(r.table);

	/* a schema error comes back the same way */
	assert_int_equal(ingest_text(csv, "return { name = 'v' }", 0, &r,
	    &err), VEIL_E_PARSE);
	if (strstr(err.msg, "schema.lua") == NULL)
		fail_msg("message: %s", err.msg);
}

static void
test_ingest_output_too_small(void **state)
{
	struct spawner_limits l = limits(60000);
	struct ingestor_result r;
	struct veil_err err;
	int fd;

	(void)state;
	assert_true((fd = open(csv_path, O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(ingestor_run_sized(worker, fd, 0, clinic_schema,
	    clinic_slen, clinic_policy, clinic_plen, key, sizeof(key), &l,
	    65536, &r, &err), VEIL_E_LIMIT);
	if (strstr(err.msg, "does not fit") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(r.table);
	close(fd);
}

/* In the child, a hierarchy file is refused, not read. */
static void
test_ingest_confined(void **state)
{
	struct ingestor_result r;
	struct veil_err err;

	(void)state;
	assert_int_equal(ingest_text("age,sex,education\n30,M,a\n",
	    hier_file_schema, 0, &r, &err), VEIL_E_PARSE);
	if (strstr(err.msg, "column 3 (education)") == NULL ||
	    strstr(err.msg, "inline") == NULL)
		fail_msg("message: %s", err.msg);
	assert_null(strstr(err.msg, "root:"));
	/* and a good run reports its confinement */
	if (ingest_text("age,sex,education\n30,M,a\n40,F,b\n",
	    "return { name = 'a', unit = '@row', columns = {\n"
	    "  { name = 'age', type = 'int', role = 'quasi' },\n"
	    "  { name = 'sex', type = 'category', role = 'quasi',\n"
	    "    values = { 'M', 'F' } },\n"
	    "  { name = 'education', type = 'category', role = 'quasi',\n"
	    "    values = { 'a', 'b' },\n"
	    "    hierarchy = { rows = { { 'a', '*' }, { 'b', '*' } } } } } }",
	    0, &r, &err) != 0)
		fail_msg("ingest: %s", err.msg);
	assert_int_equal(r.rows, 2);
	assert_int_equal(r.confinement & NEED, NEED);
	ingestor_result_free(&r);
}

/* A CSV that never ends (a pipe kept open): the wall clock ends it. */
static void
test_ingest_wall_limit(void **state)
{
	static const char schema[] =
	    "return { name = 'v', unit = '@row', columns = {\n"
	    "  { name = 'age', type = 'int', role = 'quasi' } } }";
	struct spawner_limits l = limits(500);
	struct ingestor_result r;
	struct veil_err err;
	const char *pol = "return {}";
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], "age\n1\n", 6), 6);
	assert_int_equal(ingestor_run(worker, p[0], 0, schema,
	    sizeof(schema) - 1, pol, strlen(pol), key, sizeof(key), &l, &r,
	    &err), VEIL_E_LIMIT);
	if (strstr(err.msg, "wall-clock") == NULL)
		fail_msg("message: %s", err.msg);
	close(p[0]);
	close(p[1]);
}

static void
test_ingest_bad_arguments(void **state)
{
	struct spawner_limits l = limits(1000);
	struct ingestor_result r;
	struct veil_err err;

	(void)state;
	assert_int_equal(ingestor_run(worker, 0, 0, "x", 1, "y", 1, key, 16,
	    &l, &r, &err), VEIL_E_INVALID);
	assert_int_equal(ingestor_run(worker, -1, 0, "x", 1, "y", 1, key, 32,
	    &l, &r, &err), VEIL_E_INVALID);
	assert_int_not_equal(ingestor_check("/nonexistent/veil-worker", "x",
	    1, "y", 1, &r, &err), 0);
}

struct job {
	int	 rc;
	char	 digest[65];
	char	 msg[VEIL_ERR_MSGLEN];
};

static void *
one_run(void *arg)
{
	struct job *j = arg;
	struct spawner_limits l = limits(120000);
	struct ingestor_result r;
	struct veil_err err;
	int fd;

	if ((fd = open(csv_path, O_RDONLY | O_CLOEXEC)) == -1) {
		j->rc = -1;
		return NULL;
	}
	j->rc = ingestor_run(worker, fd, 1u << 20, clinic_schema, clinic_slen,
	    clinic_policy, clinic_plen, key, sizeof(key), &l, &r, &err);
	if (j->rc == 0)
		memcpy(j->digest, r.digest, sizeof(j->digest));
	else
		snprintf(j->msg, sizeof(j->msg), "%s", err.msg);
	ingestor_result_free(&r);
	close(fd);
	return NULL;
}

/* Runs from several threads at once: each gets its own, equal table. */
static void
test_ingest_threads(void **state)
{
	pthread_t th[4];
	struct job j[4];
	int i, fds;

	(void)state;
	fds = count_fds();
	memset(j, 0, sizeof(j));
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, one_run, &j[i]),
		    0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (i = 0; i < 4; i++) {
		if (j[i].rc != 0)
			fail_msg("thread %d: %d %s", i, j[i].rc, j[i].msg);
		assert_string_equal(j[i].digest, j[0].digest);
	}
	assert_int_equal(count_fds(), fds);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_clinic),
		cmocka_unit_test(test_check_schema_syntax_error),
		cmocka_unit_test(test_check_policy_unknown_key),
		cmocka_unit_test(test_check_hierarchy_file_refused),
		cmocka_unit_test(test_ingest_clinic),
		cmocka_unit_test(test_ingest_big),
		cmocka_unit_test(test_ingest_from_offset),
		cmocka_unit_test(test_ingest_bad_number_line7),
		cmocka_unit_test(test_ingest_output_too_small),
		cmocka_unit_test(test_ingest_confined),
		cmocka_unit_test(test_ingest_wall_limit),
		cmocka_unit_test(test_ingest_bad_arguments),
		cmocka_unit_test(test_ingest_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
