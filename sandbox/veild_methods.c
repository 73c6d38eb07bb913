/*
 * veild_methods.c: the RPC methods of docs/protocol.md. Each method names
 * the roles that may call it; ownership is checked in the query itself,
 * so that another party's object is simply not found.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "frame.h"
#include "ledger.h"
#include "veild.h"

#define R_OP	(1u << ROLE_OPERATOR)
#define R_PROV	(1u << ROLE_PROVIDER)
#define R_BUY	(1u << ROLE_BUYER)
#define R_AUD	(1u << ROLE_AUDITOR)

struct waiter {
	uint64_t	 gen;
	uint32_t	 reqid;
	int64_t		 job;
	int64_t		 deadline;
	struct waiter	*next;
};

static struct waiter *waiters;
static uint64_t published_at = UINT64_MAX;	/* d->finished when we last
						 * published; none yet */

/* {====== parameters */

static int
p_str(const msgpack_object *params, const char *key, const char **p,
    size_t *len, size_t max, struct rpc_err *e)
{
	const msgpack_object *o = params ? frame_get(params, key) : NULL;

	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: expected a "
		    "string", key);
	if (o->via.str.size > max)
		return rpc_fail(e, RPC_TOO_LARGE, "params.%s: %u bytes, at "
		    "most %zu", key, o->via.str.size, max);
	*p = o->via.str.ptr;
	*len = o->via.str.size;
	return 0;
}

/* A name: 1-64 of [A-Za-z0-9_.-], not starting with a dot. */
static int
p_name(const msgpack_object *params, const char *key, char *buf,
    struct rpc_err *e)
{
	const char *p;
	size_t len, i;

	if (p_str(params, key, &p, &len, 4096, e) != 0)
		return e->code;
	if (len == 0 || len > 64 || p[0] == '.')
		return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: a name of 1 to "
		    "64 letters, digits, '_', '-' or '.', not starting with "
		    "'.'", key);
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' &&
		    p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '_' || p[i] == '-' || p[i] == '.'))
			return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: '%c' "
			    "is not allowed in a name (letters, digits, '_', "
			    "'-', '.')", key, p[i]);
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

static int
p_int(const msgpack_object *params, const char *key, int64_t *out,
    int required, struct rpc_err *e)
{
	const msgpack_object *o = params ? frame_get(params, key) : NULL;

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
		if (required)
			return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: "
			    "expected an integer", key);
		return 1;
	}
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX)
		*out = (int64_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = o->via.i64;
	else
		return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: expected an "
		    "integer", key);
	return 0;
}

/*
 * An epsilon as an exact decimal string: a float would arrive already
 * rounded (0.1 is not 0.1), and budgets are kept exact.
 */
static int
p_eps(const msgpack_object *params, const char *key, int64_t *out,
    int required, struct rpc_err *e)
{
	const msgpack_object *o = params ? frame_get(params, key) : NULL;
	char buf[40];

	if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
		if (required)
			return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: "
			    "expected an epsilon such as \"0.5\"", key);
		return 1;
	}
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= sizeof(buf))
		return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: expected a "
		    "decimal string such as \"0.5\" (not a float: budgets are "
		    "exact)", key);
	memcpy(buf, o->via.str.ptr, o->via.str.size);
	buf[o->via.str.size] = '\0';
	if (ledger_parse(buf, out) != 0 || *out <= 0)
		return rpc_fail(e, RPC_BAD_REQUEST, "params.%s: expected a "
		    "positive decimal such as \"0.5\" (at most 9 decimals)",
		    key);
	return 0;
}

/* }====== */

/* {====== SQL helpers */

static sqlite3_stmt *
q(struct veild *d, const char *sql, struct rpc_err *e)
{
	sqlite3_stmt *st;

	if ((st = catalog_stmt(d->cat, sql)) == NULL) {
		rpc_fail(e, RPC_INTERNAL, "catalog: %s",
		    sqlite3_errmsg(catalog_db(d->cat)));
		return NULL;
	}
	return st;
}

static int
db_fail(struct veild *d, struct rpc_err *e)
{
	return rpc_fail(e, RPC_INTERNAL, "catalog: %s",
	    sqlite3_errmsg(catalog_db(d->cat)));
}

static void
pack_text(msgpack_packer *pk, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	if (t == NULL)
		msgpack_pack_nil(pk);
	else
		frame_pack_cstr(pk, (const char *)t);
}

static void
pack_eps(msgpack_packer *pk, int64_t nano)
{
	char buf[32];

	ledger_format(nano, buf, sizeof(buf));
	frame_pack_cstr(pk, buf);
}

static void
pack_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	frame_pack_cstr(pk, k);
	msgpack_pack_int64(pk, v);
}

static void
pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	frame_pack_cstr(pk, k);
	frame_pack_cstr(pk, v);
}

/* {"key": [the n packed rows]}, and the rows' buffer is released. */
static void
pack_rows(msgpack_packer *pk, const char *key, msgpack_sbuffer *rows,
    uint32_t n)
{
	msgpack_pack_map(pk, 1);
	frame_pack_cstr(pk, key);
	msgpack_pack_array(pk, n);
	msgpack_sbuffer_write(pk->data, rows->data, rows->size);
	msgpack_sbuffer_destroy(rows);
}

/* }====== */

/* {====== visibility */

/*
 * Finds a data set by name as the caller may see it: operator all,
 * provider its own, buyer granted and approved. Fills id (and state,
 * provider name) or answers not_found.
 */
static int
visible_dataset(struct veild *d, struct client *c, const char *name,
    int64_t *id, char *state, size_t statelen, int64_t *provider,
    struct rpc_err *e)
{
	sqlite3_stmt *st;
	int r;

	if ((st = q(d, "SELECT d.id, d.state, d.provider FROM dataset d WHERE "
	    "d.name = ?1 AND (?2 = 'operator' OR (?2 = 'provider' AND "
	    "d.provider = ?3) OR (?2 = 'buyer' AND d.state = 'approved' AND "
	    "EXISTS (SELECT 1 FROM grant_ g WHERE g.dataset = d.id AND "
	    "g.buyer = ?3)))", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, catalog_role_name(c->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->party);
	if ((r = sqlite3_step(st)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (state != NULL)
			snprintf(state, statelen, "%s",
			    (const char *)sqlite3_column_text(st, 1));
		if (provider != NULL)
			*provider = sqlite3_column_int64(st, 2);
		catalog_done(d->cat, st);
		return 0;
	}
	catalog_done(d->cat, st);
	if (r != SQLITE_DONE)
		return db_fail(d, e);
	return rpc_fail(e, RPC_NOT_FOUND, "no data set '%s' that you can see",
	    name);
}

/* A job the caller may see: the buyer's own, or any for the operator. */
static int
visible_job(struct veild *d, struct client *c, int64_t job, struct rpc_err *e)
{
	sqlite3_stmt *st;
	int r;

	if ((st = q(d, "SELECT 1 FROM job WHERE id = ?1 AND (?2 = 'operator' "
	    "OR buyer = ?3)", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, job);
	sqlite3_bind_text(st, 2, catalog_role_name(c->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, c->party);
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r == SQLITE_ROW)
		return 0;
	if (r != SQLITE_DONE)
		return db_fail(d, e);
	return rpc_fail(e, RPC_NOT_FOUND, "no job %lld that you can see",
	    (long long)job);
}

/* }====== */

static int
audit(struct veild *d, struct client *c, const char *action,
    const char *object, const char *detail)
{
	return catalog_audit(d->cat, c->name, action, object, detail);
}

/* {====== methods */

static int
m_auth(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	unsigned char h[32];
	const char *tok;
	size_t len;

	if (p_str(params, "token", &tok, &len, 256, e) != 0)
		return e->code;
	catalog_hash_token(tok, len, h);
	if ((st = q(d, "SELECT id, name, role FROM party WHERE token_hash = ?",
	    e)) == NULL)
		return e->code;
	sqlite3_bind_blob(st, 1, h, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_UNAUTHENTICATED, "unknown token");
	}
	c->party = sqlite3_column_int64(st, 0);
	snprintf(c->name, sizeof(c->name), "%s",
	    (const char *)sqlite3_column_text(st, 1));
	c->role = catalog_role_parse((const char *)sqlite3_column_text(st, 2),
	    (size_t)sqlite3_column_bytes(st, 2));
	catalog_done(d->cat, st);
	msgpack_pack_map(pk, 2);
	pack_kv_str(pk, "party", c->name);
	pack_kv_str(pk, "role", catalog_role_name(c->role));
	return 0;
}

static int
m_party_add(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	enum catalog_role role;
	unsigned char h[32];
	char name[65], token[CATALOG_TOKEN_LEN + 1];
	const char *rp;
	size_t rl;
	int r;

	if (p_name(params, "name", name, e) != 0 ||
	    p_str(params, "role", &rp, &rl, 16, e) != 0)
		return e->code;
	role = catalog_role_parse(rp, rl);
	if (role == ROLE_NONE || role == ROLE_OPERATOR)
		return rpc_fail(e, RPC_BAD_REQUEST, "params.role: expected "
		    "provider, buyer or auditor");
	if (catalog_new_token(token, sizeof(token), h) != 0)
		return rpc_fail(e, RPC_INTERNAL, "no randomness for a token");
	if (catalog_begin(d->cat) != 0)
		return db_fail(d, e);
	if ((st = q(d, "INSERT INTO party (name, role, token_hash, created) "
	    "VALUES (?, ?, ?, ?)", e)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, catalog_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, h, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r == SQLITE_CONSTRAINT) {
		catalog_rollback(d->cat);
		return rpc_fail(e, RPC_EXISTS, "a party named '%s' exists",
		    name);
	}
	if (r != SQLITE_DONE || audit(d, c, "party.add", name,
	    catalog_role_name(role)) != 0 || catalog_commit(d->cat) != 0) {
		db_fail(d, e);
		goto fail;
	}
	msgpack_pack_map(pk, 3);
	pack_kv_str(pk, "name", name);
	pack_kv_str(pk, "role", catalog_role_name(role));
	pack_kv_str(pk, "token", token);
	explicit_bzero(token, sizeof(token));
	return 0;
 fail:
	catalog_rollback(d->cat);
	return e->code;
}

static int
m_party_list(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	msgpack_sbuffer rows;
	msgpack_packer rp;
	uint32_t n = 0;

	(void)c;
	(void)params;
	if ((st = q(d, "SELECT name, role, created FROM party ORDER BY id",
	    e)) == NULL)
		return e->code;
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		msgpack_pack_map(&rp, 3);
		frame_pack_cstr(&rp, "name");
		pack_text(&rp, st, 0);
		frame_pack_cstr(&rp, "role");
		pack_text(&rp, st, 1);
		pack_kv_int(&rp, "created", sqlite3_column_int64(st, 2));
		n++;
	}
	catalog_done(d->cat, st);
	pack_rows(pk, "parties", &rows, n);
	return 0;
}

static int
name_taken(struct veild *d, const char *name, struct rpc_err *e)
{
	sqlite3_stmt *st;
	int r;

	if ((st = q(d, "SELECT 1 FROM dataset WHERE name = ?", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r == SQLITE_ROW)
		return rpc_fail(e, RPC_EXISTS, "a data set named '%s' exists "
		    "(names are never reused, even after revocation)", name);
	return 0;
}

static int
m_dataset_register(struct veild *d, struct client *c,
    const msgpack_object *params, uint32_t reqid, struct rpc_err *e)
{
	sqlite3_stmt *st;
	struct task *t;
	char name[65];
	const char *sp, *pp;
	size_t sl, pl;
	int64_t size, id;
	int r;

	if (p_name(params, "name", name, e) != 0 ||
	    p_str(params, "schema", &sp, &sl, VEILD_TEXT_MAX, e) != 0 ||
	    p_str(params, "policy", &pp, &pl, VEILD_TEXT_MAX, e) != 0 ||
	    p_int(params, "size", &size, 1, e) != 0)
		return e->code;
	if (size <= 0)
		return rpc_fail(e, RPC_BAD_REQUEST, "params.size: %lld; "
		    "expected the CSV's size in bytes", (long long)size);
	if ((uint64_t)size > d->max_upload)
		return rpc_fail(e, RPC_TOO_LARGE, "params.size: %lld bytes; "
		    "an upload holds 1 to %llu bytes", (long long)size,
		    (unsigned long long)d->max_upload);
	if (name_taken(d, name, e) != 0)
		return e->code;
	if ((st = q(d, "INSERT INTO upload (provider, name, schema, policy, "
	    "size, created) VALUES (?, ?, ?, ?, ?, ?)", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, c->party);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sp, (int)sl, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, pp, (int)pl, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, size);
	sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
	if ((r = sqlite3_step(st)) != SQLITE_DONE) {
		catalog_done(d->cat, st);
		if (r == SQLITE_CONSTRAINT)
			return rpc_fail(e, RPC_EXISTS, "an upload of a data set "
			    "named '%s' is in progress", name);
		return db_fail(d, e);
	}
	catalog_done(d->cat, st);
	id = sqlite3_last_insert_rowid(catalog_db(d->cat));
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return rpc_fail(e, RPC_INTERNAL, "out of memory");
	t->kind = TASK_CHECK;
	t->gen = c->gen;
	t->reqid = reqid;
	t->upload = id;
	t->party = c->party;
	msgpack_sbuffer_init(&t->result);
	veild_task_push(d, t);
	return RPC_DEFERRED;
}

/* The caller's own upload. */
static int
own_upload(struct veild *d, struct client *c, int64_t id, int64_t *size,
    int64_t *received, char *name, struct rpc_err *e)
{
	sqlite3_stmt *st;

	if ((st = q(d, "SELECT size, received, name, committing FROM upload "
	    "WHERE id = ? AND provider = ?", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, c->party);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_NOT_FOUND, "no upload %lld of yours "
		    "(uploads do not survive a restart or a closed "
		    "connection's failure: register again)", (long long)id);
	}
	*size = sqlite3_column_int64(st, 0);
	*received = sqlite3_column_int64(st, 1);
	snprintf(name, 65, "%s", (const char *)sqlite3_column_text(st, 2));
	if (sqlite3_column_int(st, 3)) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_REFUSED, "upload %lld is being "
		    "committed", (long long)id);
	}
	catalog_done(d->cat, st);
	return 0;
}

static int
m_dataset_upload(struct veild *d, struct client *c,
    const msgpack_object *params, msgpack_packer *pk, struct rpc_err *e)
{
	const msgpack_object *data = params ? frame_get(params, "data") : NULL;
	sqlite3_stmt *st;
	char path[PATH_MAX], name[65];
	int64_t id = 0, off = 0, size, received;
	const char *p;
	size_t len;
	ssize_t n;
	int fd;

	if (p_int(params, "upload", &id, 1, e) != 0 ||
	    p_int(params, "offset", &off, 1, e) != 0)
		return e->code;
	if (data == NULL || (data->type != MSGPACK_OBJECT_BIN &&
	    data->type != MSGPACK_OBJECT_STR))
		return rpc_fail(e, RPC_BAD_REQUEST, "params.data: expected "
		    "bin");
	p = data->type == MSGPACK_OBJECT_BIN ? data->via.bin.ptr :
	    data->via.str.ptr;
	len = data->type == MSGPACK_OBJECT_BIN ? data->via.bin.size :
	    data->via.str.size;
	if (len > VEILD_CHUNK_MAX)
		return rpc_fail(e, RPC_TOO_LARGE, "params.data: %zu bytes, at "
		    "most %u per chunk", len, VEILD_CHUNK_MAX);
	if (own_upload(d, c, id, &size, &received, name, e) != 0)
		return e->code;
	if (off != received)
		return rpc_fail(e, RPC_BAD_REQUEST, "params.offset: %lld, "
		    "expected %lld (the bytes received so far)",
		    (long long)off, (long long)received);
	if ((int64_t)len > size - received)
		return rpc_fail(e, RPC_TOO_LARGE, "upload %lld: %zu more bytes "
		    "would pass the declared size %lld", (long long)id, len,
		    (long long)size);
	snprintf(path, sizeof(path), "%s/uploads/%lld.csv", d->home,
	    (long long)id);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return rpc_fail(e, RPC_INTERNAL, "%s: %s", path,
		    strerror(errno));
	n = len > 0 ? pwrite(fd, p, len, off) : 0;
	close(fd);
	if (n != (ssize_t)len)
		return rpc_fail(e, RPC_INTERNAL, "%s: write failed", path);
	if ((st = q(d, "UPDATE upload SET received = ? WHERE id = ?", e)) ==
	    NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, received + (int64_t)len);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		catalog_done(d->cat, st);
		return db_fail(d, e);
	}
	catalog_done(d->cat, st);
	msgpack_pack_map(pk, 1);
	pack_kv_int(pk, "received", received + (int64_t)len);
	return 0;
}

static int
m_dataset_commit(struct veild *d, struct client *c,
    const msgpack_object *params, uint32_t reqid, struct rpc_err *e)
{
	sqlite3_stmt *st;
	struct task *t;
	char name[65];
	int64_t id = 0, size, received;

	if (p_int(params, "upload", &id, 1, e) != 0 ||
	    own_upload(d, c, id, &size, &received, name, e) != 0)
		return e->code;
	if (received != size)
		return rpc_fail(e, RPC_BAD_REQUEST, "upload %lld: %lld of %lld "
		    "bytes received", (long long)id, (long long)received,
		    (long long)size);
	if (name_taken(d, name, e) != 0)
		return e->code;
	/* Once: a second commit, or another chunk, would race the ingest. */
	if ((st = q(d, "UPDATE upload SET committing = 1 WHERE id = ? AND "
	    "committing = 0", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		catalog_done(d->cat, st);
		return db_fail(d, e);
	}
	catalog_done(d->cat, st);
	if (sqlite3_changes(catalog_db(d->cat)) != 1)
		return rpc_fail(e, RPC_REFUSED, "upload %lld is being "
		    "committed", (long long)id);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return rpc_fail(e, RPC_INTERNAL, "out of memory");
	t->kind = TASK_INGEST;
	t->gen = c->gen;
	t->reqid = reqid;
	t->upload = id;
	t->party = c->party;
	msgpack_sbuffer_init(&t->result);
	veild_task_push(d, t);
	return RPC_DEFERRED;
}

static int
m_dataset_approve(struct veild *d, struct client *c,
    const msgpack_object *params, msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	char name[65];
	int r;

	if (p_name(params, "name", name, e) != 0)
		return e->code;
	if (catalog_begin(d->cat) != 0)
		return db_fail(d, e);
	if ((st = q(d, "UPDATE dataset SET state = 'approved', approved = ?, "
	    "approved_by = ? WHERE name = ? AND state = 'pending'", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 2, c->party);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r != SQLITE_DONE) {
		db_fail(d, e);
		goto fail;
	}
	if (sqlite3_changes(catalog_db(d->cat)) == 0) {
		catalog_rollback(d->cat);
		if (name_taken(d, name, e) != 0)
			return rpc_fail(e, RPC_REFUSED, "data set '%s' is not "
			    "pending approval", name);
		return rpc_fail(e, RPC_NOT_FOUND, "no data set '%s'", name);
	}
	if (audit(d, c, "dataset.approve", name, "") != 0 ||
	    catalog_commit(d->cat) != 0) {
		db_fail(d, e);
		goto fail;
	}
	msgpack_pack_map(pk, 2);
	pack_kv_str(pk, "name", name);
	pack_kv_str(pk, "state", "approved");
	return 0;
 fail:
	catalog_rollback(d->cat);
	return e->code;
}

static int
m_dataset_revoke(struct veild *d, struct client *c,
    const msgpack_object *params, msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	char name[65], state[16], path[PATH_MAX];
	int64_t id, prov;
	int r;

	if (p_name(params, "name", name, e) != 0 ||
	    visible_dataset(d, c, name, &id, state, sizeof(state), &prov,
	    e) != 0)
		return e->code;
	if (strcmp(state, "revoked") == 0)
		return rpc_fail(e, RPC_REFUSED, "data set '%s' is already "
		    "revoked", name);
	if (catalog_begin(d->cat) != 0)
		return db_fail(d, e);
	if ((st = q(d, "UPDATE dataset SET state = 'revoked' WHERE id = ?1; ",
	    e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r != SQLITE_DONE || (st = q(d, "UPDATE job SET state = 'refused', "
	    "error = 'revoked', finished = ?2 WHERE dataset = ?1 AND state = "
	    "'queued'", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	if (r != SQLITE_DONE || audit(d, c, "dataset.revoke", name, "") != 0 ||
	    catalog_commit(d->cat) != 0) {
		db_fail(d, e);
		goto fail;
	}
	pthread_mutex_lock(&d->mu);
	d->finished++;
	d->revoked++;	/* runners drop workers warmed on its table */
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	veild_memfd_drop(d, id);
	veild_table_path(d, name, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		fprintf(stderr, "veild: %s: %s\n", path, strerror(errno));
	msgpack_pack_map(pk, 2);
	pack_kv_str(pk, "name", name);
	pack_kv_str(pk, "state", "revoked");
	return 0;
 fail:
	catalog_rollback(d->cat);
	return e->code ? e->code : db_fail(d, e);
}

static int
m_dataset_list(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	msgpack_sbuffer rows;
	msgpack_packer rp;
	uint32_t n = 0;

	(void)params;
	if ((st = q(d, "SELECT d.name, p.name, d.state, d.rows, d.created FROM "
	    "dataset d JOIN party p ON p.id = d.provider WHERE ?1 = 'operator' "
	    "OR (?1 = 'provider' AND d.provider = ?2) OR (?1 = 'buyer' AND "
	    "d.state = 'approved' AND EXISTS (SELECT 1 FROM grant_ g WHERE "
	    "g.dataset = d.id AND g.buyer = ?2)) ORDER BY d.id", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, catalog_role_name(c->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->party);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		msgpack_pack_map(&rp, 5);
		frame_pack_cstr(&rp, "name");
		pack_text(&rp, st, 0);
		frame_pack_cstr(&rp, "provider");
		pack_text(&rp, st, 1);
		frame_pack_cstr(&rp, "state");
		pack_text(&rp, st, 2);
		pack_kv_int(&rp, "rows", sqlite3_column_int64(st, 3));
		pack_kv_int(&rp, "created", sqlite3_column_int64(st, 4));
		n++;
	}
	catalog_done(d->cat, st);
	pack_rows(pk, "datasets", &rows, n);
	return 0;
}

static int
m_dataset_show(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	char name[65];
	int64_t id;

	if (p_name(params, "name", name, e) != 0 ||
	    visible_dataset(d, c, name, &id, NULL, 0, NULL, e) != 0)
		return e->code;
	if ((st = q(d, "SELECT d.name, p.name, d.state, d.rows, d.columns, "
	    "d.digest, d.mode, d.eps_total, (SELECT coalesce(sum(eps), 0) FROM "
	    "spend WHERE dataset = d.id), d.created, d.approved, d.eps_job "
	    "FROM dataset d JOIN party p ON p.id = d.provider WHERE d.id = ?",
	    e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return db_fail(d, e);
	}
	msgpack_pack_map(pk, 12);
	frame_pack_cstr(pk, "name");
	pack_text(pk, st, 0);
	frame_pack_cstr(pk, "provider");
	pack_text(pk, st, 1);
	frame_pack_cstr(pk, "state");
	pack_text(pk, st, 2);
	pack_kv_int(pk, "rows", sqlite3_column_int64(st, 3));
	pack_kv_int(pk, "columns", sqlite3_column_int64(st, 4));
	frame_pack_cstr(pk, "digest");
	pack_text(pk, st, 5);
	frame_pack_cstr(pk, "mode");
	pack_text(pk, st, 6);
	frame_pack_cstr(pk, "epsilon_total");
	pack_eps(pk, sqlite3_column_int64(st, 7));
	frame_pack_cstr(pk, "epsilon_spent");
	pack_eps(pk, sqlite3_column_int64(st, 8));
	frame_pack_cstr(pk, "epsilon_per_job");
	pack_eps(pk, sqlite3_column_int64(st, 11));
	pack_kv_int(pk, "created", sqlite3_column_int64(st, 9));
	frame_pack_cstr(pk, "approved");
	if (sqlite3_column_type(st, 10) == SQLITE_NULL)
		msgpack_pack_nil(pk);
	else
		msgpack_pack_int64(pk, sqlite3_column_int64(st, 10));
	catalog_done(d->cat, st);
	return 0;
}

static int
m_grant(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	char ds[65], buyer[65], state[16], detail[128], ebuf[32];
	const char *purpose = "";
	size_t plen = 0;
	int64_t id, prov, bid, eps, total = 0, spent = 0, expires = 0;
	int r, has_exp;

	if (p_name(params, "dataset", ds, e) != 0 ||
	    p_name(params, "buyer", buyer, e) != 0 ||
	    p_eps(params, "epsilon", &eps, 1, e) != 0 ||
	    (has_exp = p_int(params, "expires", &expires, 0, e)) < 0 ||
	    (has_exp != 0 && has_exp != 1))
		return e->code;
	if (frame_get(params, "purpose") != NULL &&
	    p_str(params, "purpose", &purpose, &plen, 1024, e) != 0)
		return e->code;
	if (visible_dataset(d, c, ds, &id, state, sizeof(state), &prov, e) != 0)
		return e->code;
	if (strcmp(state, "revoked") == 0)
		return rpc_fail(e, RPC_REFUSED, "data set '%s' is revoked", ds);
	if ((st = q(d, "SELECT id FROM party WHERE name = ? AND role = "
	    "'buyer'", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, buyer, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_NOT_FOUND, "no buyer named '%s'", buyer);
	}
	bid = sqlite3_column_int64(st, 0);
	catalog_done(d->cat, st);
	if (catalog_begin(d->cat) != 0)
		return db_fail(d, e);
	if ((st = q(d, "SELECT eps_total, (SELECT coalesce(sum(eps), 0) FROM "
	    "spend WHERE dataset = ?1 AND buyer = ?2) FROM dataset WHERE "
	    "id = ?1", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		total = sqlite3_column_int64(st, 0);
		spent = sqlite3_column_int64(st, 1);
	}
	catalog_done(d->cat, st);
	if (eps > total) {
		catalog_rollback(d->cat);
		ledger_format(total, ebuf, sizeof(ebuf));
		return rpc_fail(e, RPC_REFUSED, "params.epsilon: over the data "
		    "set's total budget %s", ebuf);
	}
	if (eps < spent) {
		catalog_rollback(d->cat);
		ledger_format(spent, ebuf, sizeof(ebuf));
		return rpc_fail(e, RPC_REFUSED, "params.epsilon: below what "
		    "'%s' has already spent (%s)", buyer, ebuf);
	}
	if ((st = q(d, "INSERT INTO grant_ (dataset, buyer, eps, purpose, "
	    "expires, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT "
	    "(dataset, buyer) DO UPDATE SET eps = ?3, purpose = ?4, "
	    "expires = ?5", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bid);
	sqlite3_bind_int64(st, 3, eps);
	sqlite3_bind_text(st, 4, purpose, (int)plen, SQLITE_STATIC);
	if (has_exp == 0)
		sqlite3_bind_int64(st, 5, expires);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	ledger_format(eps, ebuf, sizeof(ebuf));
	snprintf(detail, sizeof(detail), "to %s epsilon %s", buyer, ebuf);
	if (r != SQLITE_DONE || audit(d, c, "grant", ds, detail) != 0 ||
	    catalog_commit(d->cat) != 0) {
		db_fail(d, e);
		goto fail;
	}
	msgpack_pack_map(pk, 3);
	pack_kv_str(pk, "dataset", ds);
	pack_kv_str(pk, "buyer", buyer);
	pack_kv_str(pk, "epsilon", ebuf);
	return 0;
 fail:
	catalog_rollback(d->cat);
	return e->code;
}

static int
m_job_submit(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	char ds[65], mode[16], detail[64], ebuf[32], lbuf[32];
	const char *src;
	size_t srclen;
	int64_t id = 0, eps = 0, per_job, grant, spent, total, ds_spent, job;
	int64_t expires = 0, now = (int64_t)time(NULL);
	int r, has_exp;

	if (p_name(params, "dataset", ds, e) != 0 ||
	    p_str(params, "source", &src, &srclen, VEILD_SOURCE_MAX, e) != 0 ||
	    p_eps(params, "epsilon", &eps, 0, e) < 0)
		return e->code;
	if (e->code != 0)
		return e->code;
	if (visible_dataset(d, c, ds, &id, NULL, 0, NULL, e) != 0)
		return e->code;
	/*
	 * Not fsynced by itself: kill -9 loses nothing (the WAL is in the
	 * page cache) and the next fsynced commit, a job's end, moments
	 * later under load, makes it durable. A power cut in between can
	 * lose a queued job, which nothing was released or charged for; an
	 * fsync here blocked the event loop for every submission.
	 */
	if (catalog_begin_nosync(d->cat) != 0)
		return db_fail(d, e);
	/* Reserved = charged + what queued and running jobs will charge. */
	if ((st = q(d, "SELECT d.mode, d.eps_job, d.eps_total, g.eps, "
	    "g.expires, (SELECT coalesce(sum(eps), 0) FROM spend WHERE "
	    "dataset = ?1 AND buyer = ?2) + (SELECT coalesce(sum(eps), 0) "
	    "FROM job WHERE dataset = ?1 AND buyer = ?2 AND state IN "
	    "('queued', 'running')), (SELECT coalesce(sum(eps), 0) FROM spend "
	    "WHERE dataset = ?1) + (SELECT coalesce(sum(eps), 0) FROM job "
	    "WHERE dataset = ?1 AND state IN ('queued', 'running')) FROM "
	    "dataset d JOIN grant_ g ON g.dataset = d.id AND g.buyer = ?2 "
	    "WHERE d.id = ?1", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, c->party);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		db_fail(d, e);
		goto fail;
	}
	snprintf(mode, sizeof(mode), "%s",
	    (const char *)sqlite3_column_text(st, 0));
	per_job = sqlite3_column_int64(st, 1);
	total = sqlite3_column_int64(st, 2);
	grant = sqlite3_column_int64(st, 3);
	has_exp = sqlite3_column_type(st, 4) != SQLITE_NULL;
	expires = sqlite3_column_int64(st, 4);
	spent = sqlite3_column_int64(st, 5);
	ds_spent = sqlite3_column_int64(st, 6);
	catalog_done(d->cat, st);
	if (has_exp && expires <= now) {
		catalog_rollback(d->cat);
		return rpc_fail(e, RPC_REFUSED, "your grant on '%s' has "
		    "expired", ds);
	}
	if (strcmp(mode, "export") == 0) {
		catalog_rollback(d->cat);
		return rpc_fail(e, RPC_REFUSED, "data set '%s' is released "
		    "as a k-anonymous export only: jobs do not run on it", ds);
	}
	if (strcmp(mode, "dp") == 0) {
		if (eps == 0)
			eps = per_job;
		if (eps > per_job) {
			catalog_rollback(d->cat);
			ledger_format(per_job, ebuf, sizeof(ebuf));
			return rpc_fail(e, RPC_REFUSED, "params.epsilon: over "
			    "the policy's %s per job", ebuf);
		}
		if (spent + eps > grant || ds_spent + eps > total) {
			catalog_rollback(d->cat);
			ledger_format(spent + eps > grant ? grant - spent :
			    total - ds_spent, lbuf, sizeof(lbuf));
			ledger_format(eps, ebuf, sizeof(ebuf));
			return rpc_fail(e, RPC_REFUSED, "budget: the job needs "
			    "epsilon %s and %s is left (queued jobs "
			    "included)", ebuf, lbuf);
		}
	} else
		eps = 0;
	if ((st = q(d, "INSERT INTO job (dataset, buyer, source, eps, state, "
	    "submitted) VALUES (?, ?, ?, ?, 'queued', ?)", e)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, c->party);
	sqlite3_bind_text(st, 3, src, (int)srclen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, eps);
	sqlite3_bind_int64(st, 5, now);
	r = sqlite3_step(st);
	catalog_done(d->cat, st);
	job = sqlite3_last_insert_rowid(catalog_db(d->cat));
	ledger_format(eps, ebuf, sizeof(ebuf));
	snprintf(detail, sizeof(detail), "job %lld epsilon %s",
	    (long long)job, ebuf);
	if (r != SQLITE_DONE || audit(d, c, "job.submit", ds, detail) != 0 ||
	    catalog_commit(d->cat) != 0) {
		db_fail(d, e);
		goto fail;
	}
	veild_jobs_kick(d);
	msgpack_pack_map(pk, 3);
	pack_kv_int(pk, "job", job);
	pack_kv_str(pk, "state", "queued");
	pack_kv_str(pk, "epsilon", ebuf);
	return 0;
 fail:
	catalog_rollback(d->cat);
	return e->code;
}

/* The job's status as its owner may see it: an end shows once published. */
static int
pack_status(struct veild *d, int64_t job, msgpack_packer *pk, int *published,
    struct rpc_err *e)
{
	sqlite3_stmt *st;
	const char *state;
	int pub, ended;

	if ((st = q(d, "SELECT j.state, j.error, j.eps, j.submitted, "
	    "j.published, s.name FROM job j JOIN dataset s ON s.id = "
	    "j.dataset WHERE j.id = ?", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, job);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_NOT_FOUND, "no job %lld", (long long)job);
	}
	state = (const char *)sqlite3_column_text(st, 0);
	pub = sqlite3_column_int(st, 4);
	ended = strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
	if (ended && !pub)
		state = "running";
	if (published != NULL)
		*published = pub;
	msgpack_pack_map(pk, pub && sqlite3_column_type(st, 1) !=
	    SQLITE_NULL ? 6 : 5);
	pack_kv_int(pk, "job", job);
	frame_pack_cstr(pk, "dataset");
	pack_text(pk, st, 5);
	pack_kv_str(pk, "state", state);
	frame_pack_cstr(pk, "epsilon");
	pack_eps(pk, sqlite3_column_int64(st, 2));
	pack_kv_int(pk, "submitted", sqlite3_column_int64(st, 3));
	if (pub && sqlite3_column_type(st, 1) != SQLITE_NULL) {
		frame_pack_cstr(pk, "error");
		pack_text(pk, st, 1);
	}
	catalog_done(d->cat, st);
	return 0;
}

static int
m_job_status(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	int64_t job = 0;

	if (p_int(params, "job", &job, 1, e) != 0 ||
	    visible_job(d, c, job, e) != 0)
		return e->code;
	return pack_status(d, job, pk, NULL, e);
}

static int
m_job_wait(struct veild *d, struct client *c, const msgpack_object *params,
    uint32_t reqid, msgpack_packer *pk, struct rpc_err *e)
{
	msgpack_sbuffer tmp;
	msgpack_packer tp;
	struct waiter *w;
	int64_t job = 0, timeout = 600000;
	int pub = 0, r;

	if (p_int(params, "job", &job, 1, e) != 0 ||
	    p_int(params, "timeout_ms", &timeout, 0, e) < 0 ||
	    visible_job(d, c, job, e) != 0)
		return e->code;
	if (e->code != 0)
		return e->code;
	if (timeout < 0 || timeout > 600000)
		timeout = 600000;
	msgpack_sbuffer_init(&tmp);
	msgpack_packer_init(&tp, &tmp, msgpack_sbuffer_write);
	if ((r = pack_status(d, job, &tp, &pub, e)) == 0 &&
	    (pub || timeout == 0))
		msgpack_sbuffer_write(pk->data, tmp.data, tmp.size);
	msgpack_sbuffer_destroy(&tmp);
	if (r != 0 || pub || timeout == 0)
		return r;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return rpc_fail(e, RPC_INTERNAL, "out of memory");
	w->gen = c->gen;
	w->reqid = reqid;
	w->job = job;
	w->deadline = veild_now_ms() + timeout;
	w->next = waiters;
	waiters = w;
	return RPC_DEFERRED;
}

static int
m_job_result(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	const char *state;
	int64_t job = 0;

	if (p_int(params, "job", &job, 1, e) != 0 ||
	    visible_job(d, c, job, e) != 0)
		return e->code;
	if ((st = q(d, "SELECT j.state, j.published, j.error, j.eps, s.name, "
	    "r.body, r.stats FROM job j JOIN dataset s ON s.id = j.dataset "
	    "LEFT JOIN result r ON r.job = j.id WHERE j.id = ?", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, job);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(d->cat, st);
		return db_fail(d, e);
	}
	state = (const char *)sqlite3_column_text(st, 0);
	if (!sqlite3_column_int(st, 1)) {
		catalog_done(d->cat, st);
		return rpc_fail(e, RPC_BAD_REQUEST, "job %lld has not finished "
		    "(wait with job.wait)", (long long)job);
	}
	if (strcmp(state, "done") != 0 || sqlite3_column_type(st, 5) ==
	    SQLITE_NULL) {
		rpc_fail(e, strcmp(state, "refused") == 0 ? RPC_REFUSED :
		    RPC_JOB_FAILED, "job %lld %s: %s", (long long)job, state,
		    sqlite3_column_text(st, 2) ? (const char *)
		    sqlite3_column_text(st, 2) : "no result");
		catalog_done(d->cat, st);
		return e->code;
	}
	msgpack_pack_map(pk, 5);
	pack_kv_int(pk, "job", job);
	frame_pack_cstr(pk, "dataset");
	pack_text(pk, st, 4);
	frame_pack_cstr(pk, "epsilon");
	pack_eps(pk, sqlite3_column_int64(st, 3));
	/* The stored bytes, as released: every fetch gets the same. */
	frame_pack_cstr(pk, "results");
	msgpack_sbuffer_write(pk->data, sqlite3_column_blob(st, 5),
	    (size_t)sqlite3_column_bytes(st, 5));
	frame_pack_cstr(pk, "stats");
	msgpack_sbuffer_write(pk->data, sqlite3_column_blob(st, 6),
	    (size_t)sqlite3_column_bytes(st, 6));
	catalog_done(d->cat, st);
	return 0;
}

static int
m_budget(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	msgpack_sbuffer rows;
	msgpack_packer rp;
	char ds[65] = "";
	int64_t id = 0, granted, spent;
	uint32_t n = 0;

	if (params != NULL && frame_get(params, "dataset") != NULL) {
		if (p_name(params, "dataset", ds, e) != 0 ||
		    (c->role != ROLE_AUDITOR &&
		    visible_dataset(d, c, ds, &id, NULL, 0, NULL, e) != 0))
			return e->code;
	}
	/* One row per data set ("*") and one per grant, as visible. */
	if ((st = q(d, "SELECT s.name, '*', s.eps_total, (SELECT "
	    "coalesce(sum(eps), 0) FROM spend WHERE dataset = s.id), s.id, 0 "
	    "FROM dataset s WHERE ?1 <> 'buyer' AND (?1 IN ('operator', "
	    "'auditor') OR s.provider = ?2) AND (?3 = '' OR s.name = ?3) "
	    "UNION ALL SELECT s.name, p.name, g.eps, (SELECT coalesce(sum(eps), "
	    "0) FROM spend WHERE dataset = s.id AND buyer = g.buyer), s.id, 1 "
	    "FROM grant_ g JOIN dataset s ON s.id = g.dataset JOIN party p ON "
	    "p.id = g.buyer WHERE (?1 IN ('operator', 'auditor') OR (?1 = "
	    "'provider' AND s.provider = ?2) OR (?1 = 'buyer' AND g.buyer = ?2 "
	    "AND s.state = 'approved')) AND (?3 = '' OR s.name = ?3) ORDER BY "
	    "5, 6, 2", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, catalog_role_name(c->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->party);
	sqlite3_bind_text(st, 3, ds, -1, SQLITE_STATIC);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		granted = sqlite3_column_int64(st, 2);
		spent = sqlite3_column_int64(st, 3);
		msgpack_pack_map(&rp, 5);
		frame_pack_cstr(&rp, "dataset");
		pack_text(&rp, st, 0);
		frame_pack_cstr(&rp, "buyer");
		pack_text(&rp, st, 1);
		frame_pack_cstr(&rp, "granted");
		pack_eps(&rp, granted);
		frame_pack_cstr(&rp, "spent");
		pack_eps(&rp, spent);
		frame_pack_cstr(&rp, "left");
		pack_eps(&rp, granted > spent ? granted - spent : 0);
		n++;
	}
	catalog_done(d->cat, st);
	pack_rows(pk, "budgets", &rows, n);
	(void)id;
	return 0;
}

static int
m_usage(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	msgpack_sbuffer rows;
	msgpack_packer rp;
	uint32_t n = 0;

	(void)params;
	if ((st = q(d, "SELECT s.name, p.name, count(*), sum(j.state = 'done' "
	    "AND j.published), sum(j.state IN ('failed', 'refused') AND "
	    "j.published), (SELECT coalesce(sum(eps), 0) FROM spend WHERE "
	    "dataset = s.id AND buyer = j.buyer) FROM job j JOIN dataset s ON "
	    "s.id = j.dataset JOIN party p ON p.id = j.buyer WHERE ?1 IN "
	    "('operator', 'auditor') OR s.provider = ?2 GROUP BY s.id, j.buyer "
	    "ORDER BY s.id, p.name", e)) == NULL)
		return e->code;
	sqlite3_bind_text(st, 1, catalog_role_name(c->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, c->party);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		msgpack_pack_map(&rp, 6);
		frame_pack_cstr(&rp, "dataset");
		pack_text(&rp, st, 0);
		frame_pack_cstr(&rp, "buyer");
		pack_text(&rp, st, 1);
		pack_kv_int(&rp, "jobs", sqlite3_column_int64(st, 2));
		pack_kv_int(&rp, "done", sqlite3_column_int64(st, 3));
		pack_kv_int(&rp, "failed", sqlite3_column_int64(st, 4));
		frame_pack_cstr(&rp, "epsilon_spent");
		pack_eps(&rp, sqlite3_column_int64(st, 5));
		n++;
	}
	catalog_done(d->cat, st);
	pack_rows(pk, "usage", &rows, n);
	return 0;
}

static void
hex(const unsigned char *p, int n, char *out)
{
	static const char h[] = "0123456789abcdef";
	int i;

	for (i = 0; i < n; i++) {
		out[2 * i] = h[p[i] >> 4];
		out[2 * i + 1] = h[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
m_audit_tail(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	sqlite3_stmt *st;
	msgpack_sbuffer rows;
	msgpack_packer rp;
	char hx[65];
	int64_t lim = 20;
	uint32_t n = 0;

	(void)c;
	(void)p_int(params, "n", &lim, 0, e);
	if (e->code != 0)
		return e->code;
	if (lim < 1 || lim > 1000)
		lim = lim < 1 ? 1 : 1000;
	if ((st = q(d, "SELECT * FROM (SELECT seq, time, actor, action, "
	    "object, detail, hash FROM audit ORDER BY seq DESC LIMIT ?) ORDER "
	    "BY seq", e)) == NULL)
		return e->code;
	sqlite3_bind_int64(st, 1, lim);
	msgpack_sbuffer_init(&rows);
	msgpack_packer_init(&rp, &rows, msgpack_sbuffer_write);
	while (sqlite3_step(st) == SQLITE_ROW) {
		msgpack_pack_map(&rp, 7);
		pack_kv_int(&rp, "seq", sqlite3_column_int64(st, 0));
		pack_kv_int(&rp, "time", sqlite3_column_int64(st, 1));
		frame_pack_cstr(&rp, "actor");
		pack_text(&rp, st, 2);
		frame_pack_cstr(&rp, "action");
		pack_text(&rp, st, 3);
		frame_pack_cstr(&rp, "object");
		pack_text(&rp, st, 4);
		frame_pack_cstr(&rp, "detail");
		pack_text(&rp, st, 5);
		hex(sqlite3_column_blob(st, 6), sqlite3_column_bytes(st, 6) ==
		    32 ? 32 : 0, hx);
		pack_kv_str(&rp, "hash", hx);
		n++;
	}
	catalog_done(d->cat, st);
	pack_rows(pk, "records", &rows, n);
	return 0;
}

static int
m_audit_verify(struct veild *d, struct client *c, const msgpack_object *params,
    msgpack_packer *pk, struct rpc_err *e)
{
	struct veil_err verr;
	int64_t n, bad;

	(void)c;
	(void)params;
	if (catalog_audit_verify(d->cat, &n, &bad, &verr) != 0)
		return rpc_fail(e, RPC_INTERNAL, "%s", verr.msg);
	msgpack_pack_map(pk, bad ? 3 : 2);
	pack_kv_int(pk, "records", n);
	frame_pack_cstr(pk, "ok");
	if (bad)
		msgpack_pack_false(pk);
	else
		msgpack_pack_true(pk);
	if (bad)
		pack_kv_int(pk, "first_bad", bad);
	return 0;
}

/* }====== */

typedef int (*method_fn)(struct veild *, struct client *,
    const msgpack_object *, msgpack_packer *, struct rpc_err *);
typedef int (*deferred_fn)(struct veild *, struct client *,
    const msgpack_object *, uint32_t, struct rpc_err *);

static const struct method {
	const char	*name;
	unsigned int	 roles;
	method_fn	 fn;
	deferred_fn	 dfn;
} methods[] = {
	{ "party.add",		R_OP,			m_party_add, NULL },
	{ "party.list",		R_OP | R_AUD,		m_party_list, NULL },
	{ "dataset.register",	R_PROV,		NULL, m_dataset_register },
	{ "dataset.upload",	R_PROV,			m_dataset_upload, NULL },
	{ "dataset.commit",	R_PROV,		NULL, m_dataset_commit },
	{ "dataset.approve",	R_OP,			m_dataset_approve, NULL },
	{ "dataset.revoke",	R_OP | R_PROV,		m_dataset_revoke, NULL },
	{ "dataset.list",	R_OP | R_PROV | R_BUY,	m_dataset_list, NULL },
	{ "dataset.show",	R_OP | R_PROV | R_BUY,	m_dataset_show, NULL },
	{ "grant",		R_PROV,			m_grant, NULL },
	{ "job.submit",		R_BUY,			m_job_submit, NULL },
	{ "job.status",		R_BUY | R_OP,		m_job_status, NULL },
	{ "job.wait",		R_BUY | R_OP,		NULL, NULL },
	{ "job.result",		R_BUY,			m_job_result, NULL },
	{ "budget",	R_OP | R_PROV | R_BUY | R_AUD,	m_budget, NULL },
	{ "usage",		R_OP | R_PROV | R_AUD,	m_usage, NULL },
	{ "audit.tail",		R_OP | R_AUD,		m_audit_tail, NULL },
	{ "audit.verify",	R_OP | R_AUD,		m_audit_verify, NULL },
};

int
veild_dispatch(struct veild *d, struct client *c, uint32_t id,
    const char *method, size_t mlen, const msgpack_object *params,
    msgpack_packer *res, struct rpc_err *e)
{
	const struct method *m = NULL;
	size_t i;

	if (mlen == 4 && memcmp(method, "auth", 4) == 0)
		return m_auth(d, c, params, res, e);
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == mlen &&
		    memcmp(methods[i].name, method, mlen) == 0) {
			m = &methods[i];
			break;
		}
	if (c->party == 0)
		return rpc_fail(e, RPC_UNAUTHENTICATED, "authenticate first "
		    "(method auth with your token)");
	if (m == NULL)
		return rpc_fail(e, RPC_BAD_REQUEST, "no method '%.*s'",
		    (int)(mlen > 64 ? 64 : mlen), method);
	if (!(m->roles & (1u << c->role)))
		return rpc_fail(e, RPC_FORBIDDEN, "%s: not allowed for the "
		    "%s role", m->name, catalog_role_name(c->role));
	pthread_mutex_lock(&d->mu);
	i = (size_t)d->stopping;
	pthread_mutex_unlock(&d->mu);
	if (i)
		return rpc_fail(e, RPC_SHUTTING_DOWN, "veild is stopping");
	if (m->dfn != NULL)
		return m->dfn(d, c, params, id, e);
	if (m->fn == NULL)	/* job.wait */
		return m_job_wait(d, c, params, id, res, e);
	return m->fn(d, c, params, res, e);
}

void
veild_tick(struct veild *d)
{
	struct waiter *w, **wp;
	struct client *c;
	struct rpc_err e;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sqlite3_stmt *st;
	uint64_t fin;
	int64_t now = veild_now_ms();
	int pub, fresh, r;

	pthread_mutex_lock(&d->mu);
	fin = d->finished;
	pthread_mutex_unlock(&d->mu);
	/* Publication: jobs that ended since the last tick become
	 * visible together, so a job's duration shows only to the tick. */
	fresh = 0;
	if (fin != published_at && catalog_begin(d->cat) == 0) {
		/* Fsynced: job ends commit without (veild_run.c's finish),
		 * and this commit makes them durable before they show. */
		st = catalog_stmt(d->cat, "UPDATE job SET published = 1 WHERE "
		    "published = 0 AND state IN ('done', 'failed', 'refused')");
		r = st != NULL && sqlite3_step(st) == SQLITE_DONE;
		catalog_done(d->cat, st);
		if (r && catalog_commit(d->cat) == 0) {
			published_at = fin;
			fresh = sqlite3_changes(catalog_db(d->cat)) > 0;
		} else
			catalog_rollback(d->cat);
	}
	/* A waiter's job can only have ended if something was published
	 * now (job.wait looked before it waited); else only deadlines. */
	for (wp = &waiters; (w = *wp) != NULL;) {
		if ((c = veild_client_by_gen(w->gen)) == NULL) {
			*wp = w->next;
			free(w);
			continue;
		}
		if (!fresh && now < w->deadline) {
			wp = &w->next;
			continue;
		}
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		memset(&e, 0, sizeof(e));
		pub = 0;
		if (pack_status(d, w->job, &pk, &pub, &e) != 0 || pub ||
		    now >= w->deadline) {
			c->pending--;
			veild_reply(d, c, w->reqid, e.code ? &e : NULL, &sb);
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
		msgpack_sbuffer_destroy(&sb);
	}
}

void
veild_forget_client(struct veild *d, struct client *c)
{
	struct waiter *w, **wp;

	(void)d;
	for (wp = &waiters; (w = *wp) != NULL;) {
		if (w->gen == c->gen) {
			*wp = w->next;
			free(w);
		} else
			wp = &w->next;
	}
}
