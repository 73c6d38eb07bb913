/*
 * fuzz_csv.c: the CSV reader and typed ingestion. The first byte picks
 * the delimiter (or detection) and whether the rest goes through a bare
 * csv_next loop or through ingestion against a schema with one column of
 * every type, so the scalar parsers are fuzzed too. With its top bit set,
 * ingestion runs three times: a record at a time through csv_next (the
 * reference), in one fused pass (ingest.c) with the stop masks the mode
 * picks, and fused again split among threads into pieces of a few bytes:
 * all must agree, on the table's bytes or on the error's text.
 */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fuzz.h"
#include "ingest.h"
#include "schema.h"

static const char schema_src[] =
    "return { name = 'f', unit = 'id', ignore_unknown = true, columns = {"
    "{ name = 'id', type = 'string', role = 'identifier',"
    "  action = 'pseudonymize' },"
    "{ name = 'n', type = 'int', role = 'quasi', range = {-1000, 1000} },"
    "{ name = 'x', type = 'float', role = 'insensitive' },"
    "{ name = 'b', type = 'bool', role = 'sensitive' },"
    "{ name = 'c', type = 'category', role = 'sensitive',"
    "  values = {'a', 'b', 'c'} },"
    "{ name = 'd', type = 'date', role = 'quasi' },"
    "{ name = 't', type = 'text', role = 'text' } } }";

static struct schema *schema;

/* Ingests data with the given threads; the table or the error message. */
static int
ingest_with(const uint8_t *data, size_t size, const struct csv_limits *lim,
    int delim, int threads, int fused, void **bufp, size_t *lenp,
    struct veil_err *err)
{
	struct table_builder *b = NULL;
	struct ingest_opts o;
	int r;

	ingest_opts_default(&o);
	o.limits = *lim;
	o.delimiter = delim;
	o.threads = threads;
	o.fused = fused;
	o.piece_min = 8;
	*bufp = NULL;
	*lenp = 0;
	if ((r = ingest_csv_mem(data, size, "fuzz.csv", schema, &o, &b, NULL,
	    err)) != 0)
		return r;
	r = table_builder_finish(b, bufp, lenp, err);
	table_builder_free(b);
	return r;
}

/* The ingestion with these options agrees with the reference's. */
static void
agree(const uint8_t *data, size_t size, const struct csv_limits *lim,
    int delim, int threads, int fused, int r1, const void *b1, size_t l1,
    const struct veil_err *e1)
{
	struct veil_err e2;
	void *b2;
	size_t l2;
	int r2;

	veil_err_clear(&e2);
	r2 = ingest_with(data, size, lim, delim, threads, fused, &b2, &l2,
	    &e2);
	if (r1 != r2 || (r1 == 0 && (l1 != l2 || memcmp(b1, b2, l1) != 0)) ||
	    (r1 != 0 && strcmp(e1->msg, e2.msg) != 0))
		abort();
	free(b2);
}

static int
par_vs_serial(const uint8_t *data, size_t size, const struct csv_limits *lim,
    int delim, int threads, int fused)
{
	struct veil_err e1;
	void *b1;
	size_t l1;
	int r1;

	veil_err_clear(&e1);
	r1 = ingest_with(data, size, lim, delim, 1, INGEST_FUSED_OFF, &b1,
	    &l1, &e1);
	agree(data, size, lim, delim, 1, fused, r1, b1, l1, &e1);
	agree(data, size, lim, delim, threads, INGEST_FUSED_BEST, r1, b1, l1,
	    &e1);
	free(b1);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int delims[] = { 0, ',', ';', '\t' };
	static const int fused[] = { INGEST_FUSED_BEST, INGEST_FUSED_SSE2,
	    INGEST_FUSED_BYTES, INGEST_FUSED_BEST };
	struct csv_limits lim;
	struct csv_reader *rd;
	struct csv_field *f;
	struct table_builder *b = NULL;
	struct ingest_opts o;
	size_t nf;
	int mode;

	if (size < 1)
		return 0;
	if (schema == NULL && schema_load_buffer(schema_src,
	    sizeof(schema_src) - 1, "fuzz.lua", NULL, &schema, NULL) != 0)
		abort();
	mode = data[0];
	data++;
	size--;
	csv_limits_default(&lim);
	lim.max_record = 256 + (mode & 0x30) * 16;
	lim.max_fields = 16;
	lim.max_rows = 1000;
	if (mode & 0x80)
		return par_vs_serial(data, size, &lim, delims[mode & 3],
		    2 + (mode >> 2 & 3), fused[mode >> 4 & 3]);
	if (mode & 0x40) {
		ingest_opts_default(&o);
		o.limits = lim;
		o.delimiter = delims[mode & 3];
		if (ingest_csv_mem(data, size, "fuzz.csv", schema, &o, &b, NULL,
		    NULL) == 0)
			table_builder_free(b);
		return 0;
	}
	if ((rd = csv_open_mem(data, size, "fuzz.csv", delims[mode & 3], &lim,
	    NULL)) == NULL)
		return 0;
	while (csv_next(rd, &f, &nf, NULL) == 1)
		if (nf > 0 && f[nf - 1].len > 0 &&
		    f[nf - 1].p[f[nf - 1].len - 1] == '\0')
			nf = 0;	/* touch the last byte of the last field */
	csv_close(rd);
	return 0;
}
