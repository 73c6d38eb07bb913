/*
 * anonymize.c: `veil anonymize`, the desensitized export: the per-record
 * steps (identifiers, text, dates; identifiers.h), then the optimal
 * full-domain generalization of the quasi-identifiers to k-anonymity
 * (and l-diversity or t-closeness where the policy asks; kanon.h), then
 * the CSV without the suppressed records, and a risk and utility report.
 */
#include <sys/random.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "datefmt.h"
#include "identifiers.h"
#include "jsonw.h"
#include "kanon.h"
#include "policy.h"
#include "scrub.h"

static const char usage_text[] =
    "usage: veil anonymize --data DATA.csv --schema SCHEMA.lua --policy "
    "POLICY.lua --out OUT.csv\n"
    "                      [--report R.json] [--json] [--metric "
    "entropy|loss] [--sensitive COLUMN]\n";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One CSV field, quoted only where it must be. */
static void
csv_field(FILE *fp, const char *p, size_t n, int delim)
{
	size_t i;
	int q = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '"' || p[i] == delim || p[i] == '\n' ||
		    p[i] == '\r')
			q = 1;
	if (!q) {
		fwrite(p, 1, n, fp);
		return;
	}
	putc('"', fp);
	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			putc('"', fp);
		putc(p[i], fp);
	}
	putc('"', fp);
}

static void
value_text(const struct table_colview *c, uint64_t r, FILE *fp, int delim)
{
	char buf[64];
	const char *p;
	size_t n;

	if (table_isnull(c, r))
		return;
	switch (c->type) {
	case VEIL_T_STRING:
		p = table_str(c, r, &n);
		csv_field(fp, p, n, delim);
		return;
	case VEIL_T_CATEGORY:
		p = table_dict(c, ((const uint32_t *)c->data)[r], &n);
		csv_field(fp, p, n, delim);
		return;
	case VEIL_T_INT:
		fprintf(fp, "%lld", (long long)((const int64_t *)c->data)[r]);
		return;
	case VEIL_T_FLOAT: {
		/* the shortest decimal that reads back as the same double */
		double v = ((const double *)c->data)[r];
		int prec;

		for (prec = 15; prec < 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		fputs(buf, fp);
		return;
	}
	case VEIL_T_BOOL:
		fputs(((const uint8_t *)c->data)[r] ? "true" : "false", fp);
		return;
	case VEIL_T_DATE:
		datefmt_format(((const int32_t *)c->data)[r], buf);
		fputs(buf, fp);
		return;
	}
}

struct report {
	const struct schema	*s;
	const struct kanon	*k;
	struct kanon_result	 r;
	struct anon_stats	 st;
	const char		*model;
	double			 ms;
	uint64_t		 out_rows;
};

static void
report_json(FILE *fp, const struct report *rp, const struct table *t)
{
	static const char *const hist[] = { "1", "2", "3-4", "5-9", "10-19",
	    "20-49", "50-99", "100+" };
	int i;

	fprintf(fp, "{\"records\":%llu,\"released\":%llu,\"suppressed\":%llu,"
	    "\"classes\":%llu,\"min_class\":%llu,\"model\":",
	    (unsigned long long)rp->r.records,
	    (unsigned long long)rp->out_rows,
	    (unsigned long long)rp->r.suppressed,
	    (unsigned long long)rp->r.classes,
	    (unsigned long long)rp->r.min_class);
	jsonw_str(fp, rp->model, strlen(rp->model));
	fprintf(fp, ",\"levels\":{");
	for (i = 0; i < rp->r.nqi; i++) {
		const char *name = table_column(t,
		    (unsigned)rp->r.qi[i])->name;

		fprintf(fp, "%s", i ? "," : "");
		jsonw_str(fp, name, strlen(name));
		fprintf(fp, ":[%d,%d]", rp->r.levels[i], rp->r.top[i]);
	}
	fprintf(fp, "},\"class_sizes\":{");
	for (i = 0; i < 8; i++)
		fprintf(fp, "%s\"%s\":%llu", i ? "," : "", hist[i],
		    (unsigned long long)rp->r.hist[i]);
	fprintf(fp, "},\"risk\":{\"prosecutor_max\":");
	jsonw_num(fp, rp->r.risk_max);
	fprintf(fp, ",\"prosecutor_avg\":");
	jsonw_num(fp, rp->r.risk_avg);
	fprintf(fp, ",\"share_above_0.2\":");
	jsonw_num(fp, rp->r.risk_share);
	fprintf(fp, ",\"sample_uniques_before\":%llu,\"sample_uniques_after\":"
	    "%llu},\"loss\":{\"non_uniform_entropy\":",
	    (unsigned long long)rp->r.uniques_before,
	    (unsigned long long)rp->r.uniques_after);
	jsonw_num(fp, rp->r.entropy_loss);
	fprintf(fp, ",\"lm\":");
	jsonw_num(fp, rp->r.lm_loss);
	fprintf(fp, "},\"search\":{\"transformations\":%llu,\"evaluated\":%llu,"
	    "\"ms\":", (unsigned long long)rp->r.nodes,
	    (unsigned long long)rp->r.evaluated);
	jsonw_num(fp, rp->ms);
	fprintf(fp, "},\"text\":{\"ID\":%llu,\"PHONE\":%llu,\"EMAIL\":%llu,"
	    "\"CARD\":%llu,\"IP\":%llu},\"dates_shifted\":%llu,"
	    "\"pseudonymized\":%llu,\"masked\":%llu,\"dropped_columns\":%llu}\n",
	    (unsigned long long)rp->st.scrubbed[0],
	    (unsigned long long)rp->st.scrubbed[1],
	    (unsigned long long)rp->st.scrubbed[2],
	    (unsigned long long)rp->st.scrubbed[3],
	    (unsigned long long)rp->st.scrubbed[4],
	    (unsigned long long)rp->st.shifted,
	    (unsigned long long)rp->st.pseudonymized,
	    (unsigned long long)rp->st.masked,
	    (unsigned long long)rp->st.dropped_columns);
}

static void
report_text(FILE *fp, const struct report *rp, const struct table *t)
{
	static const char *const hist[] = { "1", "2", "3-4", "5-9", "10-19",
	    "20-49", "50-99", "100+" };
	int i;

	fprintf(fp, "model: %s\n", rp->model);
	fprintf(fp, "records: %llu in, %llu released, %llu suppressed "
	    "(%.2f%%), %llu equivalence classes, smallest %llu\n",
	    (unsigned long long)rp->r.records,
	    (unsigned long long)rp->out_rows,
	    (unsigned long long)rp->r.suppressed,
	    rp->r.records ? 100.0 * (double)rp->r.suppressed /
	    (double)rp->r.records : 0.0, (unsigned long long)rp->r.classes,
	    (unsigned long long)rp->r.min_class);
	fprintf(fp, "generalization levels:");
	for (i = 0; i < rp->r.nqi; i++)
		fprintf(fp, " %s %d/%d", table_column(t,
		    (unsigned)rp->r.qi[i])->name, rp->r.levels[i],
		    rp->r.top[i]);
	fprintf(fp, "\nrecords by class size:");
	for (i = 0; i < 8; i++)
		fprintf(fp, " %s: %llu", hist[i],
		    (unsigned long long)rp->r.hist[i]);
	fprintf(fp, "\nprosecutor risk: highest %.4f, average %.4f, %.2f%% of "
	    "records above 0.2\n", rp->r.risk_max, rp->r.risk_avg,
	    100 * rp->r.risk_share);
	fprintf(fp, "sample uniques: %llu before, %llu after\n",
	    (unsigned long long)rp->r.uniques_before,
	    (unsigned long long)rp->r.uniques_after);
	fprintf(fp, "information loss: non-uniform entropy %.6f, LM %.6f\n",
	    rp->r.entropy_loss, rp->r.lm_loss);
	fprintf(fp, "search: %llu of %llu transformations evaluated, %.1f ms\n",
	    (unsigned long long)rp->r.evaluated,
	    (unsigned long long)rp->r.nodes, rp->ms);
	fprintf(fp, "text: %llu ID, %llu PHONE, %llu EMAIL, %llu CARD, %llu IP "
	    "replaced; %llu dates shifted; %llu values pseudonymized, %llu "
	    "masked, %llu columns dropped\n",
	    (unsigned long long)rp->st.scrubbed[0],
	    (unsigned long long)rp->st.scrubbed[1],
	    (unsigned long long)rp->st.scrubbed[2],
	    (unsigned long long)rp->st.scrubbed[3],
	    (unsigned long long)rp->st.scrubbed[4],
	    (unsigned long long)rp->st.shifted,
	    (unsigned long long)rp->st.pseudonymized,
	    (unsigned long long)rp->st.masked,
	    (unsigned long long)rp->st.dropped_columns);
}

int
cmd_anonymize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data",	required_argument, NULL, 'd' },
		{ "schema",	required_argument, NULL, 's' },
		{ "policy",	required_argument, NULL, 'p' },
		{ "out",	required_argument, NULL, 'o' },
		{ "report",	required_argument, NULL, 'r' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "metric",	required_argument, NULL, 'm' },
		{ "sensitive",	required_argument, NULL, 'S' },
		CLI_CSV_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const char *const lkinds[] = { "distinct", "entropy",
	    "recursive" };
	struct ingest_opts opts;
	struct cli_data d;
	struct policy *p = NULL;
	struct veil_err err;
	struct kanon *k = NULL;
	struct kanon_params kp;
	struct report rp;
	struct table *at = NULL;
	unsigned char key[ANON_KEY_LEN];
	const char *data = NULL, *schema = NULL, *policy = NULL, *outp = NULL;
	const char *reportp = NULL, *sens = NULL;
	char model[256], *tmp = NULL;
	uint8_t *supp = NULL, *isqi = NULL;
	int *qlv = NULL;
	void *abuf = NULL;
	size_t alen;
	uint64_t row, n;
	unsigned int i, ncols;
	int ch, json = 0, rc = EXIT_INTERNAL, r, first, delim = ',', q, col;
	FILE *fp = NULL;
	double t0;

	ingest_opts_default(&opts);
	memset(&d, 0, sizeof(d));
	memset(&kp, 0, sizeof(kp));
	memset(&rp, 0, sizeof(rp));
	kp.metric = KANON_M_ENTROPY;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': data = optarg; break;
		case 's': schema = optarg; break;
		case 'p': policy = optarg; break;
		case 'o': outp = optarg; break;
		case 'r': reportp = optarg; break;
		case 'j': json = 1; break;
		case 'S': sens = optarg; break;
		case 'm':
			if (strcmp(optarg, "entropy") == 0)
				kp.metric = KANON_M_ENTROPY;
			else if (strcmp(optarg, "loss") == 0)
				kp.metric = KANON_M_LOSS;
			else {
				fprintf(stderr, "veil: --metric: entropy or "
				    "loss\n");
				return EXIT_USAGE;
			}
			break;
		default:
			if ((r = cli_csv_option(ch, optarg, &opts)) == 1)
				break;
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || data == NULL || schema == NULL ||
	    policy == NULL || outp == NULL) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	veil_err_clear(&err);
	if (policy_load_file(policy, &p, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if ((rc = cli_load(data, schema, &opts, &d)) != EXIT_OK)
		goto out;
	rc = EXIT_INTERNAL;
	{
		size_t c;
		int lv = 0;

		for (c = 0; c < d.schema->ncols; c++)
			if (d.schema->cols[c].level > lv)
				lv = d.schema->cols[c].level;
		(void)policy_apply_level(p, lv);
	}
	if (p->mode != POLICY_EXPORT && !p->export_allowed) {
		fprintf(stderr, "veil: policy %s allows no export (mode \"%s\", "
		    "export = false)\n", p->path, policy_mode_name(p->mode));
		rc = EXIT_REFUSED;
		goto out;
	}

	/* the per-record steps, under a key of this export */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) ||
	    anon_identifiers_stats(d.table, d.schema, key, sizeof(key), &abuf,
	    &alen, &rp.st, &err) != 0 ||
	    table_open(abuf, alen, &at, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg[0] ? err.msg :
		    "cannot de-identify");
		goto out;
	}
	explicit_bzero(key, sizeof(key));

	/* the schema minus dropped columns, for the search */
	{
		struct schema s2 = *d.schema;
		struct schema_column *cols;
		size_t c, m = 0;

		if ((cols = calloc(d.schema->ncols, sizeof(*cols))) == NULL)
			goto out;
		for (c = 0; c < d.schema->ncols; c++)
			if (d.schema->cols[c].action != SCHEMA_A_DROP)
				cols[m++] = d.schema->cols[c];
		s2.cols = cols;
		s2.ncols = m;
		k = kanon_new(at, &s2, &err);
		free(cols);
		if (k == NULL) {
			fprintf(stderr, "veil: %s\n", err.msg);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	kp.k = p->k;
	kp.limit = p->suppression;
	kp.ldiv_col = kp.t_col = -1;
	snprintf(model, sizeof(model), "%u-anonymity, suppression up to %g%%",
	    p->k, 100 * p->suppression);
	if (sens == NULL)	/* the first sensitive column */
		for (i = 0; i < table_ncols(at) && sens == NULL; i++)
			if (table_column(at, i)->role == VEIL_R_SENSITIVE)
				sens = table_column(at, i)->name;
	if (sens != NULL && (p->l > 1 || p->t > 0)) {
		if ((col = table_find(at, sens)) < 0) {
			fprintf(stderr, "veil: --sensitive: no column '%s'\n",
			    sens);
			rc = EXIT_USAGE;
			goto out;
		}
		if (p->l > 1) {
			kp.ldiv = (enum kanon_ldiv)(p->l_kind + 1);
			kp.l = p->l;
			kp.c = p->c;
			kp.ldiv_col = col;
			snprintf(model + strlen(model), sizeof(model) -
			    strlen(model), ", %s %u-diversity on %s",
			    lkinds[p->l_kind], p->l, sens);
		}
		if (p->t > 0) {
			kp.t = p->t;
			kp.t_col = col;
			snprintf(model + strlen(model), sizeof(model) -
			    strlen(model), ", %g-closeness on %s", p->t, sens);
		}
	}
	rp.model = model;
	t0 = now();
	if (kanon_search(k, &kp, &rp.r, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		goto out;
	}
	rp.ms = (now() - t0) * 1e3;
	if (!rp.r.found) {
		fprintf(stderr, "veil: no generalization of the "
		    "quasi-identifiers meets %s\n", model);
		rc = EXIT_REFUSED;
		goto out;
	}

	/* the export: generalized QIs, suppressed records left out */
	n = table_nrows(at);
	ncols = table_ncols(at);
	if ((supp = calloc(n + 1, 1)) == NULL ||
	    (isqi = calloc(ncols + 1, 1)) == NULL ||
	    (qlv = calloc(ncols + 1, sizeof(int))) == NULL ||
	    kanon_mark(k, &kp, rp.r.levels, supp, &err) != 0)
		goto out;
	for (q = 0; q < rp.r.nqi; q++) {
		isqi[rp.r.qi[q]] = 1;
		qlv[rp.r.qi[q]] = q;
	}
	if (d.schema->delimiter != 0)
		delim = d.schema->delimiter;
	if (asprintf(&tmp, "%s.tmp", outp) == -1) {
		tmp = NULL;
		goto out;
	}
	if ((fp = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "veil: %s: %s\n", tmp, strerror(errno));
		rc = EXIT_USAGE;
		goto out;
	}
	for (i = 0; i < ncols; i++) {
		const char *name = table_column(at, i)->name;

		if (i > 0)
			putc(delim, fp);
		csv_field(fp, name, strlen(name), delim);
	}
	putc('\n', fp);
	for (row = 0; row < n; row++) {
		if (supp[row])
			continue;
		rp.out_rows++;
		for (first = 1, i = 0; i < ncols; i++, first = 0) {
			if (!first)
				putc(delim, fp);
			if (isqi[i]) {
				size_t ln;
				const char *lb = kanon_label(k, qlv[i],
				    rp.r.levels[qlv[i]], row, &ln);

				csv_field(fp, lb, ln, delim);
			} else
				value_text(table_column(at, i), row, fp, delim);
		}
		putc('\n', fp);
	}
	if (fflush(fp) != 0 || ferror(fp) || fclose(fp) != 0) {
		fp = NULL;
		fprintf(stderr, "veil: %s: write failed\n", outp);
		goto out;
	}
	fp = NULL;
	if (rename(tmp, outp) == -1) {
		fprintf(stderr, "veil: %s: %s\n", outp, strerror(errno));
		goto out;
	}
	if (reportp != NULL) {
		if ((fp = fopen(reportp, "w")) == NULL) {
			fprintf(stderr, "veil: %s: %s\n", reportp,
			    strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		report_json(fp, &rp, at);
		fclose(fp);
		fp = NULL;
	}
	if (json)
		report_json(stdout, &rp, at);
	else {
		printf("%s: %llu of %llu records written\n", outp,
		    (unsigned long long)rp.out_rows,
		    (unsigned long long)rp.r.records);
		report_text(stdout, &rp, at);
	}
	rc = EXIT_OK;
 out:
	if (fp != NULL)
		fclose(fp);
	if (tmp != NULL && rc != EXIT_OK)
		unlink(tmp);
	free(tmp);
	free(supp);
	free(isqi);
	free(qlv);
	kanon_free(k);
	table_free(at);
	free(abuf);
	cli_data_free(&d);
	policy_free(p);
	return rc;
}
