/*
 * run.c: `veil run`, a job end to end on the local machine, with the same
 * worker and release code as the daemon: load the data through its
 * schema, apply the identifier actions, run the job in a confined
 * veil-worker, release the partial aggregates under the policy, print.
 */
#include <sys/random.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "confine.h"
#include "dp.h"
#include "ledger.h"
#include "frame.h"
#include "identifiers.h"
#include "jsonw.h"
#include "luadata.h"
#include "policy.h"
#include "release.h"
#include "jobspec.h"
#include "spawner.h"
#include "worker_proto.h"

#define MAX_JOB_SOURCE	(512u << 10)

static const char usage_text[] =
    "usage: veil run JOB.lua --data DATA.csv --schema SCHEMA.lua "
    "[--policy POLICY.lua]\n"
    "                [--epsilon E] [--ledger FILE] [--buyer NAME] [--mock] "
    "[--json]\n";

int
cli_worker_path(char *buf, size_t len)
{
	char exe[PATH_MAX], *slash;
	const char *env = getenv("VEIL_WORKER");
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, len, "%s", env);
		return access(buf, X_OK);
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	snprintf(buf, len, "%s/veil-worker", exe);
	if (access(buf, X_OK) == 0)
		return 0;
	snprintf(buf, len, "%s/../libexec/veil/veil-worker", exe);
	return access(buf, X_OK);
}

static void
print_value(const msgpack_object *v)
{
	const char *dot;
	char num[128], *e;

	if (v->type == MSGPACK_OBJECT_NIL)
		printf("-");
	else if (v->type == MSGPACK_OBJECT_STR) {
		/* Exact grid values can run to 20 decimals: people get 6
		 * (--json keeps every digit). */
		dot = memchr(v->via.str.ptr, '.', v->via.str.size);
		if (dot != NULL && v->via.str.size - (size_t)(dot -
		    v->via.str.ptr) > 7 && v->via.str.size < sizeof(num)) {
			memcpy(num, v->via.str.ptr, v->via.str.size);
			num[v->via.str.size] = '\0';
			snprintf(num, sizeof(num), "%.6Lf", strtold(num, NULL));
			e = num + strlen(num);
			while (e > num && e[-1] == '0')
				*--e = '\0';
			if (e > num && e[-1] == '.')
				*--e = '\0';
			printf("%s", num);
		} else
			printf("%.*s", (int)v->via.str.size, v->via.str.ptr);
	}
	else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		printf("%llu", (unsigned long long)v->via.u64);
	else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		printf("%lld", (long long)v->via.i64);
	else if (v->type == MSGPACK_OBJECT_BOOLEAN)
		printf("%s", v->via.boolean ? "true" : "false");
	else if (v->type == MSGPACK_OBJECT_FLOAT64)
		printf("%.10g", v->via.f64);
	else
		printf("?");
}

/* Shared with the exchange commands (veil job result). */
void
cli_print_results(const msgpack_object *rel)
{
	const msgpack_object *r, *groups, *g, *v, *col, *by;
	uint64_t supp, k;
	uint32_t i, j, b;
	const char *op;
	size_t oplen;

	for (i = 0; i < rel->via.map.size; i++) {
		r = &rel->via.map.ptr[i].val;
		(void)frame_get_str(r, "op", &op, &oplen);
		col = frame_get(r, "col");
		by = frame_get(r, "by");
		groups = frame_get(r, "groups");
		printf("%-16.*s %.*s", (int)rel->via.map.ptr[i].key.via.str.size,
		    rel->via.map.ptr[i].key.via.str.ptr, (int)oplen, op);
		if (col != NULL && col->type == MSGPACK_OBJECT_STR)
			printf("(%.*s)", (int)col->via.str.size,
			    col->via.str.ptr);
		if (by != NULL && by->type == MSGPACK_OBJECT_STR)
			printf(" by %.*s", (int)by->via.str.size,
			    by->via.str.ptr);
		if ((v = frame_get(r, "epsilon")) != NULL &&
		    v->type == MSGPACK_OBJECT_STR)
			printf("  [epsilon %.*s]", (int)v->via.str.size,
			    v->via.str.ptr);
		if ((by == NULL || by->type == MSGPACK_OBJECT_NIL) &&
		    groups->via.array.size == 1 &&
		    (v = frame_get(&groups->via.array.ptr[0], "value")) !=
		    NULL) {
			printf("  ");
			print_value(v);
			printf("\n");
		} else {
			printf("\n");
			for (j = 0; j < groups->via.array.size; j++) {
				g = &groups->via.array.ptr[j];
				printf("    ");
				if ((v = frame_get(g, "key")) != NULL &&
				    (by != NULL && by->type != MSGPACK_OBJECT_NIL)) {
					print_value(v);
					printf("\t");
				}
				if ((v = frame_get(g, "value")) != NULL)
					print_value(v);
				else if ((v = frame_get(g, "bins")) != NULL) {
					printf("bins");
					for (b = 0; b < v->via.array.size; b++) {
						printf(" ");
						print_value(&v->via.array.ptr[b]);
					}
					printf("  (below ");
					print_value(frame_get(g, "below"));
					printf(", above ");
					print_value(frame_get(g, "above"));
					printf(")");
				}
				printf("\n");
			}
		}
		if ((v = frame_get(r, "mechanism")) != NULL &&
		    v->type == MSGPACK_OBJECT_STR)
			printf("    (%.*s)\n", (int)v->via.str.size,
			    v->via.str.ptr);
		if ((v = frame_get(r, "selection")) != NULL &&
		    v->type == MSGPACK_OBJECT_STR)
			printf("    (%.*s)\n", (int)v->via.str.size,
			    v->via.str.ptr);
		if (frame_get_uint(r, "suppressed", &supp) == 0 && supp > 0 &&
		    frame_get_uint(r, "k", &k) == 0)
			printf("    (%llu suppressed: fewer than %llu distinct "
			    "units)\n", (unsigned long long)supp,
			    (unsigned long long)k);
	}
	printf("\n");
}

static void
print_human(const char *job, const char *data, const msgpack_object *rel,
    const struct spawner_outcome *out, const struct policy *p, int mock)
{
	char conf[128];

	printf("%s on %s%s: mode %s", job, data, mock ? " (mock data)" : "",
	    policy_mode_name(p->mode));
	if (p->mode == POLICY_THRESHOLD)
		printf(", k = %u distinct units", p->k);
	printf("; worker confinement: %s\n\n", confine_describe(
	    out->confinement, conf, sizeof(conf)));
	cli_print_results(rel);
}

static void
print_stats(const struct spawner_outcome *out, int dp)
{
	const msgpack_object *st = frame_get(&out->frame.data, "stats");
	uint64_t rows = 0, kept = 0, units = 0, err = 0, over = 0;

	(void)frame_get_uint(st, "rows", &rows);
	(void)frame_get_uint(st, "rows_kept", &kept);
	(void)frame_get_uint(st, "units", &units);
	(void)frame_get_uint(st, "row_errors", &err);
	(void)frame_get_uint(st, "row_overruns", &over);
	printf("rows %llu, %llu kept after contribution bounding, %llu units",
	    (unsigned long long)rows, (unsigned long long)kept,
	    (unsigned long long)units);
	if (err + over > 0)
		printf("; row functions: %llu errors, %llu over their "
		    "instruction cap (defaults used)",
		    (unsigned long long)err, (unsigned long long)over);
	/* Under dp, how long a job took is not shown: time is a channel. */
	if (dp)
		printf("\n");
	else
		printf("; %.0f ms wall, %.0f ms cpu\n", out->wall_ms,
		    out->cpu_ms);
}

int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data",	required_argument, NULL, 'd' },
		{ "schema",	required_argument, NULL, 's' },
		{ "policy",	required_argument, NULL, 'p' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "mock",	no_argument,	   NULL, 'm' },
		{ "epsilon",	required_argument, NULL, 'e' },
		{ "ledger",	required_argument, NULL, 'l' },
		{ "buyer",	required_argument, NULL, 'b' },
		CLI_CSV_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct ingest_opts opts;
	struct cli_data d;
	struct policy *p = NULL;
	struct veil_err err;
	struct spawner *sp = NULL;
	struct spawner_outcome out;
	struct spawner_limits lim;
	msgpack_sbuffer job, rel;
	msgpack_packer rpk;
	msgpack_unpacked up;
	unsigned char key[ANON_KEY_LEN];
	const char *data = NULL, *schema = NULL, *policy = NULL, *jobpath;
	const char *ledger_path = NULL, *buyer = "local";
	struct ledger *led = NULL;
	struct sampler *smp = NULL;
	struct dp_params dpp;
	int64_t eps_job = 0, per_job, total, buyer_total, ds_left = -1;
	int64_t buyer_left = -1;
	char ebuf[32], lbuf[32], bbuf[32];
	char worker[PATH_MAX], *src = NULL;
	const void *tabs[1];
	void *abuf = NULL;
	size_t srclen, alen;
	int ch, json = 0, mock = 0, r, rc = EXIT_INTERNAL, have_out = 0;

	ingest_opts_default(&opts);
	memset(&d, 0, sizeof(d));
	msgpack_sbuffer_init(&job);
	msgpack_sbuffer_init(&rel);
	msgpack_unpacked_init(&up);
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			data = optarg;
			break;
		case 's':
			schema = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'm':
			mock = 1;
			break;
		case 'e':
			if (ledger_parse(optarg, &eps_job) != 0 ||
			    eps_job <= 0) {
				fprintf(stderr, "veil: --epsilon: expected a "
				    "positive decimal such as 0.5, got \"%s\"\n",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			ledger_path = optarg;
			break;
		case 'b':
			buyer = optarg;
			break;
		default:
			if ((r = cli_csv_option(ch, optarg, &opts)) == 1)
				break;
			fputs(usage_text, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || data == NULL || schema == NULL) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	jobpath = argv[optind];
	veil_err_clear(&err);
	if (policy != NULL ? policy_load_file(policy, &p, &err) != 0 :
	    (p = policy_new_default()) == NULL) {
		fprintf(stderr, "veil: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if (cli_worker_path(worker, sizeof(worker)) != 0) {
		fprintf(stderr, "veil: cannot find veil-worker next to veil "
		    "(set VEIL_WORKER)\n");
		goto out;
	}
	if (luadata_slurp(jobpath, MAX_JOB_SOURCE, &src, &srclen, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = cli_load(data, schema, &opts, &d)) != EXIT_OK)
		goto out;
	rc = EXIT_INTERNAL;
	if (policy_apply_level(p, schema_level(d.schema)) > 0 && !json)
		fprintf(stderr, "veil: note: the data's classification level "
		    "(%d) raised the policy's minimums\n",
		    schema_level(d.schema));
	if (p->mode == POLICY_DP) {
		/* The budget is charged before the job runs: a failing job
		 * pays too, so failures cannot be used for free. */
		if (ledger_parse(p->eps_job, &per_job) != 0 ||
		    ledger_parse(p->eps_total, &total) != 0 ||
		    ledger_parse(p->eps_buyer, &buyer_total) != 0) {
			fprintf(stderr, "veil: %s: epsilon finer than 1e-9\n",
			    p->path);
			rc = EXIT_USAGE;
			goto out;
		}
		if (eps_job == 0)
			eps_job = per_job;
		if (eps_job > per_job) {
			ledger_format(eps_job, ebuf, sizeof(ebuf));
			fprintf(stderr, "veil: --epsilon %s exceeds the policy's "
			    "%s per job\n", ebuf, p->eps_job);
			rc = EXIT_REFUSED;
			goto out;
		}
		if (ledger_path != NULL) {
			if ((led = ledger_open(ledger_path, &err)) == NULL) {
				fprintf(stderr, "veil: %s\n", err.msg);
				goto out;
			}
			if ((r = ledger_charge(led, d.schema->name, buyer, total,
			    buyer_total, eps_job, jobpath, &ds_left,
			    &buyer_left, &err)) != 0) {
				fprintf(stderr, "veil: %s\n", err.msg);
				rc = r == VEIL_E_REFUSED ? EXIT_REFUSED :
				    EXIT_INTERNAL;
				goto out;
			}
		}
	}
	if (p->mode == POLICY_EXPORT) {
		fprintf(stderr, "veil: policy %s is an export policy: jobs do "
		    "not run on it; use veil anonymize\n", p->path);
		rc = EXIT_REFUSED;
		goto out;
	}

	/* De-identify: the identifier actions, under a key of this run. */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key) ||
	    anon_identifiers(d.table, d.schema, key, sizeof(key), &abuf,
	    &alen, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg[0] ? err.msg :
		    "cannot de-identify");
		goto out;
	}
	explicit_bzero(key, sizeof(key));

	if (jobspec_frame(&job, src, srclen, p, mock) != 0)
		goto out;
	jobspec_limits(p, &lim);
	tabs[0] = abuf;
	if ((sp = spawner_start(worker, NULL, tabs, &alen, 1, job.data,
	    job.size, &lim, &err)) == NULL) {
		fprintf(stderr, "veil: %s\n", err.msg);
		goto out;
	}
	if (spawner_wait(sp, &out) != 0) {
		fprintf(stderr, "veil: waiting for the worker failed\n");
		goto out;
	}
	have_out = 1;
	if (out.status != SPAWN_FINISHED) {
		fprintf(stderr, "veil: the job failed: %s", spawner_status_name(
		    out.status));
		if (out.class[0])
			fprintf(stderr, " (%s)", out.class);
		if (mock || p->mode == POLICY_NONE) {
			if (out.message[0])
				fprintf(stderr, ": %s", out.message);
			fprintf(stderr, "\n");
			if (out.log_len > 0)
				fprintf(stderr, "worker log:\n%s", out.log);
		} else
			fprintf(stderr, "; details are withheld on real data "
			    "(run it on mock data to see them: veil mock)\n");
		rc = out.status == SPAWN_REFUSED ? EXIT_INTERNAL : EXIT_JOB;
		goto out;
	}
	if (out.log_len > 0 && (mock || p->mode == POLICY_NONE))
		fprintf(stderr, "%s", out.log);
	msgpack_packer_init(&rpk, &rel, msgpack_sbuffer_write);
	if (p->mode == POLICY_DP) {
		if ((smp = sampler_new()) == NULL)
			goto out;
		memset(&dpp, 0, sizeof(dpp));
		dpp.eps_job = eps_job;
		dpp.delta = p->delta;
		dpp.noise = p->noise;
		dpp.m = p->max_rows_per_unit;
		dpp.smp = smp;
		r = dp_release(out.results, &dpp, &rpk, &err);
	} else
		r = release_results(out.results, p, &rpk, &err);
	if (r != 0 || frame_unpack(rel.data, rel.size, &up, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		rc = r == VEIL_E_REFUSED ? EXIT_REFUSED : EXIT_JOB;
		goto out;
	}
	if (json) {
		char conf[128];

		printf("{\"job\":");
		jsonw_str(stdout, jobpath, strlen(jobpath));
		printf(",\"mode\":\"%s\",\"confinement\":\"%s\",\"results\":",
		    policy_mode_name(p->mode), confine_describe(
		    out.confinement, conf, sizeof(conf)));
		jsonw_msgpack(stdout, &up.data);
		printf(",\"stats\":");
		jsonw_msgpack(stdout, frame_get(&out.frame.data, "stats"));
		if (p->mode == POLICY_DP) {
			ledger_format(eps_job, ebuf, sizeof(ebuf));
			printf(",\"epsilon\":\"%s\",\"budget\":", ebuf);
			if (led != NULL) {
				ledger_format(ds_left, lbuf, sizeof(lbuf));
				ledger_format(buyer_left, bbuf, sizeof(bbuf));
				printf("{\"dataset_left\":\"%s\","
				    "\"buyer_left\":\"%s\"}", lbuf, bbuf);
			} else
				printf("null");
		}
		printf("}\n");
	} else {
		print_human(jobpath, data, &up.data, &out, p, mock);
		print_stats(&out, p->mode == POLICY_DP);
		if (p->mode == POLICY_DP) {
			ledger_format(eps_job, ebuf, sizeof(ebuf));
			printf("privacy: this job spent epsilon %s", ebuf);
			if (led != NULL) {
				ledger_format(ds_left, lbuf, sizeof(lbuf));
				ledger_format(buyer_left, bbuf, sizeof(bbuf));
				printf("; left: %s for data set '%s', %s for "
				    "buyer '%s'\n", lbuf, d.schema->name, bbuf,
				    buyer);
			} else
				printf(" (no ledger: budgets are tracked with "
				    "--ledger FILE)\n");
		}
	}
	rc = EXIT_OK;
 out:
	if (have_out)
		spawner_outcome_free(&out);
	spawner_free(sp);
	sampler_free(smp);
	ledger_close(led);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&job);
	msgpack_sbuffer_destroy(&rel);
	free(abuf);
	free(src);
	cli_data_free(&d);
	policy_free(p);
	return rc;
}
