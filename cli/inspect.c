/*
 * inspect.c: `veil inspect`, the first command a provider runs. It loads
 * a CSV through its schema (every check of ingestion applies) and prints,
 * per column, type, role, nulls, distinct values, min/max for numbers and
 * dates, lengths for strings, and the most frequent categories.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "datefmt.h"
#include "jsonw.h"

#define TOPN	5

struct top {
	uint64_t	count;
	uint32_t	code;
};

struct colstat {
	uint64_t	nulls, distinct;
	int		has_minmax;
	double		min, max;		/* int, float, date (days) */
	uint64_t	minlen, maxlen;		/* string */
	struct top	top[TOPN];
	int		ntop;
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

/* Distinct strings, with an open-addressing set of row numbers. */
static int
string_stats(const struct table_colview *c, uint64_t n, struct colstat *st)
{
	uint64_t *set, cap, i, j, row;
	const char *p, *q;
	size_t len, qlen;

	for (cap = 64; cap < 2 * n; cap *= 2)
		;
	if ((set = calloc(cap, sizeof(*set))) == NULL)
		return -1;
	st->minlen = UINT64_MAX;
	for (row = 0; row < n; row++) {
		if (table_isnull(c, row))
			continue;
		p = table_str(c, row, &len);
		if (len < st->minlen)
			st->minlen = len;
		if (len > st->maxlen)
			st->maxlen = len;
		for (j = hash_bytes(p, len) & (cap - 1); set[j] != 0;
		    j = (j + 1) & (cap - 1)) {
			q = table_str(c, set[j] - 1, &qlen);
			if (qlen == len && memcmp(p, q, len) == 0)
				break;
		}
		if (set[j] == 0) {
			set[j] = row + 1;
			st->distinct++;
		}
	}
	if (st->minlen == UINT64_MAX)
		st->minlen = 0;
	free(set);
	(void)i;
	return 0;
}

static int
sorted_stats(const struct table_colview *c, uint64_t n, struct colstat *st)
{
	void *vals;
	uint64_t i, k = 0;
	size_t sz = c->type == VEIL_T_FLOAT ? sizeof(double) : sizeof(int64_t);
	int64_t *iv;
	double *dv;

	if ((vals = calloc(n ? n : 1, sz)) == NULL)
		return -1;
	iv = vals;
	dv = vals;
	for (i = 0; i < n; i++) {
		if (table_isnull(c, i))
			continue;
		if (c->type == VEIL_T_INT)
			iv[k++] = ((const int64_t *)c->data)[i];
		else if (c->type == VEIL_T_DATE)
			iv[k++] = ((const int32_t *)c->data)[i];
		else
			dv[k++] = ((const double *)c->data)[i];
	}
	qsort(vals, k, sz, c->type == VEIL_T_FLOAT ? cmp_dbl : cmp_i64);
	for (i = 0; i < k; i++)
		if (i == 0 || (c->type == VEIL_T_FLOAT ? dv[i] != dv[i - 1] :
		    iv[i] != iv[i - 1]))
			st->distinct++;
	if (k > 0) {
		st->has_minmax = 1;
		st->min = c->type == VEIL_T_FLOAT ? dv[0] : (double)iv[0];
		st->max = c->type == VEIL_T_FLOAT ? dv[k - 1] :
		    (double)iv[k - 1];
	}
	free(vals);
	return 0;
}

/* Counts per code (bool: per value) and keeps the TOPN largest. */
static int
count_stats(const struct table_colview *c, uint64_t n, struct colstat *st)
{
	uint64_t *cnt, i, ncodes = c->type == VEIL_T_BOOL ? 2 : c->dict_n;
	uint32_t code;
	int j, k;

	if ((cnt = calloc(ncodes ? ncodes : 1, sizeof(*cnt))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (!table_isnull(c, i))
			cnt[c->type == VEIL_T_BOOL ?
			    ((const uint8_t *)c->data)[i] :
			    ((const uint32_t *)c->data)[i]]++;
	for (code = 0; code < ncodes; code++) {
		if (cnt[code] == 0)
			continue;
		st->distinct++;
		for (j = 0; j < st->ntop && st->top[j].count >= cnt[code]; j++)
			;
		if (j >= TOPN)
			continue;
		k = st->ntop < TOPN ? st->ntop++ : TOPN - 1;
		for (; k > j; k--)
			st->top[k] = st->top[k - 1];
		st->top[j].count = cnt[code];
		st->top[j].code = code;
	}
	free(cnt);
	return 0;
}

static int
column_stats(const struct table_colview *c, uint64_t n, struct colstat *st)
{
	uint64_t i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < n; i++)
		st->nulls += table_isnull(c, i);
	switch (c->type) {
	case VEIL_T_INT:
	case VEIL_T_FLOAT:
	case VEIL_T_DATE:
		return sorted_stats(c, n, st);
	case VEIL_T_BOOL:
	case VEIL_T_CATEGORY:
		return count_stats(c, n, st);
	default:
		return string_stats(c, n, st);
	}
}

static void
top_value(const struct table_colview *c, const struct top *t,
    const char **pp, size_t *lenp)
{
	if (c->type == VEIL_T_BOOL) {
		*pp = t->code ? "true" : "false";
		*lenp = strlen(*pp);
	} else
		*pp = table_dict(c, t->code, lenp);
}

static void
fmt_value(const struct table_colview *c, double v, char *buf, size_t len)
{
	if (c->type == VEIL_T_DATE)
		datefmt_format((int32_t)v, buf);
	else if (c->type == VEIL_T_INT)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "%.10g", v);
}

static const char *
treatment(const struct schema_column *sc)
{
	if (sc->role == VEIL_R_IDENTIFIER)
		return schema_action_name(sc->action);
	if (sc->scrub)
		return "scrub";
	return "";
}

static void
print_human(const struct cli_data *d, const char *path,
    const struct colstat *st)
{
	const struct table *t = d->table;
	const struct table_colview *c;
	const struct schema_column *sc;
	uint64_t n = table_nrows(t);
	char lo[32], hi[32];
	const char *p;
	size_t len;
	unsigned int i;
	int j;

	printf("%s: %llu rows, %u columns, delimiter '%s', %llu bytes\n",
	    path, (unsigned long long)n, table_ncols(t),
	    d->stats.delimiter == '\t' ? "\\t" :
	    d->stats.delimiter == ';' ? ";" : ",",
	    (unsigned long long)d->stats.bytes);
	printf("privacy unit: %s\n\n", d->schema->unit);
	printf("%3s  %-18s %-9s %-12s %-13s %9s %9s  %s\n", "#", "column",
	    "type", "role", "treatment", "nulls", "distinct", "summary");
	for (i = 0; i < table_ncols(t); i++) {
		c = table_column(t, i);
		sc = &d->schema->cols[i];
		printf("%3u  %-18s %-9s %-12s %-13s %9llu %9llu  ", i + 1,
		    c->name, sc->text ? "text" : veil_type_name(c->type),
		    veil_role_name(c->role), treatment(sc),
		    (unsigned long long)st[i].nulls,
		    (unsigned long long)st[i].distinct);
		if (st[i].has_minmax) {
			fmt_value(c, st[i].min, lo, sizeof(lo));
			fmt_value(c, st[i].max, hi, sizeof(hi));
			printf("min %s, max %s", lo, hi);
		} else if (c->type == VEIL_T_STRING)
			printf("length %llu..%llu",
			    (unsigned long long)st[i].minlen,
			    (unsigned long long)st[i].maxlen);
		for (j = 0; j < st[i].ntop; j++) {
			top_value(c, &st[i].top[j], &p, &len);
			printf("%s%.*s %llu (%.1f%%)", j ? ", " : "",
			    (int)(len > 24 ? 24 : len), p,
			    (unsigned long long)st[i].top[j].count,
			    n ? 100.0 * (double)st[i].top[j].count /
			    (double)n : 0.0);
		}
		printf("\n");
	}
}

static void
print_json(const struct cli_data *d, const char *path,
    const struct colstat *st)
{
	const struct table *t = d->table;
	const struct table_colview *c;
	const struct schema_column *sc;
	char buf[32];
	const char *p;
	size_t len;
	unsigned int i;
	int j;

	printf("{\"file\":");
	jsonw_str(stdout, path, strlen(path));
	printf(",\"schema\":");
	jsonw_str(stdout, d->schema->name, strlen(d->schema->name));
	printf(",\"unit\":");
	jsonw_str(stdout, d->schema->unit, strlen(d->schema->unit));
	printf(",\"rows\":%llu,\"bytes\":%llu,\"columns\":[",
	    (unsigned long long)table_nrows(t),
	    (unsigned long long)d->stats.bytes);
	for (i = 0; i < table_ncols(t); i++) {
		c = table_column(t, i);
		sc = &d->schema->cols[i];
		printf("%s{\"name\":", i ? "," : "");
		jsonw_str(stdout, c->name, strlen(c->name));
		printf(",\"type\":\"%s\",\"role\":\"%s\",\"treatment\":\"%s\","
		    "\"nulls\":%llu,\"distinct\":%llu",
		    sc->text ? "text" : veil_type_name(c->type),
		    veil_role_name(c->role), treatment(sc),
		    (unsigned long long)st[i].nulls,
		    (unsigned long long)st[i].distinct);
		if (st[i].has_minmax && c->type == VEIL_T_DATE) {
			datefmt_format((int32_t)st[i].min, buf);
			printf(",\"min\":\"%s\"", buf);
			datefmt_format((int32_t)st[i].max, buf);
			printf(",\"max\":\"%s\"", buf);
		} else if (st[i].has_minmax) {
			printf(",\"min\":");
			jsonw_num(stdout, st[i].min);
			printf(",\"max\":");
			jsonw_num(stdout, st[i].max);
		}
		if (c->type == VEIL_T_STRING)
			printf(",\"min_length\":%llu,\"max_length\":%llu",
			    (unsigned long long)st[i].minlen,
			    (unsigned long long)st[i].maxlen);
		if (st[i].ntop > 0) {
			printf(",\"top\":[");
			for (j = 0; j < st[i].ntop; j++) {
				top_value(c, &st[i].top[j], &p, &len);
				printf("%s{\"value\":", j ? "," : "");
				jsonw_str(stdout, p, len);
				printf(",\"count\":%llu}",
				    (unsigned long long)st[i].top[j].count);
			}
			printf("]");
		}
		printf("}");
	}
	printf("]}\n");
}

int
cmd_inspect(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data",	required_argument, NULL, 'd' },
		{ "schema",	required_argument, NULL, 's' },
		{ "json",	no_argument,	   NULL, 'j' },
		CLI_CSV_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct ingest_opts opts;
	struct cli_data d;
	struct colstat *st = NULL;
	const char *data = NULL, *schema = NULL;
	unsigned int i;
	int ch, json = 0, r;

	ingest_opts_default(&opts);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			data = optarg;
			break;
		case 's':
			schema = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			if ((r = cli_csv_option(ch, optarg, &opts)) == 1)
				break;
			if (r == 0)
				fprintf(stderr, "usage: veil inspect --data "
				    "FILE.csv --schema SCHEMA.lua [--json]\n");
			return EXIT_USAGE;
		}
	}
	if (data == NULL || schema == NULL || optind != argc) {
		fprintf(stderr, "usage: veil inspect --data FILE.csv "
		    "--schema SCHEMA.lua [--json]\n");
		return EXIT_USAGE;
	}
	if ((r = cli_load(data, schema, &opts, &d)) != EXIT_OK)
		return r;
	if ((st = calloc(table_ncols(d.table) + 1, sizeof(*st))) == NULL) {
		cli_data_free(&d);
		fprintf(stderr, "veil: out of memory\n");
		return EXIT_INTERNAL;
	}
	for (i = 0; i < table_ncols(d.table); i++)
		if (column_stats(table_column(d.table, i),
		    table_nrows(d.table), &st[i]) != 0) {
			fprintf(stderr, "veil: out of memory\n");
			free(st);
			cli_data_free(&d);
			return EXIT_INTERNAL;
		}
	if (json)
		print_json(&d, data, st);
	else
		print_human(&d, data, st);
	free(st);
	cli_data_free(&d);
	return EXIT_OK;
}
