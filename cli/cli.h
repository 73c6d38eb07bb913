/*
 * cli.h: what the subcommands of the veil command share: exit codes, the
 * CSV + schema -> validated table path, and option parsing helpers.
 */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "ingest.h"
#include "schema.h"
#include "table.h"

/* Exit codes, as in DESIGN.md ("Command line"). */
#define EXIT_OK		0
#define EXIT_INTERNAL	1
#define EXIT_USAGE	2	/* bad arguments or invalid input files */
#define EXIT_JOB	3
#define EXIT_REFUSED	4
#define EXIT_DAEMON	5

/* A loaded data set: its schema and its validated table buffer. */
struct cli_data {
	struct schema		*schema;
	void			*buf;
	size_t			 len;
	struct table		*table;
	struct ingest_stats	 stats;
};

/*
 * Loads schema_path, ingests data_path through it and opens the result
 * as a table. Returns 0, or prints the error and returns an exit code.
 */
int	 cli_load(const char *data_path, const char *schema_path,
	    const struct ingest_opts *opts, struct cli_data *d);
void	 cli_data_free(struct cli_data *d);

/*
 * Handles the CSV limit options shared by commands that read data
 * (--delimiter, --max-line, --max-fields, --max-rows). Returns 1 if opt
 * was one of them, 0 if not, -1 on a bad value (after printing why).
 */
int	 cli_csv_option(int opt, const char *arg, struct ingest_opts *o);
#define CLI_CSV_LONGOPTS						\
	{ "delimiter",	required_argument, NULL, 0x100 },		\
	{ "max-line",	required_argument, NULL, 0x101 },		\
	{ "max-fields",	required_argument, NULL, 0x102 },		\
	{ "max-rows",	required_argument, NULL, 0x103 }

/* Finds veil-worker: $VEIL_WORKER, beside veil, or ../libexec/veil. */
int	 cli_worker_path(char *buf, size_t len);

/* Prints released results as veil run does (run.c). */
struct msgpack_object;
void	 cli_print_results(const struct msgpack_object *rel);

int	 cmd_inspect(int argc, char **argv);
int	 cmd_run(int argc, char **argv);
int	 cmd_anonymize(int argc, char **argv);
int	 cmd_mock(int argc, char **argv);

/* The exchange commands, through veild (exchange.c). */
int	 cmd_init(int argc, char **argv);
int	 cmd_party(int argc, char **argv);
int	 cmd_dataset(int argc, char **argv);
int	 cmd_grant(int argc, char **argv);
int	 cmd_job(int argc, char **argv);
int	 cmd_budget(int argc, char **argv);
int	 cmd_usage(int argc, char **argv);
int	 cmd_audit(int argc, char **argv);

#endif /* VEIL_CLI_H */
