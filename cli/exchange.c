/*
 * exchange.c: the exchange commands of veil: init (local), and party,
 * dataset, grant, job, budget, usage and audit, which call veild's
 * methods (docs/protocol.md) through client.c. Each command parses its
 * own options, takes --json (the method's result as JSON) and the
 * connection options (--home, --socket, --token-file), and prints
 * errors as "veil: METHOD: MESSAGE" with the exit code of the protocol's
 * table.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "client.h"
#include "frame.h"
#include "jsonw.h"
#include "ledger.h"
#include "luadata.h"

#define UPLOAD_CHUNK	(512u << 10)	/* dataset.upload's cap */
#define TEXT_MAX	(256u << 10)	/* a schema or policy file */
#define SOURCE_MAX	(512u << 10)	/* a job's Lua */
#define WAIT_MS		600000		/* job.wait's longest wait */
#define CELL_MAX	256

/* Options every exchange command takes. */
#define OPT_HOME	0x200
#define OPT_SOCKET	0x201
#define OPT_TOKEN_FILE	0x202
#define OPT_JSON	0x203
#define X_LONGOPTS							\
	{ "home",	required_argument, NULL, OPT_HOME },		\
	{ "socket",	required_argument, NULL, OPT_SOCKET },		\
	{ "token-file",	required_argument, NULL, OPT_TOKEN_FILE },	\
	{ "json",	no_argument,	   NULL, OPT_JSON }
#define X_USAGE	"[--json] [--home DIR | --socket PATH] [--token-file FILE]"

struct xctx {
	struct client_opts	 o;
	struct client		*c;
	int			 json;
};

/* A params map under construction. */
struct params {
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
};

/* A column of a table printed for people. */
enum cell_kind { CELL_TEXT, CELL_NUM, CELL_TIME };
struct column {
	const char	*key;
	const char	*head;
	enum cell_kind	 kind;
	size_t		 maxw;		/* cut longer values; 0: no cut */
};

/* {====== helpers */

static int
x_option(struct xctx *x, int ch, const char *arg)
{
	switch (ch) {
	case OPT_HOME:
		x->o.home = arg;
		return 1;
	case OPT_SOCKET:
		x->o.socket = arg;
		return 1;
	case OPT_TOKEN_FILE:
		x->o.token_file = arg;
		return 1;
	case OPT_JSON:
		x->json = 1;
		return 1;
	}
	return 0;
}

static int
x_connect(struct xctx *x)
{
	struct veil_err err;

	veil_err_clear(&err);
	if ((x->c = client_connect(&x->o, &err)) != NULL)
		return EXIT_OK;
	fprintf(stderr, "veil: %s\n", err.msg);
	return err.code == VEIL_E_INVALID ? EXIT_USAGE :
	    err.code == VEIL_E_IO ? EXIT_DAEMON : EXIT_INTERNAL;
}

/* Calls method; on failure prints why and returns the exit code. */
static int
x_call(struct xctx *x, const char *method, const struct params *p,
    msgpack_unpacked *res)
{
	struct rpc_error e;
	const char *m;
	size_t n = strlen(method);
	int r;

	if ((r = client_call(x->c, method, p != NULL ? &p->sb : NULL, res,
	    &e)) == 0)
		return EXIT_OK;
	m = e.message;
	if (strncmp(m, method, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;	/* the method is named once */
	fprintf(stderr, "veil: %s: %s\n", method, m);
	return client_exit_code(r);
}

static void
p_init(struct params *p, uint32_t nkeys)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
	msgpack_pack_map(&p->pk, nkeys);
}

static void
p_free(struct params *p)
{
	msgpack_sbuffer_destroy(&p->sb);
}

static void
p_str(struct params *p, const char *key, const char *val)
{
	frame_pack_cstr(&p->pk, key);
	frame_pack_cstr(&p->pk, val);
}

static void
p_strn(struct params *p, const char *key, const char *val, size_t len)
{
	frame_pack_cstr(&p->pk, key);
	msgpack_pack_str(&p->pk, len);
	msgpack_pack_str_body(&p->pk, val, len);
}

static void
p_int(struct params *p, const char *key, int64_t val)
{
	frame_pack_cstr(&p->pk, key);
	msgpack_pack_int64(&p->pk, val);
}

/* A job id as the user typed it: a number if it is one, else text. */
static void
p_id(struct params *p, const char *key, const char *id)
{
	unsigned long long v;
	char *end;

	frame_pack_cstr(&p->pk, key);
	errno = 0;
	v = strtoull(id, &end, 10);
	if (id[0] >= '0' && id[0] <= '9' && *end == '\0' && errno == 0)
		msgpack_pack_uint64(&p->pk, v);
	else
		frame_pack_cstr(&p->pk, id);
}

static void
p_obj(struct params *p, const char *key, const msgpack_object *o)
{
	frame_pack_cstr(&p->pk, key);
	msgpack_pack_object(&p->pk, *o);
}

/* An epsilon as an exact decimal string ("0.5"), or -1. */
static int
parse_epsilon(const char *opt, const char *arg, char *buf, size_t len)
{
	int64_t nano;

	if (ledger_parse(arg, &nano) != 0 || nano <= 0) {
		fprintf(stderr, "veil: %s: expected a positive decimal such as "
		    "0.5 (at most 9 decimals), got \"%s\"\n", opt, arg);
		return -1;
	}
	ledger_format(nano, buf, len);
	return 0;
}

static int
parse_uint(const char *opt, const char *arg, uint64_t lo, uint64_t hi,
    uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v < lo || v > hi) {
		fprintf(stderr, "veil: %s: expected an integer from %llu to "
		    "%llu, got \"%s\"\n", opt, (unsigned long long)lo,
		    (unsigned long long)hi, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* The display width of UTF-8 text: one column per character. */
static size_t
width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
is_time_key(const char *k, size_t len)
{
	static const char *const keys[] = { "created", "approved", "time",
	    "submitted", "started", "finished", "expires", "revoked", NULL };
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strlen(keys[i]) == len && memcmp(keys[i], k, len) == 0)
			return 1;
	return 0;
}

/* Appends s (not NUL-terminated) without control bytes, cut to fit. */
static void
cat_text(char *buf, size_t len, const char *s, size_t slen)
{
	size_t n = strlen(buf), i;

	for (i = 0; i < slen && n + 1 < len; i++)
		buf[n++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[n] = '\0';
}

/* One value as text for people. */
static void
fmt_value(const msgpack_object *v, enum cell_kind kind, char *buf,
    size_t len)
{
	static const char hex[] = "0123456789abcdef";
	struct tm tm;
	time_t t;
	char *mem = NULL;
	size_t memlen = 0, i, n;
	FILE *fp;

	buf[0] = '\0';
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
		snprintf(buf, len, "-");
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		snprintf(buf, len, "%s", v->via.boolean ? "yes" : "no");
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		t = (time_t)v->via.u64;
		if (kind == CELL_TIME && v->via.u64 == 0)
			snprintf(buf, len, "-");
		else if (kind == CELL_TIME && v->via.u64 < (1ull << 40) &&
		    localtime_r(&t, &tm) != NULL)
			strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
		else
			snprintf(buf, len, "%llu",
			    (unsigned long long)v->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		snprintf(buf, len, "%lld", (long long)v->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		snprintf(buf, len, "%.10g", v->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		cat_text(buf, len, v->via.str.ptr, v->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		for (i = 0, n = 0; i < v->via.bin.size && n + 2 < len; i++) {
			buf[n++] = hex[(unsigned char)v->via.bin.ptr[i] >> 4];
			buf[n++] = hex[(unsigned char)v->via.bin.ptr[i] & 15];
		}
		buf[n] = '\0';
		break;
	default:
		/* Containers: compact JSON. */
		if ((fp = open_memstream(&mem, &memlen)) == NULL) {
			snprintf(buf, len, "?");
			break;
		}
		jsonw_msgpack(fp, v);
		fclose(fp);
		cat_text(buf, len, mem, memlen);
		free(mem);
	}
}

/* Looks up key in the row map and formats it, "-" when absent. */
static void
fmt_field(const msgpack_object *row, const struct column *c, char *buf,
    size_t len)
{
	const msgpack_object *v = frame_get(row, c->key);
	size_t w;

	if (v == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	fmt_value(v, c->kind, buf, len);
	if (c->maxw > 3 && (w = strlen(buf)) > c->maxw)
		snprintf(buf + c->maxw - 3, len - (c->maxw - 3), "...");
}

/* One cell of column j of n: numbers to the right, the last unpadded. */
static void
print_cell(const char *cell, size_t w, int right, size_t j, size_t n)
{
	size_t cw = width(cell);
	int pad = cw < w ? (int)(w - cw) : 0;

	if (j > 0 && (j + 1 < n || cell[0] != '\0'))
		printf("  ");
	if (right)
		printf("%*s%s", pad, "", cell);
	else if (j + 1 == n)
		printf("%s", cell);
	else
		printf("%s%*s", cell, pad, "");
	if (j + 1 == n)
		printf("\n");
}

/* Prints an array of maps as an aligned table, or none_text. */
static void
print_table(const msgpack_object *rows, const struct column *cols,
    size_t ncols, const char *none_text)
{
	size_t w[16], i, j, cw;
	char cell[CELL_MAX];
	const msgpack_object *row;

	if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY ||
	    rows->via.array.size == 0) {
		printf("%s\n", none_text);
		return;
	}
	if (ncols > 16)
		ncols = 16;
	for (j = 0; j < ncols; j++)
		w[j] = strlen(cols[j].head);
	for (i = 0; i < rows->via.array.size; i++) {
		row = &rows->via.array.ptr[i];
		for (j = 0; j < ncols; j++) {
			fmt_field(row, &cols[j], cell, sizeof(cell));
			if ((cw = width(cell)) > w[j])
				w[j] = cw;
		}
	}
	for (j = 0; j < ncols; j++)
		print_cell(cols[j].head, w[j], cols[j].kind == CELL_NUM, j,
		    ncols);
	for (i = 0; i < rows->via.array.size; i++) {
		row = &rows->via.array.ptr[i];
		for (j = 0; j < ncols; j++) {
			fmt_field(row, &cols[j], cell, sizeof(cell));
			print_cell(cell, w[j], cols[j].kind == CELL_NUM, j,
			    ncols);
		}
	}
}

/* Prints a map as "key  value" lines, times as dates. */
static void
print_kv(const msgpack_object *m)
{
	const msgpack_object_kv *kv;
	char cell[CELL_MAX * 4];
	size_t kw = 0, i;

	if (m->type != MSGPACK_OBJECT_MAP) {
		fmt_value(m, CELL_TEXT, cell, sizeof(cell));
		printf("%s\n", cell);
		return;
	}
	for (i = 0; i < m->via.map.size; i++)
		if (m->via.map.ptr[i].key.type == MSGPACK_OBJECT_STR &&
		    m->via.map.ptr[i].key.via.str.size > kw)
			kw = m->via.map.ptr[i].key.via.str.size;
	if (kw > 32)
		kw = 32;
	for (i = 0; i < m->via.map.size; i++) {
		kv = &m->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;
		fmt_value(&kv->val, is_time_key(kv->key.via.str.ptr,
		    kv->key.via.str.size) ? CELL_TIME : CELL_TEXT, cell,
		    sizeof(cell));
		printf("%-*.*s  %s\n", (int)kw, (int)kv->key.via.str.size,
		    kv->key.via.str.ptr, cell);
	}
}

/* The string under key, as a C string in buf ("" if absent). */
static const char *
get_text(const msgpack_object *m, const char *key, char *buf, size_t len)
{
	const msgpack_object *v = frame_get(m, key);

	buf[0] = '\0';
	if (v != NULL)
		fmt_value(v, CELL_TEXT, buf, len);
	return buf;
}

static void
print_json(const msgpack_object *o)
{
	jsonw_msgpack(stdout, o);
	printf("\n");
}

/*
 * Connects, calls one method, prints its result as JSON or through
 * human(), and cleans up. Returns the exit code.
 */
static int
x_simple(struct xctx *x, const char *method, struct params *p,
    void (*human)(const msgpack_object *, void *), void *arg)
{
	msgpack_unpacked res;
	int rc;

	msgpack_unpacked_init(&res);
	if ((rc = x_connect(x)) == EXIT_OK &&
	    (rc = x_call(x, method, p, &res)) == EXIT_OK) {
		if (x->json)
			print_json(&res.data);
		else
			human(&res.data, arg);
	}
	msgpack_unpacked_destroy(&res);
	client_close(x->c);
	x->c = NULL;
	if (p != NULL)
		p_free(p);
	return rc;
}

/*
 * Writes a token to a new file of mode 0600 (never over an existing
 * one). Returns 0 or -1 after saying why.
 */
static int
write_token(const char *path, const char *token, size_t len)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "veil: %s: %s%s\n", path, strerror(errno),
		    errno == EEXIST ? " (not overwritten)" : "");
		return -1;
	}
	if (write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    close(fd) != 0) {
		fprintf(stderr, "veil: %s: %s\n", path, strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

static int
sub_usage(const char *text)
{
	fprintf(stderr, "usage: %s\n", text);
	return EXIT_USAGE;
}

/* }====== */

/* {====== veil init */

int
cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home",	required_argument, NULL, OPT_HOME },
		{ "json",	no_argument,	   NULL, OPT_JSON },
		{ "token-out",	required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil init --home DIR [--token-out FILE] [--json]";
	char token[CATALOG_TOKEN_LEN + 8];
	const char *home = getenv("VEIL_HOME"), *out = NULL;
	struct veil_err err;
	int ch, json = 0, r;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_HOME:
			home = optarg;
			break;
		case OPT_JSON:
			json = 1;
			break;
		case 't':
			out = optarg;
			break;
		default:
			return sub_usage(usage_text);
		}
	}
	if (optind != argc || home == NULL || home[0] == '\0')
		return sub_usage(usage_text);
	veil_err_clear(&err);
	if ((r = catalog_create(home, token, sizeof(token), &err)) != 0) {
		fprintf(stderr, "veil: init: %s\n", err.msg);
		return r == VEIL_E_INVALID ? EXIT_USAGE : EXIT_INTERNAL;
	}
	if (out != NULL && write_token(out, token, strlen(token)) != 0) {
		/* The exchange exists, but nobody holds its token. */
		fprintf(stderr, "veil: the operator token is printed instead:"
		    "\n%s\n", token);
		explicit_bzero(token, sizeof(token));
		return EXIT_INTERNAL;
	}
	if (json) {
		printf("{\"home\":");
		jsonw_str(stdout, home, strlen(home));
		printf(",\"party\":\"operator\",\"role\":\"operator\",");
		if (out != NULL) {
			printf("\"token_file\":");
			jsonw_str(stdout, out, strlen(out));
		} else
			printf("\"token\":\"%s\"", token);
		printf("}\n");
	} else if (out != NULL) {
		printf("exchange created in %s\n"
		    "operator token written to %s (mode 0600); veil keeps only "
		    "its hash\n\nuse it, then start the daemon:\n"
		    "    export VEIL_TOKEN_FILE=%s\n    veild --home %s\n",
		    home, out, out, home);
	} else {
		printf("exchange created in %s\n"
		    "operator token (shown only now; veil keeps only its hash):"
		    "\n\n    %s\n\nuse it, then start the daemon:\n"
		    "    export VEIL_TOKEN=%s\n    veild --home %s\n",
		    home, token, token, home);
	}
	explicit_bzero(token, sizeof(token));
	return EXIT_OK;
}

/* }====== */

/* {====== veil party */

struct party_add {
	const char	*out;	/* --token-out */
	int		 rc;
};

static void
human_party_add(const msgpack_object *r, void *arg)
{
	struct party_add *pa = arg;
	char name[CELL_MAX], role[32], token[CLIENT_TOKEN_MAX + 1];

	get_text(r, "name", name, sizeof(name));
	get_text(r, "role", role, sizeof(role));
	get_text(r, "token", token, sizeof(token));
	if (pa->out != NULL) {
		if (write_token(pa->out, token, strlen(token)) != 0) {
			fprintf(stderr, "veil: the token of %s is printed "
			    "instead:\n%s\n", name, token);
			pa->rc = EXIT_INTERNAL;
		} else
			printf("party %s added (%s); token written to %s "
			    "(mode 0600): use it with --token-file %s\n", name,
			    role, pa->out, pa->out);
	} else
		printf("party %s added (%s)\n"
		    "token (shown only now; veil keeps only its hash):\n\n"
		    "    %s\n\n"
		    "give it to %s, who uses it as VEIL_TOKEN=... or with "
		    "--token-file FILE\n", name, role, token, name);
	explicit_bzero(token, sizeof(token));
}

static void
human_party_list(const msgpack_object *r, void *arg)
{
	static const struct column cols[] = {
		{ "name", "NAME", CELL_TEXT, 0 },
		{ "role", "ROLE", CELL_TEXT, 0 },
		{ "created", "CREATED", CELL_TIME, 0 },
	};

	(void)arg;
	print_table(frame_get(r, "parties"), cols, 3, "no parties");
}

int
cmd_party(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ "role",	required_argument, NULL, 'r' },
		{ "token-out",	required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil party add NAME --role provider|buyer|auditor "
	    "[--token-out FILE] " X_USAGE "\n"
	    "       veil party list " X_USAGE;
	struct xctx x;
	struct params p;
	struct party_add pa;
	const char *verb, *role = NULL;
	int ch, rc;

	memset(&x, 0, sizeof(x));
	memset(&pa, 0, sizeof(pa));
	if (argc < 2)
		return sub_usage(usage_text);
	verb = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		if (ch == 'r')
			role = optarg;
		else if (ch == 't')
			pa.out = optarg;
		else
			return sub_usage(usage_text);
	}
	if (strcmp(verb, "add") == 0) {
		if (optind + 1 != argc || role == NULL)
			return sub_usage(usage_text);
		if (strcmp(role, "provider") != 0 && strcmp(role, "buyer") != 0 &&
		    strcmp(role, "auditor") != 0) {
			fprintf(stderr, "veil: --role: expected provider, buyer "
			    "or auditor, got \"%s\"\n", role);
			return EXIT_USAGE;
		}
		p_init(&p, 2);
		p_str(&p, "name", argv[optind]);
		p_str(&p, "role", role);
		rc = x_simple(&x, "party.add", &p, human_party_add, &pa);
		if (rc == EXIT_OK && x.json && pa.out != NULL)
			fprintf(stderr, "veil: --token-out is ignored with "
			    "--json\n");
		return rc != EXIT_OK ? rc : pa.rc;
	}
	if (strcmp(verb, "list") == 0) {
		if (optind != argc)
			return sub_usage(usage_text);
		return x_simple(&x, "party.list", NULL, human_party_list, NULL);
	}
	return sub_usage(usage_text);
}

/* }====== */

/* {====== veil dataset */

static void
human_commit(const msgpack_object *r, void *arg)
{
	char name[CELL_MAX], rows[32], cols[CELL_MAX], digest[CELL_MAX];
	const msgpack_object *c = frame_get(r, "columns");

	(void)arg;
	get_text(r, "dataset", name, sizeof(name));
	get_text(r, "rows", rows, sizeof(rows));
	if (c != NULL && c->type == MSGPACK_OBJECT_ARRAY)
		snprintf(cols, sizeof(cols), "%u", c->via.array.size);
	else
		get_text(r, "columns", cols, sizeof(cols));
	get_text(r, "digest", digest, sizeof(digest));
	printf("%s: %s rows, %s columns\ndigest: %s\nstate: pending approval "
	    "(the operator runs: veil dataset approve %s)\n", name, rows, cols,
	    digest, name);
}

/* Reads up to len bytes (fewer only at end of file). */
static ssize_t
read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Streams the file in chunks as dataset.upload calls. */
static int
upload(struct xctx *x, const msgpack_object *id, int fd, uint64_t size,
    const char *path)
{
	struct params p;
	msgpack_unpacked res;
	uint64_t off = 0, received;
	char *buf = NULL, extra;
	ssize_t n;
	int rc = EXIT_INTERNAL, progress = !x->json && isatty(2);

	msgpack_unpacked_init(&res);
	if ((buf = malloc(UPLOAD_CHUNK)) == NULL) {
		fprintf(stderr, "veil: out of memory\n");
		goto out;
	}
	while (off < size) {
		if ((n = read_full(fd, buf, size - off < UPLOAD_CHUNK ?
		    (size_t)(size - off) : UPLOAD_CHUNK)) <= 0) {
			fprintf(stderr, "veil: %s: %s\n", path, n == 0 ?
			    "the file shrank while it was being uploaded" :
			    strerror(errno));
			rc = EXIT_USAGE;
			goto out;
		}
		p_init(&p, 3);
		p_obj(&p, "upload", id);
		p_int(&p, "offset", (int64_t)off);
		frame_pack_cstr(&p.pk, "data");
		msgpack_pack_bin(&p.pk, (size_t)n);
		msgpack_pack_bin_body(&p.pk, buf, (size_t)n);
		rc = x_call(x, "dataset.upload", &p, &res);
		p_free(&p);
		if (rc != EXIT_OK)
			goto out;
		off += (uint64_t)n;
		if (frame_get_uint(&res.data, "received", &received) != 0 ||
		    received != off) {
			fprintf(stderr, "veil: dataset.upload: veild reports "
			    "%llu bytes received, %llu were sent\n",
			    (unsigned long long)received,
			    (unsigned long long)off);
			rc = EXIT_INTERNAL;
			goto out;
		}
		if (progress)
			fprintf(stderr, "\ruploading %s: %3.0f%%", path,
			    100.0 * (double)off / (double)size);
	}
	if (read_full(fd, &extra, 1) != 0) {
		fprintf(stderr, "veil: %s: the file changed while it was being "
		    "uploaded\n", path);
		rc = EXIT_USAGE;
		goto out;
	}
	rc = EXIT_OK;
 out:
	if (progress && off > 0)
		fprintf(stderr, "\n");
	msgpack_unpacked_destroy(&res);
	free(buf);
	return rc;
}

static int
dataset_register(struct xctx *x, const char *name, const char *data,
    const char *schema, const char *policy)
{
	struct params p;
	struct veil_err err;
	struct stat st;
	msgpack_unpacked reg, res;
	const msgpack_object *id;
	char *stext = NULL, *ptext = NULL;
	size_t slen, plen;
	int fd = -1, rc = EXIT_USAGE;

	msgpack_unpacked_init(&reg);
	msgpack_unpacked_init(&res);
	veil_err_clear(&err);
	if (luadata_slurp(schema, TEXT_MAX, &stext, &slen, &err) != 0 ||
	    luadata_slurp(policy, TEXT_MAX, &ptext, &plen, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		goto out;
	}
	if ((fd = open(data, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) != 0) {
		fprintf(stderr, "veil: %s: %s\n", data, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "veil: %s: not a regular file (the upload "
		    "announces its size first)\n", data);
		goto out;
	}
	if ((rc = x_connect(x)) != EXIT_OK)
		goto out;
	p_init(&p, 4);
	p_str(&p, "name", name);
	p_strn(&p, "schema", stext, slen);
	p_strn(&p, "policy", ptext, plen);
	p_int(&p, "size", (int64_t)st.st_size);
	rc = x_call(x, "dataset.register", &p, &reg);
	p_free(&p);
	if (rc != EXIT_OK)
		goto out;
	if ((id = frame_get(&reg.data, "upload")) == NULL) {
		fprintf(stderr, "veil: dataset.register: no upload in veild's "
		    "answer\n");
		rc = EXIT_INTERNAL;
		goto out;
	}
	if ((rc = upload(x, id, fd, (uint64_t)st.st_size, data)) != EXIT_OK)
		goto out;
	if (!x->json && isatty(2))
		fprintf(stderr, "ingesting %s: parsing, validating and "
		    "de-identifying...\n", name);
	p_init(&p, 1);
	p_obj(&p, "upload", id);
	rc = x_call(x, "dataset.commit", &p, &res);
	p_free(&p);
	if (rc != EXIT_OK)
		goto out;
	if (x->json)
		print_json(&res.data);
	else
		human_commit(&res.data, NULL);
 out:
	if (fd != -1)
		close(fd);
	msgpack_unpacked_destroy(&reg);
	msgpack_unpacked_destroy(&res);
	client_close(x->c);
	x->c = NULL;
	free(stext);
	free(ptext);
	return rc;
}

static void
human_state(const msgpack_object *r, void *arg)
{
	char name[CELL_MAX], state[32];

	get_text(r, "name", name, sizeof(name));
	get_text(r, "state", state, sizeof(state));
	printf("%s: %s%s\n", name, state, arg != NULL ? (const char *)arg :
	    "");
}

static void
human_dataset_list(const msgpack_object *r, void *arg)
{
	static const struct column cols[] = {
		{ "name", "NAME", CELL_TEXT, 0 },
		{ "provider", "PROVIDER", CELL_TEXT, 0 },
		{ "state", "STATE", CELL_TEXT, 0 },
		{ "rows", "ROWS", CELL_NUM, 0 },
		{ "created", "CREATED", CELL_TIME, 0 },
	};

	(void)arg;
	print_table(frame_get(r, "datasets"), cols, 5, "no data sets");
}

static void
human_kv(const msgpack_object *r, void *arg)
{
	(void)arg;
	print_kv(r);
}

int
cmd_dataset(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ "data",	required_argument, NULL, 'd' },
		{ "schema",	required_argument, NULL, 's' },
		{ "policy",	required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil dataset register NAME --data D.csv --schema S.lua "
	    "--policy P.lua " X_USAGE "\n"
	    "       veil dataset approve NAME | list | show NAME | revoke NAME "
	    X_USAGE;
	struct xctx x;
	struct params p;
	const char *verb, *data = NULL, *schema = NULL, *policy = NULL;
	int ch;

	memset(&x, 0, sizeof(x));
	if (argc < 2)
		return sub_usage(usage_text);
	verb = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		if (ch == 'd')
			data = optarg;
		else if (ch == 's')
			schema = optarg;
		else if (ch == 'p')
			policy = optarg;
		else
			return sub_usage(usage_text);
	}
	if (strcmp(verb, "register") == 0) {
		if (optind + 1 != argc || data == NULL || schema == NULL ||
		    policy == NULL)
			return sub_usage(usage_text);
		return dataset_register(&x, argv[optind], data, schema, policy);
	}
	if (data != NULL || schema != NULL || policy != NULL)
		return sub_usage(usage_text);
	if (strcmp(verb, "list") == 0) {
		if (optind != argc)
			return sub_usage(usage_text);
		return x_simple(&x, "dataset.list", NULL, human_dataset_list,
		    NULL);
	}
	if (optind + 1 != argc)
		return sub_usage(usage_text);
	p_init(&p, 1);
	p_str(&p, "name", argv[optind]);
	if (strcmp(verb, "approve") == 0)
		return x_simple(&x, "dataset.approve", &p, human_state, NULL);
	if (strcmp(verb, "revoke") == 0)
		return x_simple(&x, "dataset.revoke", &p, human_state,
		    " (its table is deleted; queued jobs on it fail)");
	if (strcmp(verb, "show") == 0)
		return x_simple(&x, "dataset.show", &p, human_kv, NULL);
	p_free(&p);
	return sub_usage(usage_text);
}

/* }====== */

/* {====== veil grant */

static void
human_grant(const msgpack_object *r, void *arg)
{
	char ds[CELL_MAX], buyer[CELL_MAX], eps[64];

	(void)arg;
	get_text(r, "dataset", ds, sizeof(ds));
	get_text(r, "buyer", buyer, sizeof(buyer));
	get_text(r, "epsilon", eps, sizeof(eps));
	printf("%s may spend epsilon %s on %s\n", buyer, eps, ds);
}

int
cmd_grant(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ "to",		required_argument, NULL, 't' },
		{ "epsilon",	required_argument, NULL, 'e' },
		{ "purpose",	required_argument, NULL, 'p' },
		{ "expires",	required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil grant DATASET --to BUYER --epsilon E [--purpose TEXT] "
	    "[--expires UNIXTIME] " X_USAGE;
	struct xctx x;
	struct params p;
	const char *to = NULL, *purpose = NULL;
	char eps[32] = "";
	uint64_t expires = 0;
	int ch, have_exp = 0;

	memset(&x, 0, sizeof(x));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		switch (ch) {
		case 't':
			to = optarg;
			break;
		case 'e':
			if (parse_epsilon("--epsilon", optarg, eps,
			    sizeof(eps)) != 0)
				return EXIT_USAGE;
			break;
		case 'p':
			purpose = optarg;
			break;
		case 'x':
			if (parse_uint("--expires", optarg, 1, INT64_MAX,
			    &expires) != 0)
				return EXIT_USAGE;
			have_exp = 1;
			break;
		default:
			return sub_usage(usage_text);
		}
	}
	if (optind + 1 != argc || to == NULL || eps[0] == '\0')
		return sub_usage(usage_text);
	p_init(&p, 3 + (purpose != NULL) + have_exp);
	p_str(&p, "dataset", argv[optind]);
	p_str(&p, "buyer", to);
	p_str(&p, "epsilon", eps);
	if (purpose != NULL)
		p_str(&p, "purpose", purpose);
	if (have_exp)
		p_int(&p, "expires", (int64_t)expires);
	return x_simple(&x, "grant", &p, human_grant, NULL);
}

/* }====== */

/* {====== veil job */

/*
 * Checks that results have the shape cli_print_results() reads: a map
 * of maps, each with an array of group maps, bins with their below and
 * above. (It trusts its input; the daemon's answer is checked here.)
 */
static int
results_ok(const msgpack_object *rel)
{
	const msgpack_object *r, *groups, *g, *b;
	uint32_t i, j;

	if (rel == NULL || rel->type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < rel->via.map.size; i++) {
		r = &rel->via.map.ptr[i].val;
		if (rel->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR ||
		    r->type != MSGPACK_OBJECT_MAP ||
		    (groups = frame_get(r, "groups")) == NULL ||
		    groups->type != MSGPACK_OBJECT_ARRAY)
			return 0;
		for (j = 0; j < groups->via.array.size; j++) {
			g = &groups->via.array.ptr[j];
			if (g->type != MSGPACK_OBJECT_MAP)
				return 0;
			if (frame_get(g, "value") == NULL &&
			    (b = frame_get(g, "bins")) != NULL &&
			    (b->type != MSGPACK_OBJECT_ARRAY ||
			    frame_get(g, "below") == NULL ||
			    frame_get(g, "above") == NULL))
				return 0;
		}
	}
	return 1;
}

/* The buyer's budget left on a data set, as "left of granted". */
static void
print_left(struct xctx *x, const msgpack_object *ds)
{
	struct params p;
	msgpack_unpacked res;
	const msgpack_object *rows, *row;
	char left[64], granted[64], name[CELL_MAX];
	uint32_t i;

	if (strcmp(client_role(x->c), "buyer") != 0)
		return;
	msgpack_unpacked_init(&res);
	p_init(&p, 1);
	p_obj(&p, "dataset", ds);
	if (client_call(x->c, "budget", &p.sb, &res, NULL) == 0 &&
	    (rows = frame_get(&res.data, "budgets")) != NULL &&
	    rows->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < rows->via.array.size; i++) {
			row = &rows->via.array.ptr[i];
			if (frame_get(row, "left") == NULL)
				continue;
			get_text(row, "left", left, sizeof(left));
			get_text(row, "granted", granted, sizeof(granted));
			fmt_value(ds, CELL_TEXT, name, sizeof(name));
			printf("; left: %s of the %s granted on %s", left,
			    granted, name);
			break;
		}
	}
	p_free(&p);
	msgpack_unpacked_destroy(&res);
}

/* Prints a job.result answer as veil run prints its results. */
static int
print_result(struct xctx *x, const msgpack_object *r)
{
	const msgpack_object *rel = frame_get(r, "results");
	const msgpack_object *st = frame_get(r, "stats");
	const msgpack_object *ds = frame_get(r, "dataset");
	char id[64], name[CELL_MAX], eps[64], conf[128];
	uint64_t rows = 0, kept = 0, units = 0, err = 0, over = 0;

	if (!results_ok(rel)) {
		fprintf(stderr, "veil: job.result: unexpected results in "
		    "veild's answer (use --json to see them)\n");
		return EXIT_INTERNAL;
	}
	get_text(r, "job", id, sizeof(id));
	get_text(r, "dataset", name, sizeof(name));
	get_text(r, "epsilon", eps, sizeof(eps));
	printf("job %s on %s", id, name);
	if (eps[0] != '\0' && strcmp(eps, "-") != 0)
		printf(": epsilon %s", eps);
	if (frame_get(st, "confinement") != NULL)
		printf("; worker confinement: %s", get_text(st, "confinement",
		    conf, sizeof(conf)));
	printf("\n\n");
	cli_print_results(rel);
	/* Under dp veild keeps row counts to itself: print what it gives. */
	if (frame_get(st, "rows") != NULL) {
		(void)frame_get_uint(st, "rows", &rows);
		(void)frame_get_uint(st, "rows_kept", &kept);
		(void)frame_get_uint(st, "units", &units);
		(void)frame_get_uint(st, "row_errors", &err);
		(void)frame_get_uint(st, "row_overruns", &over);
		printf("rows %llu, %llu kept after contribution bounding, "
		    "%llu units", (unsigned long long)rows,
		    (unsigned long long)kept, (unsigned long long)units);
		if (err + over > 0)
			printf("; row functions: %llu errors, %llu over their "
			    "instruction cap (defaults used)",
			    (unsigned long long)err, (unsigned long long)over);
		printf("\n");
	}
	if (eps[0] != '\0' && strcmp(eps, "-") != 0) {
		printf("privacy: this job spent epsilon %s", eps);
		if (ds != NULL)
			print_left(x, ds);
		printf("\n");
	}
	return EXIT_OK;
}

/*
 * job.wait until the job is published (waits longer than job.wait's
 * maximum are a loop). Leaves the status in *res.
 */
static int
wait_job(struct xctx *x, const msgpack_object *id, msgpack_unpacked *res)
{
	struct params p;
	int rc;

	for (;;) {
		p_init(&p, 2);
		p_obj(&p, "job", id);
		p_int(&p, "timeout_ms", WAIT_MS);
		rc = x_call(x, "job.wait", &p, res);
		p_free(&p);
		if (rc != EXIT_OK)
			return rc;
		if (!frame_streq(frame_get(&res->data, "state"), "queued") &&
		    !frame_streq(frame_get(&res->data, "state"), "running"))
			return EXIT_OK;
	}
}

/* The exit code for a job's final state, after saying why if not done. */
static int
job_outcome(const msgpack_object *st)
{
	char id[64], state[32], cls[64];

	get_text(st, "job", id, sizeof(id));
	get_text(st, "state", state, sizeof(state));
	get_text(st, "error", cls, sizeof(cls));
	if (strcmp(state, "done") == 0)
		return EXIT_OK;
	if (strcmp(state, "failed") == 0) {
		fprintf(stderr, "veil: job %s failed%s%s%s; details are withheld "
		    "on real data (run the job on mock data to see them: veil "
		    "mock, then veil run --mock)\n", id, cls[0] ? " (" : "", cls,
		    cls[0] ? ")" : "");
		return EXIT_JOB;
	}
	if (strcmp(state, "refused") == 0) {
		fprintf(stderr, "veil: job %s was refused%s%s\n", id,
		    cls[0] ? ": " : "", cls);
		return EXIT_REFUSED;
	}
	fprintf(stderr, "veil: job %s: state %s\n", id, state);
	return EXIT_INTERNAL;
}

/* Fetches job.result and prints it (JSON or for people). */
static int
fetch_result(struct xctx *x, const msgpack_object *id)
{
	struct params p;
	msgpack_unpacked res;
	int rc;

	msgpack_unpacked_init(&res);
	p_init(&p, 1);
	p_obj(&p, "job", id);
	rc = x_call(x, "job.result", &p, &res);
	p_free(&p);
	if (rc == EXIT_OK) {
		if (x->json)
			print_json(&res.data);
		else
			rc = print_result(x, &res.data);
	}
	msgpack_unpacked_destroy(&res);
	return rc;
}

static int
job_submit(struct xctx *x, const char *path, const char *dataset,
    const char *eps, int wait)
{
	struct params p;
	struct veil_err err;
	msgpack_unpacked sub, st;
	const msgpack_object *id;
	char *src = NULL, idtext[64];
	size_t len;
	int rc;

	msgpack_unpacked_init(&sub);
	msgpack_unpacked_init(&st);
	veil_err_clear(&err);
	if (luadata_slurp(path, SOURCE_MAX, &src, &len, &err) != 0) {
		fprintf(stderr, "veil: %s\n", err.msg);
		rc = EXIT_USAGE;
		goto out;
	}
	if ((rc = x_connect(x)) != EXIT_OK)
		goto out;
	p_init(&p, 2 + (eps != NULL));
	p_str(&p, "dataset", dataset);
	p_strn(&p, "source", src, len);
	if (eps != NULL)
		p_str(&p, "epsilon", eps);
	rc = x_call(x, "job.submit", &p, &sub);
	p_free(&p);
	if (rc != EXIT_OK)
		goto out;
	if ((id = frame_get(&sub.data, "job")) == NULL) {
		fprintf(stderr, "veil: job.submit: no job in veild's answer\n");
		rc = EXIT_INTERNAL;
		goto out;
	}
	fmt_value(id, CELL_TEXT, idtext, sizeof(idtext));
	if (!wait) {
		if (x->json)
			print_json(&sub.data);
		else
			printf("job %s queued on %s\nnext: veil job wait %s; "
			    "veil job result %s\n", idtext, dataset, idtext,
			    idtext);
		goto out;
	}
	if ((rc = wait_job(x, id, &st)) != EXIT_OK)
		goto out;
	if ((rc = job_outcome(&st.data)) != EXIT_OK) {
		if (x->json)
			print_json(&st.data);
		goto out;
	}
	rc = fetch_result(x, id);
 out:
	msgpack_unpacked_destroy(&sub);
	msgpack_unpacked_destroy(&st);
	client_close(x->c);
	x->c = NULL;
	free(src);
	return rc;
}

/* veil job status|wait|result ID */
static int
job_one(struct xctx *x, const char *verb, const char *idarg)
{
	struct params p, idp;
	msgpack_unpacked res, idmap;
	const msgpack_object *id;
	int rc;

	msgpack_unpacked_init(&res);
	msgpack_unpacked_init(&idmap);
	/* {job = ID}, the id a number if it looks like one. The unpacked
	 * id points into idp, which lives until the end. */
	p_init(&idp, 1);
	p_id(&idp, "job", idarg);
	if ((rc = frame_unpack(idp.sb.data, idp.sb.size, &idmap, NULL)) != 0) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	id = &idmap.data.via.map.ptr[0].val;
	if ((rc = x_connect(x)) != EXIT_OK)
		goto out;
	if (strcmp(verb, "result") == 0) {
		rc = fetch_result(x, id);
		goto out;
	}
	if (strcmp(verb, "wait") == 0)
		rc = wait_job(x, id, &res);
	else {
		p_init(&p, 1);
		p_obj(&p, "job", id);
		rc = x_call(x, "job.status", &p, &res);
		p_free(&p);
	}
	if (rc != EXIT_OK)
		goto out;
	if (x->json)
		print_json(&res.data);
	else
		print_kv(&res.data);
	if (strcmp(verb, "wait") == 0)
		rc = job_outcome(&res.data);
 out:
	msgpack_unpacked_destroy(&res);
	msgpack_unpacked_destroy(&idmap);
	p_free(&idp);
	client_close(x->c);
	x->c = NULL;
	return rc;
}

int
cmd_job(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ "dataset",	required_argument, NULL, 'd' },
		{ "epsilon",	required_argument, NULL, 'e' },
		{ "wait",	no_argument,	   NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil job submit JOB.lua --dataset NAME [--epsilon E] [--wait] "
	    X_USAGE "\n"
	    "       veil job status ID | wait ID | result ID " X_USAGE;
	struct xctx x;
	const char *verb, *dataset = NULL;
	char eps[32] = "";
	int ch, wait = 0;

	memset(&x, 0, sizeof(x));
	if (argc < 2)
		return sub_usage(usage_text);
	verb = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		switch (ch) {
		case 'd':
			dataset = optarg;
			break;
		case 'e':
			if (parse_epsilon("--epsilon", optarg, eps,
			    sizeof(eps)) != 0)
				return EXIT_USAGE;
			break;
		case 'w':
			wait = 1;
			break;
		default:
			return sub_usage(usage_text);
		}
	}
	if (optind + 1 != argc)
		return sub_usage(usage_text);
	if (strcmp(verb, "submit") == 0) {
		if (dataset == NULL)
			return sub_usage(usage_text);
		return job_submit(&x, argv[optind], dataset,
		    eps[0] != '\0' ? eps : NULL, wait);
	}
	if (dataset != NULL || eps[0] != '\0' || wait)
		return sub_usage(usage_text);
	if (strcmp(verb, "status") == 0 || strcmp(verb, "wait") == 0 ||
	    strcmp(verb, "result") == 0)
		return job_one(&x, verb, argv[optind]);
	return sub_usage(usage_text);
}

/* }====== */

/* {====== veil budget, usage, audit */

static void
human_budget(const msgpack_object *r, void *arg)
{
	static const struct column cols[] = {
		{ "dataset", "DATASET", CELL_TEXT, 0 },
		{ "buyer", "BUYER", CELL_TEXT, 0 },
		{ "granted", "GRANTED", CELL_NUM, 0 },
		{ "spent", "SPENT", CELL_NUM, 0 },
		{ "left", "LEFT", CELL_NUM, 0 },
	};

	(void)arg;
	print_table(frame_get(r, "budgets"), cols, 5, "no budgets");
}

int
cmd_budget(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ "dataset",	required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil budget [--dataset NAME] " X_USAGE;
	struct xctx x;
	struct params p;
	const char *dataset = NULL;
	int ch;

	memset(&x, 0, sizeof(x));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		if (ch != 'd')
			return sub_usage(usage_text);
		dataset = optarg;
	}
	if (optind != argc)
		return sub_usage(usage_text);
	p_init(&p, dataset != NULL);
	if (dataset != NULL)
		p_str(&p, "dataset", dataset);
	return x_simple(&x, "budget", &p, human_budget, NULL);
}

static void
human_usage(const msgpack_object *r, void *arg)
{
	static const struct column cols[] = {
		{ "dataset", "DATASET", CELL_TEXT, 0 },
		{ "buyer", "BUYER", CELL_TEXT, 0 },
		{ "jobs", "JOBS", CELL_NUM, 0 },
		{ "done", "DONE", CELL_NUM, 0 },
		{ "failed", "FAILED", CELL_NUM, 0 },
		{ "epsilon_spent", "EPSILON SPENT", CELL_NUM, 0 },
	};

	(void)arg;
	print_table(frame_get(r, "usage"), cols, 6, "no usage yet");
}

int
cmd_usage(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] = "veil usage " X_USAGE;
	struct xctx x;
	int ch;

	memset(&x, 0, sizeof(x));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (!x_option(&x, ch, optarg))
			return sub_usage(usage_text);
	if (optind != argc)
		return sub_usage(usage_text);
	return x_simple(&x, "usage", NULL, human_usage, NULL);
}

static void
human_audit_tail(const msgpack_object *r, void *arg)
{
	static const struct column cols[] = {
		{ "seq", "SEQ", CELL_NUM, 0 },
		{ "time", "TIME", CELL_TIME, 0 },
		{ "actor", "ACTOR", CELL_TEXT, 0 },
		{ "action", "ACTION", CELL_TEXT, 0 },
		{ "object", "OBJECT", CELL_TEXT, 40 },
		{ "hash", "HASH", CELL_TEXT, 15 },
		{ "detail", "DETAIL", CELL_TEXT, 60 },
	};

	(void)arg;
	print_table(frame_get(r, "records"), cols, 7, "no audit records");
}

static void
human_audit_verify(const msgpack_object *r, void *arg)
{
	const msgpack_object *ok = frame_get(r, "ok");
	char n[32], bad[32];
	int *rc = arg;

	get_text(r, "records", n, sizeof(n));
	get_text(r, "first_bad", bad, sizeof(bad));
	if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
	    ok->via.boolean)
		printf("audit chain: %s records, every hash checks out\n", n);
	else {
		printf("audit chain: %s records, BROKEN at record %s: a record "
		    "was changed, removed or inserted\n", n,
		    bad[0] ? bad : "?");
		*rc = EXIT_INTERNAL;
	}
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option longopts[] = {
		X_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "veil audit tail [-n N] " X_USAGE "\n"
	    "       veil audit verify " X_USAGE;
	struct xctx x;
	struct params p;
	const msgpack_object *ok;
	msgpack_unpacked res;
	const char *verb;
	uint64_t n = 0;
	int ch, rc, vrc = EXIT_OK;

	memset(&x, 0, sizeof(x));
	if (argc < 2)
		return sub_usage(usage_text);
	verb = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (x_option(&x, ch, optarg))
			continue;
		if (ch != 'n' || strcmp(verb, "tail") != 0)
			return sub_usage(usage_text);
		if (parse_uint("-n", optarg, 1, 1000, &n) != 0)
			return EXIT_USAGE;
	}
	if (optind != argc)
		return sub_usage(usage_text);
	if (strcmp(verb, "tail") == 0) {
		p_init(&p, n > 0);
		if (n > 0)
			p_int(&p, "n", (int64_t)n);
		return x_simple(&x, "audit.tail", &p, human_audit_tail, NULL);
	}
	if (strcmp(verb, "verify") != 0)
		return sub_usage(usage_text);
	if (!x.json)
		return (rc = x_simple(&x, "audit.verify", NULL,
		    human_audit_verify, &vrc)) != EXIT_OK ? rc : vrc;
	/* --json: the answer as is, and still a failing status if broken. */
	msgpack_unpacked_init(&res);
	if ((rc = x_connect(&x)) == EXIT_OK &&
	    (rc = x_call(&x, "audit.verify", NULL, &res)) == EXIT_OK) {
		print_json(&res.data);
		ok = frame_get(&res.data, "ok");
		if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN ||
		    !ok->via.boolean)
			rc = EXIT_INTERNAL;
	}
	msgpack_unpacked_destroy(&res);
	client_close(x.c);
	return rc;
}

/* }====== */
