/*
 * policy.c: loading and validating policy files (see policy.h), and the
 * classification-level table that raises a policy's minimums.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "datefmt.h"
#include "luadata.h"
#include "policy.h"
#include "utf8.h"

/*
 * Classification levels (the highest `level` of any schema column). Each
 * raises the policy's floors (k, l) and lowers its ceilings (epsilon,
 * delta) to at least these values; a policy that is stricter stays so.
 */
static const struct {
	uint32_t	k, l;
	double		eps_job, eps_total, delta;
} levels[5] = {
	{ 2, 1, 10.0, 100.0, 1e-3 },	/* 0: unclassified */
	{ 5, 2, 2.0, 10.0, 1e-5 },	/* 1: internal */
	{ 10, 2, 1.0, 5.0, 1e-6 },	/* 2: confidential */
	{ 20, 3, 0.5, 3.0, 1e-7 },	/* 3: sensitive (health, finance) */
	{ 50, 4, 0.25, 1.0, 1e-8 },	/* 4: highly sensitive */
};

struct pctx {
	lua_State	*L;
	const char	*file;
	struct veil_err	*err;
};

static const char *const modes[] = { "dp", "threshold", "export", "none",
	NULL };

const char *
policy_mode_name(enum policy_mode m)
{
	return (unsigned)m <= POLICY_NONE ? modes[m] : "?";
}

static int
perr(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct pctx *c, const char *fmt, ...)
{
	char msg[VEIL_ERR_MSGLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return veil_seterr(c->err, VEIL_E_SCHEMA, "%s: %s", c->file, msg);
}

/*
 * The shortest plain decimal (never an exponent: epsilons are read back
 * as exact decimals) that reads back as v: what the author wrote.
 */
static void
shortest(double v, char *buf, size_t len)
{
	int p;

	for (p = 0; p <= 20; p++) {
		snprintf(buf, len, "%.*f", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, len, "%.17g", v);
}

void
policy_defaults(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = POLICY_DP;
	p->noise = POLICY_LAPLACE;
	p->epsilon_per_job = 1.0;
	p->epsilon_total = 5.0;
	p->delta = 1e-6;
	p->max_rows_per_unit = 5;
	p->k = 10;
	p->l = 2;
	p->c = 3;
	p->suppression = 0.02;
	p->cpu_ms = 10000;
	p->memory_mb = 512;
	p->wall_ms = 30000;
	p->output_kb = 64;
	p->expires = INT32_MAX;
	p->epsilon_buyer = p->epsilon_total;
	shortest(p->epsilon_per_job, p->eps_job, sizeof(p->eps_job));
	shortest(p->epsilon_total, p->eps_total, sizeof(p->eps_total));
	shortest(p->epsilon_buyer, p->eps_buyer, sizeof(p->eps_buyer));
	shortest(p->delta, p->delta_s, sizeof(p->delta_s));
}

static int
check_keys(struct pctx *c, int idx, const char *where,
    const char *const *keys)
{
	lua_State *L = c->L;
	const char *k;
	int i, ok;

	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			lua_pop(L, 1);
			return perr(c, "%s: unexpected non-name key", where);
		}
		k = lua_tostring(L, -1);
		for (ok = 0, i = 0; keys[i] != NULL && !ok; i++)
			ok = strcmp(keys[i], k) == 0;
		if (!ok) {
			perr(c, "%s%sunknown key \"%.64s\"", where,
			    where[0] ? ": " : "", k);
			lua_pop(L, 1);
			return VEIL_E_SCHEMA;
		}
	}
	return 0;
}

static int
get_num(struct pctx *c, int idx, const char *key, double lo, double hi,
    double *out)
{
	double v;

	if (lua_type(c->L, idx) != LUA_TNUMBER)
		return perr(c, "%s: expected a number, got %s", key,
		    luadata_typename(c->L, idx));
	v = lua_tonumber(c->L, idx);
	if (!isfinite(v) || v < lo || v > hi)
		return perr(c, "%s: expected a number from %g to %g, got %g",
		    key, lo, hi, v);
	*out = v;
	return 0;
}

static int
get_u32(struct pctx *c, int idx, const char *key, uint32_t lo, uint32_t hi,
    uint32_t *out)
{
	lua_Integer v;
	int isint;

	v = lua_tointegerx(c->L, idx, &isint);
	if (lua_type(c->L, idx) != LUA_TNUMBER || !isint)
		return perr(c, "%s: expected an integer, got %s", key,
		    lua_type(c->L, idx) == LUA_TNUMBER ? "a fraction" :
		    luadata_typename(c->L, idx));
	if (v < (lua_Integer)lo || v > (lua_Integer)hi)
		return perr(c, "%s: expected %u to %u, got %lld", key, lo, hi,
		    (long long)v);
	*out = (uint32_t)v;
	return 0;
}

static int
get_list(struct pctx *c, int idx, const char *key, char ***outp,
    size_t *np)
{
	lua_State *L = c->L;
	const char *s;
	size_t n, i, len;

	if (!luadata_is_array(L, idx, &n) || n > 1000)
		return perr(c, "%s: expected a list of up to 1000 names", key);
	if (n > 0 && (*outp = calloc(n, sizeof(char *))) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING ||
		    (s = lua_tolstring(L, -1, &len)) == NULL || len == 0 ||
		    len > 256 || !utf8_valid(s, len)) {
			lua_pop(L, 1);
			return perr(c, "%s[%zu]: expected a non-empty name", key,
			    i + 1);
		}
		if (((*outp)[i] = strndup(s, len)) == NULL) {
			lua_pop(L, 1);
			return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
		}
		*np = i + 1;
		lua_pop(L, 1);
	}
	return 0;
}

static int
parse_epsilon(struct pctx *c, struct policy *p)
{
	static const char *const keys[] = { "per_job", "total", "per_buyer",
	    NULL };
	lua_State *L = c->L;
	int r;

	if (!lua_istable(L, -1))
		return perr(c, "epsilon: expected { per_job = E, total = T }");
	if ((r = check_keys(c, -1, "epsilon", keys)) != 0)
		return r;
	lua_getfield(L, -1, "per_job");
	r = lua_isnil(L, -1) ? perr(c, "epsilon.per_job: missing") :
	    get_num(c, -1, "epsilon.per_job", 1e-6, 100, &p->epsilon_per_job);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	lua_getfield(L, -1, "total");
	r = lua_isnil(L, -1) ? perr(c, "epsilon.total: missing") :
	    get_num(c, -1, "epsilon.total", 1e-6, 1000, &p->epsilon_total);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	p->epsilon_buyer = p->epsilon_total;
	lua_getfield(L, -1, "per_buyer");
	r = lua_isnil(L, -1) ? 0 : get_num(c, -1, "epsilon.per_buyer", 1e-6,
	    1000, &p->epsilon_buyer);
	lua_pop(L, 1);
	if (r != 0)
		return r;
	if (p->epsilon_per_job > p->epsilon_total)
		return perr(c, "epsilon: per_job (%g) exceeds total (%g)",
		    p->epsilon_per_job, p->epsilon_total);
	if (p->epsilon_buyer > p->epsilon_total)
		return perr(c, "epsilon: per_buyer (%g) exceeds total (%g)",
		    p->epsilon_buyer, p->epsilon_total);
	shortest(p->epsilon_per_job, p->eps_job, sizeof(p->eps_job));
	shortest(p->epsilon_total, p->eps_total, sizeof(p->eps_total));
	shortest(p->epsilon_buyer, p->eps_buyer, sizeof(p->eps_buyer));
	return 0;
}

static int
parse_limits(struct pctx *c, struct policy *p)
{
	static const char *const keys[] = { "cpu_ms", "memory_mb", "wall_ms",
	    "output_kb", NULL };
	lua_State *L = c->L;
	int r = 0;

	if (!lua_istable(L, -1))
		return perr(c, "limits: expected { cpu_ms = ..., memory_mb = "
		    "..., wall_ms = ..., output_kb = ... }");
	if ((r = check_keys(c, -1, "limits", keys)) != 0)
		return r;
	if (lua_getfield(L, -1, "cpu_ms") != LUA_TNIL)
		r = get_u32(c, -1, "limits.cpu_ms", 100, 3600000, &p->cpu_ms);
	lua_pop(L, 1);
	if (r == 0 && lua_getfield(L, -1, "memory_mb") != LUA_TNIL)
		r = get_u32(c, -1, "limits.memory_mb", 16, 65536,
		    &p->memory_mb);
	if (r == 0)
		lua_pop(L, 1);
	if (r == 0 && lua_getfield(L, -1, "wall_ms") != LUA_TNIL)
		r = get_u32(c, -1, "limits.wall_ms", 100, 3600000, &p->wall_ms);
	if (r == 0)
		lua_pop(L, 1);
	if (r == 0 && lua_getfield(L, -1, "output_kb") != LUA_TNIL)
		r = get_u32(c, -1, "limits.output_kb", 1, 65536,
		    &p->output_kb);
	if (r == 0)
		lua_pop(L, 1);
	return r;
}

static int
parse_price(struct pctx *c, struct policy *p)
{
	static const char *const keys[] = { "per_job", "per_epsilon", NULL };
	lua_State *L = c->L;
	int r = 0;

	if (!lua_istable(L, -1))
		return perr(c, "price: expected { per_job = P, per_epsilon = "
		    "Q }");
	if ((r = check_keys(c, -1, "price", keys)) != 0)
		return r;
	if (lua_getfield(L, -1, "per_job") != LUA_TNIL)
		r = get_num(c, -1, "price.per_job", 0, 1e12, &p->price_per_job);
	lua_pop(L, 1);
	if (r == 0 && lua_getfield(L, -1, "per_epsilon") != LUA_TNIL)
		r = get_num(c, -1, "price.per_epsilon", 0, 1e12,
		    &p->price_per_epsilon);
	if (r == 0)
		lua_pop(L, 1);
	return r;
}

static int
parse(struct pctx *c, struct policy *p)
{
	static const char *const keys[] = { "mode", "noise", "epsilon",
	    "delta", "max_rows_per_unit", "k", "l", "l_kind", "c", "t",
	    "suppression",
	    "buyers", "purposes", "limits", "export", "expires", "price",
	    "description", NULL };
	lua_State *L = c->L;
	const char *s;
	size_t len;
	int r, i;

	if ((r = check_keys(c, 1, "", keys)) != 0)
		return r;
	if (lua_getfield(L, 1, "mode") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		for (i = 0; modes[i] != NULL; i++)
			if (strcmp(s, modes[i]) == 0)
				break;
		if (modes[i] == NULL)
			return perr(c, "mode: expected \"dp\", \"threshold\", "
			    "\"export\" or \"none\"");
		p->mode = (enum policy_mode)i;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "noise") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(s, "laplace") == 0)
			p->noise = POLICY_LAPLACE;
		else if (strcmp(s, "gaussian") == 0)
			p->noise = POLICY_GAUSSIAN;
		else
			return perr(c, "noise: expected \"laplace\" or "
			    "\"gaussian\"");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "epsilon") != LUA_TNIL &&
	    (r = parse_epsilon(c, p)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "delta") != LUA_TNIL) {
		if ((r = get_num(c, -1, "delta", 0, 1e-3, &p->delta)) != 0)
			return r;
		shortest(p->delta, p->delta_s, sizeof(p->delta_s));
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "max_rows_per_unit") != LUA_TNIL &&
	    (r = get_u32(c, -1, "max_rows_per_unit", 1, 1000000,
	    &p->max_rows_per_unit)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "k") != LUA_TNIL &&
	    (r = get_u32(c, -1, "k", 2, 1000000, &p->k)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "l") != LUA_TNIL &&
	    (r = get_u32(c, -1, "l", 1, 1000, &p->l)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "l_kind") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (strcmp(s, "distinct") == 0)
			p->l_kind = 0;
		else if (strcmp(s, "entropy") == 0)
			p->l_kind = 1;
		else if (strcmp(s, "recursive") == 0)
			p->l_kind = 2;
		else
			return perr(c, "l_kind: expected \"distinct\", "
			    "\"entropy\" or \"recursive\"");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "c") != LUA_TNIL &&
	    (r = get_num(c, -1, "c", 1e-6, 1e6, &p->c)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "t") != LUA_TNIL &&
	    (r = get_num(c, -1, "t", 1e-6, 1, &p->t)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "suppression") != LUA_TNIL &&
	    (r = get_num(c, -1, "suppression", 0, 0.5, &p->suppression)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "buyers") != LUA_TNIL &&
	    (r = get_list(c, lua_gettop(L), "buyers", &p->buyers,
	    &p->nbuyers)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "purposes") != LUA_TNIL &&
	    (r = get_list(c, lua_gettop(L), "purposes", &p->purposes,
	    &p->npurposes)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "limits") != LUA_TNIL &&
	    (r = parse_limits(c, p)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "export") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TBOOLEAN)
			return perr(c, "export: expected true or false");
		p->export_allowed = lua_toboolean(L, -1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "expires") != LUA_TNIL) {
		s = lua_type(L, -1) == LUA_TSTRING ?
		    lua_tolstring(L, -1, &len) : NULL;
		if (s == NULL || datefmt_parse(s, len, &p->expires) != 0)
			return perr(c, "expires: expected a date "
			    "\"YYYY-MM-DD\"");
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "price") != LUA_TNIL &&
	    (r = parse_price(c, p)) != 0)
		return r;
	lua_pop(L, 1);
	if (lua_getfield(L, 1, "description") != LUA_TNIL &&
	    lua_type(L, -1) != LUA_TSTRING)
		return perr(c, "description: expected a string");
	lua_pop(L, 1);
	if (p->mode == POLICY_DP && p->noise == POLICY_GAUSSIAN &&
	    p->delta == 0)
		return perr(c, "noise: \"gaussian\" needs delta > 0");
	return 0;
}

int
policy_load_buffer(const char *src, size_t len, const char *name,
    struct policy **pp, struct veil_err *err)
{
	struct pctx c;
	struct policy *p = NULL;
	lua_State *L = NULL;
	int r;

	*pp = NULL;
	if ((r = luadata_eval(src, len, name, &L, err)) != 0)
		return r;
	if (!lua_checkstack(L, 16) || (p = calloc(1, sizeof(*p))) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	policy_defaults(p);
	if ((p->path = strdup(name)) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
		goto out;
	}
	c.L = L;
	c.file = name;
	c.err = err;
	if ((r = parse(&c, p)) != 0)
		goto out;
	*pp = p;
	p = NULL;
 out:
	policy_free(p);
	luadata_close(L);
	return r;
}

int
policy_load_file(const char *path, struct policy **pp, struct veil_err *err)
{
	char *src;
	size_t len;
	int r;

	*pp = NULL;
	if ((r = luadata_slurp(path, LUADATA_MAX_FILE, &src, &len, err)) != 0)
		return r;
	r = policy_load_buffer(src, len, path, pp, err);
	free(src);
	return r;
}

struct policy *
policy_new_default(void)
{
	struct policy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	policy_defaults(p);
	if ((p->path = strdup("(default policy)")) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nbuyers; i++)
		free(p->buyers[i]);
	for (i = 0; i < p->npurposes; i++)
		free(p->purposes[i]);
	free(p->buyers);
	free(p->purposes);
	free(p->path);
	free(p);
}

int
policy_apply_level(struct policy *p, int level)
{
	int n = 0;

	if (level < 0)
		level = 0;
	if (level > 4)
		level = 4;
	if (p->k < levels[level].k && ++n)
		p->k = levels[level].k;
	if (p->l < levels[level].l && ++n)
		p->l = levels[level].l;
	if (p->epsilon_per_job > levels[level].eps_job && ++n) {
		p->epsilon_per_job = levels[level].eps_job;
		shortest(p->epsilon_per_job, p->eps_job, sizeof(p->eps_job));
	}
	if (p->epsilon_total > levels[level].eps_total && ++n) {
		p->epsilon_total = levels[level].eps_total;
		shortest(p->epsilon_total, p->eps_total, sizeof(p->eps_total));
	}
	if (p->epsilon_buyer > p->epsilon_total) {
		p->epsilon_buyer = p->epsilon_total;
		shortest(p->epsilon_buyer, p->eps_buyer, sizeof(p->eps_buyer));
	}
	if (p->delta > levels[level].delta && ++n) {
		p->delta = levels[level].delta;
		shortest(p->delta, p->delta_s, sizeof(p->delta_s));
	}
	return n;
}
