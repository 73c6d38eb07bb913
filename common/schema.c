/*
 * schema.c: loads and validates schema files (see schema.h).
 *
 * The file is evaluated by luadata.c in an empty state; this file only
 * reads the returned table. Unknown keys are errors, so that a typo such
 * as "rnage" never silently drops a constraint.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "datefmt.h"
#include "luadata.h"
#include "schema.h"
#include "utf8.h"

#define MAX_STR		4096

struct sctx {
	lua_State	*L;
	struct schema	*s;
	const char	*file;
	const char	*dir;
	struct veil_err	*err;
	char		 what[TABLE_MAX_NAME + 300];
};

static const char *const top_keys[] = {
	"name", "description", "unit", "columns", "ignore", "ignore_unknown",
	"csv", NULL
};
static const char *const col_keys[] = {
	"name", "type", "role", "action", "mask", "length", "range", "values",
	"hierarchy", "shift", "shift_days", "scrub", "level", "required",
	"description", NULL
};
static const char *const type_keys[] = {
	"int", "float", "bool", "category", "string", "date", "text", NULL
};
static const enum veil_type type_vals[] = {
	VEIL_T_INT, VEIL_T_FLOAT, VEIL_T_BOOL, VEIL_T_CATEGORY, VEIL_T_STRING,
	VEIL_T_DATE, VEIL_T_STRING
};
static const char *const role_keys[] = {
	"insensitive", "identifier", "quasi", "sensitive", "text", NULL
};
static const char *const action_keys[] = {
	"keep", "drop", "pseudonymize", "mask", NULL
};

const char *
schema_action_name(enum schema_action a)
{
	return ((unsigned)a <= SCHEMA_A_MASK) ? action_keys[a] : "?";
}

static int
serr(struct sctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
serr(struct sctx *c, const char *fmt, ...)
{
	char msg[VEIL_ERR_MSGLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return veil_seterr(c->err, VEIL_E_SCHEMA, "%s: %s", c->what, msg);
}

static int
lookup(const char *const *keys, const char *k)
{
	int i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], k) == 0)
			return i;
	return -1;
}

/* Every key of the table at idx must be a string listed in keys. */
static int
check_keys(struct sctx *c, int idx, const char *const *keys)
{
	lua_State *L = c->L;
	const char *k;
	int r;

	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			if (keys == col_keys || keys == top_keys) {
				r = serr(c, "unexpected %s key (use "
				    "name = value fields)",
				    luadata_typename(L, -1));
				lua_pop(L, 1);
				return r;
			}
			lua_pop(L, 1);
			return serr(c, "unexpected non-string key");
		}
		k = lua_tostring(L, -1);
		if (lookup(keys, k) < 0) {
			serr(c, "unknown key \"%.64s\"", k);
			lua_pop(L, 1);
			return VEIL_E_SCHEMA;
		}
	}
	return 0;
}

/* A string of 1..max bytes of UTF-8 without control characters. */
static int
get_str(struct sctx *c, int idx, const char *key, size_t max,
    const char **out, size_t *lenp)
{
	lua_State *L = c->L;
	const char *p;
	size_t len, i;

	if (lua_type(L, idx) != LUA_TSTRING)
		return serr(c, "%s: expected a string, got %s", key,
		    luadata_typename(L, idx));
	p = lua_tolstring(L, idx, &len);
	if (len == 0 || len > max)
		return serr(c, "%s: expected 1 to %zu bytes, got %zu", key,
		    max, len);
	if (!utf8_valid(p, len))
		return serr(c, "%s: not valid UTF-8", key);
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return serr(c, "%s: contains a control character", key);
	*out = p;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

static int
dupstr(struct sctx *c, const char *p, size_t len, char **out)
{
	if ((*out = strndup(p, len)) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	return 0;
}

static int
get_enum(struct sctx *c, int idx, const char *key, const char *const *keys,
    int *out)
{
	const char *p;
	char list[256];
	size_t o = 0;
	int i, r;

	if ((r = get_str(c, idx, key, 64, &p, NULL)) != 0)
		return r;
	if ((i = lookup(keys, p)) >= 0) {
		*out = i;
		return 0;
	}
	list[0] = '\0';
	for (i = 0; keys[i] != NULL && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? ", " : "", keys[i]);
	return serr(c, "%s: unknown value \"%s\" (expected one of %s)", key, p,
	    list);
}

static int
get_bool(struct sctx *c, int idx, const char *key, int *out)
{
	if (lua_type(c->L, idx) != LUA_TBOOLEAN)
		return serr(c, "%s: expected true or false, got %s", key,
		    luadata_typename(c->L, idx));
	*out = lua_toboolean(c->L, idx);
	return 0;
}

static int
get_int(struct sctx *c, int idx, const char *key, int64_t lo, int64_t hi,
    int64_t *out)
{
	lua_Integer v;
	int isint;

	v = lua_tointegerx(c->L, idx, &isint);
	if (lua_type(c->L, idx) != LUA_TNUMBER || !isint)
		return serr(c, "%s: expected an integer, got %s", key,
		    lua_type(c->L, idx) == LUA_TNUMBER ? "a fraction" :
		    luadata_typename(c->L, idx));
	if (v < lo || v > hi)
		return serr(c, "%s: expected %lld to %lld, got %lld", key,
		    (long long)lo, (long long)hi, (long long)v);
	*out = v;
	return 0;
}

static int
get_num(struct sctx *c, int idx, const char *key, double *out)
{
	double v;

	if (lua_type(c->L, idx) != LUA_TNUMBER)
		return serr(c, "%s: expected a number, got %s", key,
		    luadata_typename(c->L, idx));
	v = lua_tonumber(c->L, idx);
	if (!isfinite(v))
		return serr(c, "%s: expected a finite number", key);
	*out = v;
	return 0;
}

static int
get_array(struct sctx *c, int idx, const char *key, size_t min, size_t max,
    size_t *np)
{
	if (!lua_istable(c->L, idx))
		return serr(c, "%s: expected a list {...}, got %s", key,
		    luadata_typename(c->L, idx));
	if (!luadata_is_array(c->L, idx, np))
		return serr(c, "%s: expected a list {a, b, ...} without named "
		    "fields or holes", key);
	if (*np < min || *np > max)
		return serr(c, "%s: expected %zu to %zu entries, got %zu", key,
		    min, max, *np);
	return 0;
}

/* {====== columns */

static int
parse_range(struct sctx *c, struct schema_column *col)
{
	lua_State *L = c->L;
	const char *p;
	size_t n, len;
	int32_t d[2];
	int i, r;

	if ((r = get_array(c, -1, "range", 2, 2, &n)) != 0)
		return r;
	for (i = 0; i < 2; i++) {
		lua_rawgeti(L, -1, i + 1);
		switch (col->type) {
		case VEIL_T_INT:
			r = get_int(c, -1, "range", INT64_MIN, INT64_MAX,
			    i ? &col->ihi : &col->ilo);
			break;
		case VEIL_T_FLOAT:
			r = get_num(c, -1, "range", i ? &col->fhi : &col->flo);
			break;
		case VEIL_T_DATE:
			if ((r = get_str(c, -1, "range", 64, &p, &len)) == 0 &&
			    datefmt_parse(p, len, &d[i]) != 0)
				r = serr(c, "range: expected dates as "
				    "\"YYYY-MM-DD\", got \"%s\"", p);
			break;
		default:
			r = serr(c, "range: only int, float and date columns "
			    "take a range");
			break;
		}
		lua_pop(L, 1);
		if (r != 0)
			return r;
	}
	if (col->type == VEIL_T_DATE) {
		col->ilo = d[0];
		col->ihi = d[1];
	}
	if ((col->type == VEIL_T_FLOAT && col->flo > col->fhi) ||
	    (col->type != VEIL_T_FLOAT && col->ilo > col->ihi))
		return serr(c, "range: expected {lo, hi} with lo <= hi");
	if (col->type == VEIL_T_INT) {	/* handy for mixed checks */
		col->flo = (double)col->ilo;
		col->fhi = (double)col->ihi;
	}
	col->has_range = 1;
	return 0;
}

static int
parse_values(struct sctx *c, struct schema_column *col)
{
	lua_State *L = c->L;
	const char *p;
	size_t n, i, j, len;
	int r;

	if (col->type != VEIL_T_CATEGORY)
		return serr(c, "values: only category columns declare values");
	if ((r = get_array(c, -1, "values", 1, SCHEMA_MAX_VALUES, &n)) != 0)
		return r;
	if ((col->values = calloc(n, sizeof(char *))) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		if ((r = get_str(c, -1, "values", MAX_STR, &p, &len)) == 0)
			r = dupstr(c, p, len, &col->values[i]);
		lua_pop(L, 1);
		if (r != 0)
			return r;
		col->nvalues = i + 1;
	}
	/* Quadratic only up to a few thousand; sort-free and simple. */
	if (n <= 4096) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (strcmp(col->values[i], col->values[j]) == 0)
					return serr(c, "values: \"%.64s\" is "
					    "declared twice", col->values[i]);
	}
	return 0;
}

/* Checks a table hierarchy against the column it generalizes. */
static int
check_table_hier(struct sctx *c, struct schema_column *col)
{
	const struct hierarchy *h = col->hier;
	size_t i, len, n = hierarchy_nleaves(h);
	const char *p;
	char buf[32], *end;
	int32_t d;
	int64_t v;
	uint64_t span, k;
	char canon[32];

	if (col->type == VEIL_T_FLOAT)
		return serr(c, "hierarchy: a float column takes an interval "
		    "hierarchy, not a table");
	for (i = 0; i < col->nvalues; i++)
		if (hierarchy_find(h, col->values[i],
		    strlen(col->values[i])) < 0)
			return serr(c, "hierarchy: declared value \"%.64s\" has "
			    "no line in the hierarchy", col->values[i]);
	for (i = 0; i < n; i++) {
		p = hierarchy_cell(h, i, 0, &len);
		if (col->type == VEIL_T_INT) {
			if (len >= sizeof(buf))
				return serr(c, "hierarchy: value \"%.*s\" is not "
				    "an integer", 32, p);
			memcpy(buf, p, len);
			buf[len] = '\0';
			errno = 0;
			v = strtoll(buf, &end, 10);
			if (errno != 0 || *end != '\0' || end == buf)
				return serr(c, "hierarchy: value \"%s\" is not "
				    "an integer", buf);
			/* ingestion looks values up by their canonical text */
			snprintf(canon, sizeof(canon), "%lld", (long long)v);
			if (strcmp(canon, buf) != 0)
				return serr(c, "hierarchy: write the integer "
				    "\"%s\" as \"%s\"", buf, canon);
		} else if (col->type == VEIL_T_DATE &&
		    datefmt_parse(p, len, &d) != 0)
			return serr(c, "hierarchy: value \"%.*s\" is not a "
			    "date YYYY-MM-DD", (int)(len > 32 ? 32 : len), p);
	}
	span = (uint64_t)col->ihi - (uint64_t)col->ilo;	/* no overflow */
	if (col->type == VEIL_T_INT && col->has_range && span < 1000000)
		for (k = 0; k <= span; k++) {
			v = (int64_t)((uint64_t)col->ilo + k);
			len = (size_t)snprintf(buf, sizeof(buf), "%lld",
			    (long long)v);
			if (hierarchy_find(h, buf, len) < 0)
				return serr(c, "hierarchy: value %s of the "
				    "declared range has no line in the "
				    "hierarchy", buf);
		}
	(void)v;
	return 0;
}

static int
parse_hier_rows(struct sctx *c, struct schema_column *col)
{
	lua_State *L = c->L;
	const char *cells[HIER_MAX_LEVELS];
	size_t lens[HIER_MAX_LEVELS], n, m, i, j;
	char key[64], what[sizeof(c->what) + sizeof(key) + 4];
	int r;

	if ((r = get_array(c, -1, "hierarchy.rows", 1, HIER_MAX_LEAVES,
	    &n)) != 0)
		return r;
	if ((col->hier = hierarchy_table_new()) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "hierarchy.rows[%zu]", i + 1);
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		r = get_array(c, -1, key, 2, HIER_MAX_LEVELS, &m);
		for (j = 0; r == 0 && j < m; j++) {
			lua_rawgeti(L, -1, (lua_Integer)j + 1);
			r = get_str(c, -1, key, MAX_STR, &cells[j], &lens[j]);
			lua_pop(L, 1);	/* the string stays in the row table */
		}
		snprintf(what, sizeof(what), "%s: %s", c->what, key);
		if (r == 0 && hierarchy_table_add(col->hier, cells, lens, m,
		    what, 0, c->err) != 0)
			r = VEIL_E_SCHEMA;
		lua_pop(L, 1);
		if (r != 0)
			return r;
	}
	snprintf(what, sizeof(what), "%s: hierarchy.rows", c->what);
	if (hierarchy_table_finish(col->hier, what, c->err) != 0)
		return VEIL_E_SCHEMA;
	return check_table_hier(c, col);
}

static int
parse_hier_file(struct sctx *c, struct schema_column *col)
{
	char path[4096];
	const char *p;
	size_t len;
	int r;

	if ((r = get_str(c, -1, "hierarchy.file", 1024, &p, &len)) != 0)
		return r;
	if (c->dir == NULL)
		return serr(c, "hierarchy.file: hierarchy files are not "
		    "allowed here");
	if (p[0] == '/' || c->dir[0] == '\0')
		snprintf(path, sizeof(path), "%s", p);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s", c->dir, p) >=
	    sizeof(path))
		return serr(c, "hierarchy.file: path too long");
	if ((col->hier = hierarchy_load_csv(path, c->err)) == NULL) {
		/* Prefix the column to the hierarchy's own message. */
		char msg[VEIL_ERR_MSGLEN];

		snprintf(msg, sizeof(msg), "%s", c->err ? c->err->msg : "");
		return serr(c, "hierarchy.file: %s", msg);
	}
	return check_table_hier(c, col);
}

static int
parse_hierarchy(struct sctx *c, struct schema_column *col)
{
	lua_State *L = c->L;
	static const char *const hkeys[] = { "interval", "mask", "file",
	    "rows", NULL };
	double w[HIER_MAX_LEVELS];
	int64_t m[HIER_MAX_LEVELS];
	enum hier_date d[HIER_MAX_LEVELS];
	const char *p;
	size_t n, i;
	int r, nkeys = 0;

	if (col->role != VEIL_R_QUASI && col->role != VEIL_R_SENSITIVE)
		return serr(c, "hierarchy: only quasi and sensitive columns "
		    "are generalized");
	if (!lua_istable(L, -1))
		return serr(c, "hierarchy: expected a table, got %s",
		    luadata_typename(L, -1));
	if (luadata_is_array(L, -1, &n) && n > 0) {
		if (col->type != VEIL_T_DATE)
			return serr(c, "hierarchy: a list of levels such as "
			    "{\"month\", \"year\"} is for date columns");
		if (n > HIER_MAX_LEVELS - 2)
			return serr(c, "hierarchy: at most %d levels",
			    HIER_MAX_LEVELS - 2);
		for (i = 0; i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			r = get_str(c, -1, "hierarchy", 32, &p, NULL);
			if (r == 0 && (d[i] = hierarchy_date_level(p)) == 0)
				r = serr(c, "hierarchy: unknown date level "
				    "\"%s\" (expected month, quarter, year or "
				    "decade)", p);
			lua_pop(L, 1);
			if (r != 0)
				return r;
		}
		col->hier = hierarchy_new_date(d, n, c->what, c->err);
		return col->hier == NULL ? VEIL_E_SCHEMA : 0;
	}
	if ((r = check_keys(c, -1, hkeys)) != 0)
		return r;
	for (i = 0; hkeys[i] != NULL; i++) {
		lua_getfield(L, -1, hkeys[i]);
		nkeys += !lua_isnil(L, -1);
		lua_pop(L, 1);
	}
	if (nkeys != 1)
		return serr(c, "hierarchy: expected exactly one of interval, "
		    "mask, file, rows, or a list of date levels");
	if (lua_getfield(L, -1, "interval") != LUA_TNIL) {
		if (col->type != VEIL_T_INT && col->type != VEIL_T_FLOAT)
			r = serr(c, "hierarchy.interval: only for int and "
			    "float columns");
		else
			r = get_array(c, -1, "hierarchy.interval", 1,
			    HIER_MAX_LEVELS - 2, &n);
		for (i = 0; r == 0 && i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			r = get_num(c, -1, "hierarchy.interval", &w[i]);
			lua_pop(L, 1);
		}
		if (r == 0 && (col->hier = hierarchy_new_interval(w, n,
		    col->type == VEIL_T_INT, c->what, c->err)) == NULL)
			r = VEIL_E_SCHEMA;
	} else if (lua_pop(L, 1), lua_getfield(L, -1, "mask") != LUA_TNIL) {
		if (col->type != VEIL_T_STRING && col->type != VEIL_T_CATEGORY)
			r = serr(c, "hierarchy.mask: only for string and "
			    "category columns");
		else
			r = get_array(c, -1, "hierarchy.mask", 1,
			    HIER_MAX_LEVELS - 2, &n);
		for (i = 0; r == 0 && i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			r = get_int(c, -1, "hierarchy.mask", 1, 1024, &m[i]);
			lua_pop(L, 1);
		}
		if (r == 0 && (col->hier = hierarchy_new_mask(m, n, c->what,
		    c->err)) == NULL)
			r = VEIL_E_SCHEMA;
	} else if (lua_pop(L, 1), lua_getfield(L, -1, "file") != LUA_TNIL)
		r = parse_hier_file(c, col);
	else {
		lua_pop(L, 1);
		lua_getfield(L, -1, "rows");
		r = parse_hier_rows(c, col);
	}
	lua_pop(L, 1);
	return r;
}

/*
 * Each optional field: push it, parse it if present, pop it. The column
 * table is at the top of the stack on entry.
 */
static int
parse_column(struct sctx *c, size_t idx, struct schema_column *col)
{
	lua_State *L = c->L;
	const char *p;
	size_t len;
	int64_t v;
	int r, e;

	snprintf(c->what, sizeof(c->what), "%s: column %zu", c->file, idx + 1);
	if (!lua_istable(L, -1))
		return serr(c, "expected a table {name = ..., type = ..., "
		    "role = ...}, got %s", luadata_typename(L, -1));
	if ((r = check_keys(c, -1, col_keys)) != 0)
		return r;
	lua_getfield(L, -1, "name");
	r = get_str(c, -1, "name", TABLE_MAX_NAME, &p, &len);
	if (r == 0 && (r = dupstr(c, p, len, &col->name)) == 0)
		snprintf(c->what, sizeof(c->what), "%s: column %zu (%s)",
		    c->file, idx + 1, col->name);
	lua_pop(L, 1);
	if (r != 0)
		return r;

	if (lua_getfield(L, -1, "type") == LUA_TNIL)
		r = serr(c, "type: missing (expected one of int, float, bool, "
		    "category, string, date, text)");
	else if ((r = get_enum(c, -1, "type", type_keys, &e)) == 0) {
		col->type = type_vals[e];
		col->text = strcmp(type_keys[e], "text") == 0;
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "role") == LUA_TNIL)
		r = serr(c, "role: missing (expected one of identifier, quasi, "
		    "sensitive, insensitive, text)");
	else if ((r = get_enum(c, -1, "role", role_keys, &e)) == 0)
		col->role = (enum veil_role)e;
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (col->role == VEIL_R_TEXT && col->type != VEIL_T_STRING)
		return serr(c, "role: a text column has type text or string");
	if (col->text && col->role != VEIL_R_TEXT)
		return serr(c, "type: text columns take role = \"text\"");

	col->action = col->role == VEIL_R_IDENTIFIER ? SCHEMA_A_DROP :
	    SCHEMA_A_KEEP;
	if (lua_getfield(L, -1, "action") != LUA_TNIL) {
		if (col->role != VEIL_R_IDENTIFIER)
			r = serr(c, "action: only identifier columns take an "
			    "action");
		else if ((r = get_enum(c, -1, "action", action_keys, &e)) == 0) {
			if (e == SCHEMA_A_KEEP)
				r = serr(c, "action: an identifier cannot be "
				    "kept; use drop, pseudonymize or mask");
			col->action = (enum schema_action)e;
		}
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;

	col->mask_prefix = 3;
	col->mask_suffix = 4;
	if (lua_getfield(L, -1, "mask") != LUA_TNIL) {
		static const char *const mkeys[] = { "prefix", "suffix", NULL };

		if (col->action != SCHEMA_A_MASK)
			r = serr(c, "mask: only with action = \"mask\"");
		else if (!lua_istable(L, -1))
			r = serr(c, "mask: expected {prefix = N, suffix = M}");
		else if ((r = check_keys(c, -1, mkeys)) == 0) {
			if (lua_getfield(L, -1, "prefix") != LUA_TNIL &&
			    (r = get_int(c, -1, "mask.prefix", 0, 64, &v)) == 0)
				col->mask_prefix = (unsigned)v;
			lua_pop(L, 1);
			if (r == 0 && lua_getfield(L, -1, "suffix") !=
			    LUA_TNIL && (r = get_int(c, -1, "mask.suffix", 0,
			    64, &v)) == 0)
				col->mask_suffix = (unsigned)v;
			if (r == 0)
				lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;

	col->pseudo_len = 16;
	if (lua_getfield(L, -1, "length") != LUA_TNIL) {
		if (col->action != SCHEMA_A_PSEUDONYMIZE)
			r = serr(c, "length: only with action = "
			    "\"pseudonymize\"");
		else if ((r = get_int(c, -1, "length", 8, 64, &v)) == 0)
			col->pseudo_len = (unsigned)v;
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;

	if (lua_getfield(L, -1, "range") != LUA_TNIL)
		r = parse_range(c, col);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "values") != LUA_TNIL)
		r = parse_values(c, col);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "hierarchy") != LUA_TNIL)
		r = parse_hierarchy(c, col);
	lua_pop(L, 1);
	if (r != 0)
		return r;

	if (lua_getfield(L, -1, "shift") != LUA_TNIL) {
		if (col->type != VEIL_T_DATE)
			r = serr(c, "shift: only date columns are shifted");
		else if ((r = get_str(c, -1, "shift", 16, &p, NULL)) == 0 &&
		    strcmp(p, "unit") != 0)
			r = serr(c, "shift: expected \"unit\" (one random "
			    "offset per privacy unit), got \"%s\"", p);
		col->shift_unit = r == 0;
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	col->shift_days = 180;
	if (lua_getfield(L, -1, "shift_days") != LUA_TNIL) {
		if (!col->shift_unit)
			r = serr(c, "shift_days: only with shift = \"unit\"");
		else if ((r = get_int(c, -1, "shift_days", 1, 3650, &v)) == 0)
			col->shift_days = (int)v;
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "scrub") != LUA_TNIL) {
		if (col->role != VEIL_R_TEXT)
			r = serr(c, "scrub: only text columns are scrubbed");
		else
			r = get_bool(c, -1, "scrub", &col->scrub);
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "level") != LUA_TNIL &&
	    (r = get_int(c, -1, "level", 1, 4, &v)) == 0)
		col->level = (int)v;
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "required") != LUA_TNIL)
		r = get_bool(c, -1, "required", &col->required);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, -1, "description") != LUA_TNIL)
		r = get_str(c, -1, "description", MAX_STR, &p, NULL);
	lua_pop(L, 1);
	return r;
}

/* }====== */

static int
parse_top(struct sctx *c)
{
	lua_State *L = c->L;
	struct schema *s = c->s;
	const char *p;
	size_t n, i, j, len;
	int r = 0;

	snprintf(c->what, sizeof(c->what), "%s", c->file);
	if ((r = check_keys(c, 1, top_keys)) != 0)
		return r;
	lua_getfield(L, 1, "name");
	if (lua_isnil(L, -1))
		r = serr(c, "name: missing (the data set's name)");
	else if ((r = get_str(c, -1, "name", 64, &p, &len)) == 0) {
		for (i = 0; i < len && r == 0; i++)
			if (!(p[i] >= 'a' && p[i] <= 'z') &&
			    !(p[i] >= 'A' && p[i] <= 'Z') &&
			    !(p[i] >= '0' && p[i] <= '9') &&
			    p[i] != '_' && p[i] != '-' && p[i] != '.')
				r = serr(c, "name: use letters, digits, '_', "
				    "'-' and '.' only");
		if (r == 0)
			r = dupstr(c, p, len, &s->name);
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, 1, "description") != LUA_TNIL)
		r = get_str(c, -1, "description", MAX_STR, &p, NULL);
	lua_pop(L, 1);
	if (r != 0)
		return r;

	lua_getfield(L, 1, "columns");
	if (lua_isnil(L, -1))
		r = serr(c, "columns: missing");
	else
		r = get_array(c, -1, "columns", 1, TABLE_MAX_COLS, &n);
	if (r == 0 && (s->cols = calloc(n, sizeof(*s->cols))) == NULL)
		r = veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (i = 0; r == 0 && i < n; i++) {
		lua_rawgeti(L, -1, (lua_Integer)i + 1);
		s->ncols = i + 1;
		r = parse_column(c, i, &s->cols[i]);
		lua_pop(L, 1);
		for (j = 0; r == 0 && j < i; j++)
			if (strcmp(s->cols[j].name, s->cols[i].name) == 0)
				r = serr(c, "name: \"%s\" is also column %zu",
				    s->cols[i].name, j + 1);
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	snprintf(c->what, sizeof(c->what), "%s", c->file);

	lua_getfield(L, 1, "unit");
	if (lua_isnil(L, -1))
		r = serr(c, "unit: missing (the column that identifies a "
		    "person, or \"%s\" when each row is a different person)",
		    SCHEMA_UNIT_ROW);
	else if ((r = get_str(c, -1, "unit", TABLE_MAX_NAME, &p, &len)) == 0 &&
	    (r = dupstr(c, p, len, &s->unit)) == 0) {
		s->unit_col = -1;
		if (strcmp(s->unit, SCHEMA_UNIT_ROW) != 0 &&
		    (s->unit_col = schema_find(s, p, len)) < 0)
			r = serr(c, "unit: no column is called \"%s\"", s->unit);
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (s->unit_col >= 0) {
		struct schema_column *u = &s->cols[s->unit_col];

		snprintf(c->what, sizeof(c->what), "%s: column %d (%s)",
		    c->file, s->unit_col + 1, u->name);
		if (u->role != VEIL_R_IDENTIFIER ||
		    u->action != SCHEMA_A_PSEUDONYMIZE)
			return serr(c, "the privacy unit column must be an "
			    "identifier with action = \"pseudonymize\", so "
			    "that units stay distinct but unreadable");
		u->required = 1;
		snprintf(c->what, sizeof(c->what), "%s", c->file);
	}

	lua_getfield(L, 1, "ignore");
	if (!lua_isnil(L, -1)) {
		r = get_array(c, -1, "ignore", 0, TABLE_MAX_COLS, &n);
		if (r == 0 && n > 0 &&
		    (s->ignore = calloc(n, sizeof(char *))) == NULL)
			r = veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
		for (i = 0; r == 0 && i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			if ((r = get_str(c, -1, "ignore", TABLE_MAX_NAME, &p,
			    &len)) == 0 && schema_find(s, p, len) >= 0)
				r = serr(c, "ignore: \"%s\" is also a declared "
				    "column", p);
			if (r == 0 && (r = dupstr(c, p, len,
			    &s->ignore[i])) == 0)
				s->nignore = i + 1;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (lua_getfield(L, 1, "ignore_unknown") != LUA_TNIL)
		r = get_bool(c, -1, "ignore_unknown", &s->ignore_unknown);
	lua_pop(L, 1);
	if (r != 0)
		return r;

	if (lua_getfield(L, 1, "csv") != LUA_TNIL) {
		static const char *const ckeys[] = { "delimiter", NULL };

		if (!lua_istable(L, -1))
			r = serr(c, "csv: expected {delimiter = \",\"}");
		else if ((r = check_keys(c, -1, ckeys)) == 0) {
			if (lua_getfield(L, -1, "delimiter") == LUA_TSTRING &&
			    strcmp(lua_tostring(L, -1), "\t") == 0)
				s->delimiter = '\t';
			else if (!lua_isnil(L, -1) && (r = get_str(c, -1,
			    "csv.delimiter", 8, &p, &len)) == 0) {
				if (strcmp(p, ",") == 0 || strcmp(p, ";") == 0)
					s->delimiter = p[0];
				else if (strcmp(p, "\t") == 0 ||
				    strcmp(p, "tab") == 0)
					s->delimiter = '\t';
				else
					r = serr(c, "csv.delimiter: expected "
					    "\",\", \";\" or \"tab\"");
			}
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return r;
}

int
schema_load_buffer(const char *src, size_t len, const char *name,
    const char *dir, struct schema **sp, struct veil_err *err)
{
	struct sctx c;
	struct schema *s = NULL;
	lua_State *L = NULL;
	int r;

	*sp = NULL;
	if ((r = luadata_eval(src, len, name, &L, err)) != 0)
		return r;
	if (!lua_checkstack(L, 32)) {
		r = veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(name)) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	s->unit_col = -1;
	memset(&c, 0, sizeof(c));
	c.L = L;
	c.s = s;
	c.file = name;
	c.dir = dir;
	c.err = err;
	if ((r = parse_top(&c)) != 0)
		goto out;
	*sp = s;
	s = NULL;
 out:
	schema_free(s);
	luadata_close(L);
	return r;
}

int
schema_load_file(const char *path, struct schema **sp, struct veil_err *err)
{
	char *src = NULL, *dir = NULL, *slash;
	size_t len;
	int r;

	*sp = NULL;
	if ((r = luadata_slurp(path, LUADATA_MAX_FILE, &src, &len, err)) != 0)
		return r;
	if ((dir = strdup(path)) == NULL) {
		free(src);
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	r = schema_load_buffer(src, len, path, dir, sp, err);
	free(dir);
	free(src);
	return r;
}

void
schema_free(struct schema *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->ncols; i++) {
		free(s->cols[i].name);
		for (j = 0; j < s->cols[i].nvalues; j++)
			free(s->cols[i].values[j]);
		free(s->cols[i].values);
		hierarchy_free(s->cols[i].hier);
	}
	for (i = 0; i < s->nignore; i++)
		free(s->ignore[i]);
	free(s->ignore);
	free(s->cols);
	free(s->name);
	free(s->path);
	free(s->unit);
	free(s);
}

int
schema_find(const struct schema *s, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < s->ncols; i++)
		if (s->cols[i].name != NULL &&
		    strlen(s->cols[i].name) == len &&
		    memcmp(s->cols[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

int
schema_ignored(const struct schema *s, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < s->nignore; i++)
		if (strlen(s->ignore[i]) == len &&
		    memcmp(s->ignore[i], name, len) == 0)
			return 1;
	return 0;
}

int
schema_level(const struct schema *s)
{
	size_t i;
	int lv = 0;

	for (i = 0; i < s->ncols; i++)
		if (s->cols[i].level > lv)
			lv = s->cols[i].level;
	return lv;
}
