/*
 * veil.c: the veil command: dispatches to one function per subcommand
 * (cmd_*), each of which parses its own options and returns an exit code
 * from cli.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VEIL_VERSION	"0.1.0"

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} commands[] = {
	{ "inspect", cmd_inspect,
	  "inspect --data FILE.csv --schema SCHEMA.lua [--json]" },
	{ "run", cmd_run,
	  "run JOB.lua --data DATA.csv --schema SCHEMA.lua [--policy POLICY.lua] "
	  "[--mock] [--json]" },
	{ "anonymize", cmd_anonymize,
	  "anonymize --data DATA.csv --schema SCHEMA.lua --policy POLICY.lua "
	  "--out OUT.csv [--report R.json] [--json]" },
	{ "mock", cmd_mock,
	  "mock --schema SCHEMA.lua --rows N [--seed N] [--out FILE]" },
	{ "init", cmd_init,
	  "init --home DIR [--token-out FILE]" },
	{ "party", cmd_party,
	  "party add NAME --role provider|buyer|auditor [--token-out FILE] "
	  "| list" },
	{ "dataset", cmd_dataset,
	  "dataset register NAME --data D.csv --schema S.lua --policy P.lua" },
	{ "dataset", cmd_dataset,
	  "dataset approve NAME | list | show NAME | revoke NAME" },
	{ "grant", cmd_grant,
	  "grant DATASET --to BUYER --epsilon E [--purpose TEXT] "
	  "[--expires UNIXTIME]" },
	{ "job", cmd_job,
	  "job submit JOB.lua --dataset NAME [--epsilon E] [--wait]" },
	{ "job", cmd_job,
	  "job status ID | wait ID | result ID" },
	{ "budget", cmd_budget,
	  "budget [--dataset NAME]" },
	{ "usage", cmd_usage,
	  "usage" },
	{ "audit", cmd_audit,
	  "audit tail [-n N] | verify" },
};

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: veil COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  veil %s\n", commands[i].usage);
	fprintf(fp, "\noptions for commands that read CSV: --delimiter C, "
	    "--max-line BYTES, --max-fields N, --max-rows N\n"
	    "options for the exchange commands (party to audit), which talk "
	    "to veild:\n"
	    "  --json, --home DIR or --socket PATH (else $VEIL_SOCKET, "
	    "$VEIL_HOME/veil.sock),\n"
	    "  --token-file FILE (else $VEIL_TOKEN, $VEIL_TOKEN_FILE)\n"
	    "exit codes: 0 ok, 1 internal error, 2 usage or invalid input, "
	    "3 job failed, 4 refused by policy, 5 daemon unreachable\n");
}

int
cli_csv_option(int opt, const char *arg, struct ingest_opts *o)
{
	unsigned long long v;
	char *end;

	if (opt == 0x100) {
		if (strcmp(arg, ",") == 0 || strcmp(arg, ";") == 0)
			o->delimiter = arg[0];
		else if (strcmp(arg, "tab") == 0 || strcmp(arg, "\t") == 0)
			o->delimiter = '\t';
		else {
			fprintf(stderr, "veil: --delimiter: expected ',', ';' "
			    "or tab, got \"%s\"\n", arg);
			return -1;
		}
		return 1;
	}
	if (opt < 0x101 || opt > 0x103)
		return 0;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v == 0 ||
	    arg[0] == '-') {
		fprintf(stderr, "veil: expected a positive integer, got "
		    "\"%s\"\n", arg);
		return -1;
	}
	if (opt == 0x101) {
		if (v > CSV_HARD_MAX_RECORD) {
			fprintf(stderr, "veil: --max-line: at most %u bytes\n",
			    CSV_HARD_MAX_RECORD);
			return -1;
		}
		o->limits.max_record = (size_t)v;
	} else if (opt == 0x102) {
		if (v > (1u << 20)) {
			fprintf(stderr, "veil: --max-fields: at most %u\n",
			    1u << 20);
			return -1;
		}
		o->limits.max_fields = (size_t)v;
	} else
		o->limits.max_rows = v + 1;	/* the header is a record */
	return 1;
}

int
cli_load(const char *data_path, const char *schema_path,
    const struct ingest_opts *opts, struct cli_data *d)
{
	struct table_builder *b = NULL;
	struct veil_err err;
	int fd, r;

	memset(d, 0, sizeof(*d));
	veil_err_clear(&err);
	if (schema_load_file(schema_path, &d->schema, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		return EXIT_USAGE;
	}
	if ((fd = open(data_path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "veil: %s: %s\n", data_path, strerror(errno));
		cli_data_free(d);
		return EXIT_USAGE;
	}
	r = ingest_csv_fd(fd, data_path, d->schema, opts, &b, &d->stats, &err);
	close(fd);
	if (r == 0)
		r = table_builder_finish(b, &d->buf, &d->len, &err);
	table_builder_free(b);
	if (r == 0)
		r = table_open(d->buf, d->len, &d->table, &err);
	if (r != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		cli_data_free(d);
		return r == VEIL_E_NOMEM || r == VEIL_E_INTERNAL ?
		    EXIT_INTERNAL : EXIT_USAGE;
	}
	return EXIT_OK;
}

void
cli_data_free(struct cli_data *d)
{
	table_free(d->table);
	free(d->buf);
	schema_free(d->schema);
	memset(d, 0, sizeof(*d));
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("veil %s\n", VEIL_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "veil: unknown command \"%s\"; run \"veil help\"\n",
	    argv[1]);
	return EXIT_USAGE;
}
