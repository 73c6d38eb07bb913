/*
 * fuzz_csv.c: the CSV reader and typed ingestion. The first byte picks
 * the delimiter (or detection) and whether the rest goes through a bare
 * csv_next loop or through ingestion against a schema with one column of
 * every type, so the scalar parsers are fuzzed too.
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int delims[] = { 0, ',', ';', '\t' };
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
