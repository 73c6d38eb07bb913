/*
 * fuzz_table.c: the table validator. Whatever table_open() accepts must be
 * safe to read in full: every value, string and dictionary entry of every
 * column is touched, so ASan catches any read the validator let through.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "table.h"

static uint64_t sink;

static void
walk(const struct table_colview *c, uint64_t n)
{
	const char *p;
	size_t len;
	uint64_t i;
	uint32_t k;

	for (i = 0; i < n; i++) {
		sink += table_isnull(c, i);
		switch (c->type) {
		case VEIL_T_INT:
		case VEIL_T_FLOAT:
			sink += ((const uint64_t *)c->data)[i];
			break;
		case VEIL_T_BOOL:
			sink += ((const uint8_t *)c->data)[i];
			break;
		case VEIL_T_DATE:
			sink += (uint64_t)((const int32_t *)c->data)[i];
			break;
		case VEIL_T_STRING:
			p = table_str(c, i, &len);
			if (len > 0)
				sink += (unsigned char)p[0] +
				    (unsigned char)p[len - 1];
			break;
		case VEIL_T_CATEGORY:
			if (table_isnull(c, i))
				break;
			p = table_dict(c, ((const uint32_t *)c->data)[i], &len);
			if (len > 0)
				sink += (unsigned char)p[len - 1];
			break;
		}
	}
	for (k = 0; c->type == VEIL_T_CATEGORY && k < c->dict_n; k++) {
		p = table_dict(c, k, &len);
		if (len > 0)
			sink += (unsigned char)p[0];
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct table *t = NULL;
	void *buf;
	unsigned int i;
	int eager, lazy;

	if (posix_memalign(&buf, TABLE_ALIGN, size ? size : 1) != 0)
		return 0;
	memcpy(buf, data, size);
	if ((eager = table_open(buf, size, &t, NULL)) == 0) {
		for (i = 0; i < table_ncols(t); i++)
			walk(table_column(t, i), table_nrows(t));
		table_free(t);
	}
	/* Lazily opened: what it leaves for later is the floats and the
	 * codes. Every column but a category one is as safe to read
	 * before those checks; a category column once its codes are
	 * checked. With every column then checked: the same verdict. */
	if ((lazy = table_open_lazy(buf, size, &t, NULL)) == 0) {
		for (i = 0; i < table_ncols(t); i++)
			if (table_column(t, i)->type != VEIL_T_CATEGORY)
				walk(table_column(t, i), table_nrows(t));
		for (i = 0; lazy == 0 && i < table_ncols(t); i++)
			if ((lazy = table_check_values(t, i, NULL)) == 0)
				walk(table_column(t, i), table_nrows(t));
		table_free(t);
	}
	if ((eager == 0) != (lazy == 0))
		abort();
	free(buf);
	return 0;
}
