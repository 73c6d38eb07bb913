/*
 * mock.c: `veil mock`, for data buyers. It writes a synthetic CSV that
 * fits a schema's declared types, domains and ranges but holds no real
 * value, so that Lua jobs can be written and tested before any grant.
 * The output loads back through the same schema (`veil inspect`), and it
 * is a function of the schema, the row count and the seed alone: the
 * generator is our own (xoshiro256**, seeded by splitmix64), not libc's,
 * so the same command gives the same bytes on every machine.
 *
 * Rows are streamed through a buffered FILE, one value at a time; the
 * file is never held in memory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "datefmt.h"

#define MOCK_MAX_ROWS	UINT64_C(100000000)
#define MOCK_NULL_IN	20	/* non-required columns: 1 in 20 null */
#define MOCK_UNIT_RUN	5	/* rows per unit: 1 to 5, consecutive */
#define MOCK_WORDS	20	/* plain strings: s1 .. s20 */
#define MOCK_CATS	5	/* undeclared categories: c1 .. c5 */
#define MOCK_IDS	UINT64_C(100000000)	/* ID00000000 .. ID99999999 */
#define MOCK_FLOAT_LEN	32	/* longer "%.2f" text is printed %.17g */
#define MOCK_BUF	2048	/* > the widest value built: 1024 digits */
#define MOCK_OBUF	(1 << 16)

#define USAGE	"usage: veil mock --schema SCHEMA.lua --rows N [--seed N] " \
		"[--out FILE]"

struct rng {
	uint64_t	s[4];
};

enum gen_kind {
	G_INT = 1,	/* uniform in [lo, hi] */
	G_FLOAT,	/* uniform in [flo, fhi] */
	G_BOOL,
	G_DATE,		/* uniform days in [lo, hi] */
	G_VALUES,	/* a declared category value */
	G_LEAVES,	/* an original (level 0) value of a table hierarchy */
	G_UNIT,		/* the privacy unit: U000001, or its number */
	G_ID,		/* another identifier: ID00012345 */
	G_DIGITS,	/* n digits (strings with a mask hierarchy) */
	G_TEXT,		/* a short phrase */
	G_WORD,		/* prefix and 1..n */
};

struct gen {
	enum gen_kind			 kind;
	const struct schema_column	*col;
	int				 nullable;
	int64_t				 lo, hi;	/* int, date, unit */
	double				 flo, fhi;
	uint32_t			*rows;	/* G_LEAVES; NULL: every leaf */
	size_t				 n;	/* choices, or digits */
	const char			*prefix;	/* G_WORD */
};

struct mock {
	const struct schema	*s;
	struct gen		*gens;
	struct rng		 rng;
	uint64_t		 seed;
	uint64_t		 unit;		/* the current unit, from 1 */
	uint64_t		 unit_left;	/* its rows still to write */
	int			 delim;
	char			 buf[MOCK_BUF];
};

/* {====== the generator: splitmix64 seeds xoshiro256** */

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/*
 * Uniform in [0, n); n == 0 stands for 2^64. Draws below 2^64 mod n are
 * redrawn, so that every residue has the same number of preimages (the
 * arc4random_uniform method).
 */
static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	uint64_t x, min;

	if (n == 0)
		return rng_next(r);
	min = (0 - n) % n;
	do
		x = rng_next(r);
	while (x < min);
	return x % n;
}

/* Uniform in [lo, hi], for any int64 bounds. */
static int64_t
rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo;

	return (int64_t)((uint64_t)lo + rng_below(r, span + 1));
}

/* Uniform in [0, 1), on the 2^-53 grid. */
static double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* }====== */

/* {====== per-column set-up */

/*
 * The usable leaves of an int or date column's table hierarchy: those in
 * the declared range and written as ingestion looks them up (an int leaf
 * "007" parses, but the value 7 is looked up as "7").
 */
static int
leaf_rows(const struct schema_column *col, struct gen *g)
{
	size_t i, len, n = hierarchy_nleaves(col->hier);
	const char *p;
	char buf[32];
	int64_t v;
	int32_t d;

	if ((g->rows = calloc(n ? n : 1, sizeof(*g->rows))) == NULL)
		return -1;
	g->n = 0;
	for (i = 0; i < n; i++) {
		p = hierarchy_cell(col->hier, i, 0, &len);
		if (col->type == VEIL_T_DATE) {
			if (datefmt_parse(p, len, &d) != 0)
				continue;
			v = d;
		} else {
			if (ingest_parse_int(p, len, &v) != 0 ||
			    (size_t)snprintf(buf, sizeof(buf), "%lld",
			    (long long)v) != len || memcmp(buf, p, len) != 0)
				continue;
		}
		if (col->has_range && (v < col->ilo || v > col->ihi))
			continue;
		g->rows[g->n++] = (uint32_t)i;
	}
	return 0;
}

static int
has_table(const struct schema_column *col)
{
	return col->hier != NULL && hierarchy_kind(col->hier) == HIER_TABLE &&
	    hierarchy_nleaves(col->hier) > 0;
}

/* The largest mask count, or 0 if the column has no mask hierarchy. */
static size_t
mask_width(const struct schema_column *col)
{
	const int64_t *m;
	size_t i, n, w = 0;

	if (col->hier == NULL || hierarchy_kind(col->hier) != HIER_MASK)
		return 0;
	m = hierarchy_masks(col->hier, &n);
	for (i = 0; i < n; i++)
		if ((size_t)m[i] > w)
			w = (size_t)m[i];
	return w;
}

static void
setup_string(const struct schema_column *col, struct gen *g)
{
	size_t w;

	if (has_table(col)) {
		g->kind = G_LEAVES;
		g->n = hierarchy_nleaves(col->hier);
	} else if (col->type == VEIL_T_CATEGORY && col->role ==
	    VEIL_R_IDENTIFIER)
		g->kind = G_ID;
	else if (col->type == VEIL_T_CATEGORY) {
		g->kind = G_WORD;
		g->prefix = "c";
		g->n = MOCK_CATS;
	} else if ((w = mask_width(col)) > 0) {
		g->kind = G_DIGITS;
		g->n = w;
	} else if (col->text || col->role == VEIL_R_TEXT)
		g->kind = G_TEXT;
	else if (col->role == VEIL_R_IDENTIFIER)
		g->kind = G_ID;
	else {
		g->kind = G_WORD;
		g->prefix = "s";
		g->n = MOCK_WORDS;
	}
}

/*
 * Chooses how column ci is drawn. Returns 0, or prints why the column
 * cannot be mocked and returns an exit code.
 */
static int
setup_column(struct mock *m, size_t ci)
{
	const struct schema_column *col = &m->s->cols[ci];
	struct gen *g = &m->gens[ci];

	g->col = col;
	g->nullable = !col->required && m->s->ncols > 1;
	g->lo = col->ilo;
	g->hi = col->ihi;
	g->flo = col->flo;
	g->fhi = col->fhi;
	if ((int)ci == m->s->unit_col && (col->type == VEIL_T_INT ||
	    col->type == VEIL_T_STRING || (col->type == VEIL_T_CATEGORY &&
	    col->nvalues == 0 && !has_table(col)))) {
		g->kind = G_UNIT;
		return EXIT_OK;
	}
	switch (col->type) {
	case VEIL_T_INT:
	case VEIL_T_DATE:
		if (has_table(col)) {
			g->kind = G_LEAVES;
			if (leaf_rows(col, g) != 0) {
				fprintf(stderr, "veil: out of memory\n");
				return EXIT_INTERNAL;
			}
			if (g->n == 0) {
				fprintf(stderr, "veil: %s: column %zu (%s): no "
				    "original value of its hierarchy lies in "
				    "its declared range; nothing to draw "
				    "from\n", m->s->path, ci + 1, col->name);
				return EXIT_USAGE;
			}
			break;
		}
		g->kind = col->type == VEIL_T_INT ? G_INT : G_DATE;
		if (col->has_range)
			break;
		g->lo = col->type == VEIL_T_INT ? 0 : datefmt_days(2000, 1, 1);
		g->hi = col->type == VEIL_T_INT ? 100 :
		    datefmt_days(2025, 12, 31);
		break;
	case VEIL_T_FLOAT:
		g->kind = G_FLOAT;
		if (!col->has_range) {
			g->flo = 0;
			g->fhi = 1000;
		}
		break;
	case VEIL_T_BOOL:
		g->kind = G_BOOL;
		break;
	case VEIL_T_CATEGORY:
		if (col->nvalues > 0) {
			g->kind = G_VALUES;
			g->n = col->nvalues;
			break;
		}
		/* FALLTHROUGH */
	default:
		setup_string(col, g);
		break;
	}
	return EXIT_OK;
}

/* }====== */

/* {====== values and CSV output */

/*
 * Up to two decimals, trailing zeros dropped, and read back with the
 * ingestion parser to make sure rounding kept it in range. When no such
 * number is in range (a range narrower than 0.01) or the text would be
 * long (|v| beyond about 1e28), v is printed exactly instead.
 */
static size_t
fmt_float(double v, double lo, double hi, char *buf, size_t size)
{
	double back;
	int n;

	n = snprintf(buf, size, "%.2f", v);
	if (n > 0 && n < MOCK_FLOAT_LEN) {
		while (buf[n - 1] == '0')
			n--;
		if (buf[n - 1] == '.')
			n--;
		buf[n] = '\0';
		if (strcmp(buf, "-0") == 0) {
			buf[0] = '0';
			buf[n = 1] = '\0';
		}
		if (ingest_parse_float(buf, (size_t)n, &back) == 0 &&
		    back >= lo && back <= hi)
			return (size_t)n;
	}
	n = snprintf(buf, size, "%.17g", v);
	return n > 0 ? (size_t)n : 0;
}

static const char *
fmt_text(struct rng *r, char *buf, size_t size, size_t *lenp)
{
	unsigned int k = 1 + (unsigned int)rng_below(r, 999);
	int n;

	/* Some phrases need quoting, so that job code meets it early. */
	switch (rng_below(r, 4)) {
	case 0:
		n = snprintf(buf, size, "mock note %u, follow-up", k);
		break;
	case 1:
		n = snprintf(buf, size, "mock note %u: \"stable\"", k);
		break;
	default:
		n = snprintf(buf, size, "mock note %u", k);
		break;
	}
	*lenp = n > 0 ? (size_t)n : 0;
	return buf;
}

/*
 * Identifiers other than the unit stay the same for all rows of a unit
 * (a patient keeps one name), so they are drawn from a generator seeded
 * by the unit and the column.
 */
static uint64_t
id_number(struct mock *m, size_t ci)
{
	struct rng r;
	uint64_t x;

	if (m->s->unit_col < 0)
		return rng_below(&m->rng, MOCK_IDS);
	x = m->seed ^ (m->unit * UINT64_C(0x9e3779b97f4a7c15));
	rng_seed(&r, splitmix64(&x) ^ ((uint64_t)ci << 32));
	return rng_below(&r, MOCK_IDS);
}

static const char *
unit_value(struct mock *m, const struct gen *g, size_t *lenp)
{
	uint64_t span;
	int64_t v;
	int n;

	if (g->col->type != VEIL_T_INT)
		n = snprintf(m->buf, sizeof(m->buf), "U%06llu",
		    (unsigned long long)m->unit);
	else {
		v = (int64_t)m->unit;
		if (g->col->has_range) {
			span = (uint64_t)g->hi - (uint64_t)g->lo;
			v = (int64_t)((uint64_t)g->lo + (span + 1 == 0 ?
			    m->unit - 1 : (m->unit - 1) % (span + 1)));
		}
		n = snprintf(m->buf, sizeof(m->buf), "%lld", (long long)v);
	}
	*lenp = n > 0 ? (size_t)n : 0;
	return m->buf;
}

/* Draws a value of column ci; the text is valid until the next call. */
static const char *
gen_value(struct mock *m, size_t ci, size_t *lenp)
{
	const struct gen *g = &m->gens[ci];
	struct rng *r = &m->rng;
	const char *p;
	size_t i, row;
	double u, v;
	int n = 0;

	switch (g->kind) {
	case G_INT:
		n = snprintf(m->buf, sizeof(m->buf), "%lld",
		    (long long)rng_range(r, g->lo, g->hi));
		break;
	case G_FLOAT:
		u = rng_unit(r);
		v = g->flo * (1 - u) + g->fhi * u;	/* no overflow */
		v = v < g->flo ? g->flo : v > g->fhi ? g->fhi : v;
		*lenp = fmt_float(v, g->flo, g->fhi, m->buf, sizeof(m->buf));
		return m->buf;
	case G_BOOL:
		p = rng_below(r, 2) ? "true" : "false";
		*lenp = strlen(p);
		return p;
	case G_DATE:
		datefmt_format((int32_t)rng_range(r, g->lo, g->hi), m->buf);
		n = DATEFMT_LEN;
		break;
	case G_VALUES:
		p = g->col->values[rng_below(r, g->n)];
		*lenp = strlen(p);
		return p;
	case G_LEAVES:
		row = (size_t)rng_below(r, g->n);
		if (g->rows != NULL)
			row = g->rows[row];
		return hierarchy_cell(g->col->hier, row, 0, lenp);
	case G_UNIT:
		return unit_value(m, g, lenp);
	case G_ID:
		n = snprintf(m->buf, sizeof(m->buf), "ID%08llu",
		    (unsigned long long)id_number(m, ci));
		break;
	case G_DIGITS:
		for (i = 0; i < g->n; i++)
			m->buf[i] = (char)('0' + rng_below(r, 10));
		n = (int)g->n;
		break;
	case G_TEXT:
		return fmt_text(r, m->buf, sizeof(m->buf), lenp);
	case G_WORD:
		n = snprintf(m->buf, sizeof(m->buf), "%s%llu", g->prefix,
		    (unsigned long long)(1 + rng_below(r, g->n)));
		break;
	}
	*lenp = n > 0 ? (size_t)n : 0;
	return m->buf;
}

/*
 * RFC 4180: quoted only when it must be. In the header, the other two
 * delimiters are quoted as well, because a reader that detects the
 * delimiter counts them there; so is a leading byte order mark.
 */
static void
put_field(FILE *fp, const char *p, size_t len, int delim, int header)
{
	size_t i;
	int q = header && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0;

	for (i = 0; i < len && !q; i++)
		q = p[i] == delim || p[i] == '"' || p[i] == '\n' ||
		    p[i] == '\r' || (header && (p[i] == ',' || p[i] == ';' ||
		    p[i] == '\t'));
	if (!q) {
		fwrite(p, 1, len, fp);
		return;
	}
	putc('"', fp);
	for (i = 0; i < len; i++) {
		if (p[i] == '"')
			putc('"', fp);
		putc(p[i], fp);
	}
	putc('"', fp);
}

/* Moves to the next row's unit: each unit spans 1 to MOCK_UNIT_RUN rows. */
static void
next_unit(struct mock *m)
{
	if (m->unit_left == 0) {
		m->unit++;
		m->unit_left = 1 + rng_below(&m->rng, MOCK_UNIT_RUN);
	}
	m->unit_left--;
}

/* Returns 0, or -1 after a write error (errno set). */
static int
write_csv(struct mock *m, uint64_t nrows, FILE *fp)
{
	const struct schema *s = m->s;
	const char *p;
	uint64_t row;
	size_t i, len;

	for (i = 0; i < s->ncols; i++) {
		if (i > 0)
			putc(m->delim, fp);
		put_field(fp, s->cols[i].name, strlen(s->cols[i].name),
		    m->delim, 1);
	}
	putc('\n', fp);
	for (row = 0; row < nrows && !ferror(fp); row++) {
		if (s->unit_col >= 0)
			next_unit(m);
		for (i = 0; i < s->ncols; i++) {
			if (i > 0)
				putc(m->delim, fp);
			if (m->gens[i].nullable &&
			    rng_below(&m->rng, MOCK_NULL_IN) == 0)
				continue;
			p = gen_value(m, i, &len);
			put_field(fp, p, len, m->delim, 0);
		}
		putc('\n', fp);
	}
	if (fflush(fp) == EOF || ferror(fp)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * Writes the CSV to the file out, or to standard output if out is NULL.
 * Returns an exit code; a partial regular file is removed.
 */
static int
emit(struct mock *m, uint64_t nrows, const char *out)
{
	struct stat st;
	FILE *fp = stdout;
	int oerrno = 0, made = 0;

	if (out != NULL) {
		if ((fp = fopen(out, "we")) == NULL) {
			fprintf(stderr, "veil: %s: %s\n", out, strerror(errno));
			return EXIT_INTERNAL;
		}
		/* Never unlink a device or a fifo the user named. */
		made = fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode);
	}
	(void)setvbuf(fp, NULL, _IOFBF, MOCK_OBUF);	/* else stdio's own */
	if (write_csv(m, nrows, fp) != 0)
		oerrno = errno;
	if (out != NULL && fclose(fp) != 0 && oerrno == 0)
		oerrno = errno != 0 ? errno : EIO;
	if (oerrno == 0)
		return EXIT_OK;
	fprintf(stderr, "veil: %s: write error: %s\n", out != NULL ? out :
	    "standard output", strerror(oerrno));
	if (made)
		unlink(out);	/* a partial file is worse than none */
	return EXIT_INTERNAL;
}

/* }====== */

/*
 * The value of --rows or --seed: decimal digits only, in [min, max].
 * Returns 0, or -1 after saying what was expected.
 */
static int
parse_count(const char *opt, const char *arg, uint64_t min, uint64_t max,
    uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (arg[0] >= '0' && arg[0] <= '9') {	/* no sign, no space */
		errno = 0;
		v = strtoull(arg, &end, 10);
		if (errno == 0 && *end == '\0' && v >= min && v <= max) {
			*out = v;
			return 0;
		}
	}
	fprintf(stderr, "veil: mock: %s: expected a whole number from %llu "
	    "to %llu, got \"%s\"\n", opt, (unsigned long long)min,
	    (unsigned long long)max, arg);
	return -1;
}

static int
bad_option(int ch, char **argv)
{
	const char *opt = argv[optind - 1];

	if (ch == ':')
		fprintf(stderr, "veil: mock: %s needs a value; %s\n", opt,
		    USAGE);
	else if (optopt != 0)
		fprintf(stderr, "veil: mock: unknown option -%c; %s\n", optopt,
		    USAGE);
	else
		fprintf(stderr, "veil: mock: unknown option %s; %s\n", opt,
		    USAGE);
	return EXIT_USAGE;
}

int
cmd_mock(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "schema",	required_argument, NULL, 's' },
		{ "rows",	required_argument, NULL, 'r' },
		{ "seed",	required_argument, NULL, 'S' },
		{ "out",	required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct mock m;
	struct veil_err err;
	struct schema *s = NULL;
	const char *schema = NULL, *out = NULL;
	uint64_t nrows = 0;
	size_t i;
	int ch, r = EXIT_INTERNAL;

	memset(&m, 0, sizeof(m));
	m.seed = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			schema = optarg;
			break;
		case 'r':
			if (parse_count("--rows", optarg, 1, MOCK_MAX_ROWS,
			    &nrows) != 0)
				return EXIT_USAGE;
			break;
		case 'S':
			if (parse_count("--seed", optarg, 0, UINT64_MAX,
			    &m.seed) != 0)
				return EXIT_USAGE;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return bad_option(ch, argv);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "veil: mock: unexpected argument \"%s\"; %s\n",
		    argv[optind], USAGE);
		return EXIT_USAGE;
	}
	if (schema == NULL || nrows == 0) {
		fprintf(stderr, "veil: mock: %s is required; %s\n",
		    schema == NULL ? "--schema" : "--rows", USAGE);
		return EXIT_USAGE;
	}

	veil_err_clear(&err);
	if (schema_load_file(schema, &s, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		r = EXIT_USAGE;
		goto out;
	}
	m.s = s;
	m.delim = s->delimiter != 0 ? s->delimiter : ',';
	rng_seed(&m.rng, m.seed);
	if ((m.gens = calloc(s->ncols, sizeof(*m.gens))) == NULL) {
		fprintf(stderr, "veil: out of memory\n");
		goto out;
	}
	for (i = 0; i < s->ncols; i++)
		if ((r = setup_column(&m, i)) != EXIT_OK)
			goto out;

	r = emit(&m, nrows, out);
 out:
	if (m.gens != NULL)
		for (i = 0; i < s->ncols; i++)
			free(m.gens[i].rows);
	free(m.gens);
	schema_free(s);
	return r;
}
