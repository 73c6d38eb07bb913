/*
 * rt_int.h: what the runtime's files share (runtime/ only): the job
 * context, plan nodes, aggregations and derived columns.
 */
#ifndef VEIL_RT_INT_H
#define VEIL_RT_INT_H

#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <msgpack.h>

#include "rt.h"
#include "table.h"

#define RT_CTX		"veil.ctx"	/* registry key: light userdata */
#define RT_NODE		"veil.node"	/* metatable names */
#define RT_AGG		"veil.agg"
#define RT_ROW		"veil.row"

/* A column reference: a table column or a derived one. */
struct colref {
	int		 derived;	/* 0: table column */
	int		 id;		/* table column index / derive node */
};

/* Values of a derived column, one per table row. */
enum dtag { D_MISSING = 0, D_NUM, D_BOOL, D_STR };

struct dcol {
	char		*name;
	uint8_t		*tag;		/* per row */
	double		*num;		/* D_NUM value, D_BOOL 0/1, D_STR code */
	int		 strs_ref;	/* Lua table code -> string */
	int		 codes_ref;	/* Lua table string -> code */
	uint32_t	 nstrs;
};

enum pkind { P_SOURCE, P_WHERE, P_FILTER, P_DERIVE, P_GROUP };
enum wop { W_EQ, W_NE, W_LT, W_LE, W_GT, W_GE, W_IN };

/* Byte-wise order of two strings, shorter first on a common prefix. */
static inline int
rt_cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	return c != 0 ? c : (al > bl) - (al < bl);
}

/* Does a comparison result c satisfy op? */
static inline int
rt_holds(enum wop op, int c)
{
	switch (op) {
	case W_EQ: case W_IN:	return c == 0;
	case W_NE:		return c != 0;
	case W_LT:		return c < 0;
	case W_LE:		return c <= 0;
	case W_GT:		return c > 0;
	default:		return c >= 0;
	}
}

struct rowprog;

struct rowfn {
	int		 fn_ref;	/* the (re-bound) Lua function */
	int		 snap_ref;	/* table: upvalue index -> value */
	int		 nup;
	int		 restore;	/* upvalues may change: reset per row */
	int		 row_ref;	/* the row proxy userdata */
	struct rowprog	*prog;		/* compiled form, or NULL */
	int		 prog_ref;	/* keeps prog alive */
};

struct pnode {
	enum pkind	 kind;
	struct pnode	*parent;
	int		 self_ref;	/* registry ref keeping it alive */
	/* P_WHERE, and P_GROUP by column */
	struct colref	 col;
	enum wop	 op;
	int		 vals_ref;	/* Lua table of comparison values */
	double		*dv;		/* numeric values (dates: days) */
	int		 nv;
	uint8_t		*mask;		/* category: matching codes */
	uint32_t	 nmask;
	/* P_FILTER, P_DERIVE, P_GROUP by function */
	struct rowfn	 fn;
	int		 has_fn;
	/* P_DERIVE */
	struct dcol	*dcol;
	/* memo: the selected rows, in unit order; NULL: rows 0..nsel-1 */
	uint32_t	*sel;
	uint32_t	 nsel;
	int		 own_sel;	/* sel is this node's to free */
	int		 done;
};

enum aop { A_COUNT, A_SUM, A_MEAN, A_QUANTILE, A_HISTOGRAM };

struct agg {
	enum aop	 op;
	struct pnode	*node;		/* the plan it aggregates */
	int		 node_ref;
	struct colref	 col;
	int		 has_col;
	double		 lo, hi, q;
	double		*edges;
	int		 nedges;
	double		 epsilon;	/* 0: not given */
};

struct rt_ctx {
	lua_State		*L;
	const struct rt_job	*job;
	const struct table	*t;
	uint32_t		 nrows;
	uint32_t		*unit;		/* unit id per row */
	uint32_t		 nunits;
	uint32_t		*base;		/* kept rows, in unit order;
						   NULL: all rows, in order */
	uint32_t		 nbase;
	int			 unit_col;	/* -1: each row a unit */
	int			 row_access;	/* rows()/column() allowed */
	struct dcol		**dcols;	/* derive nodes' columns */
	int			 ndcols;
	int			 cat_ref;	/* per column: code -> string */
	int			 in_row;	/* inside a row function */
	struct rt_stats		*stats;
	/* per table column: its view once its values are checked */
	const struct table_colview **views;
	uint8_t			*prefaulted;	/* per table column */
};

/* Row i of a selection (NULL: the identity), group of position i. */
#define SEL(n, i)	((n)->sel != NULL ? (n)->sel[i] : (uint32_t)(i))
#define GID(g, i)	((g)->gid != NULL ? (g)->gid[i] : 0)

struct rt_ctx	*rt_ctx(lua_State *L);

/* bound.c */
int	 rt_bound(struct rt_ctx *);

/* rowfn.c */
void	 rowfn_prepare(lua_State *L, int fnidx, struct pnode *n,
	    struct rowfn *rf);
/* A row function's result from its compiled form (rowprog.c). */
struct rowval {
	int		 type;		/* LUA_TNIL, LUA_TBOOLEAN, LUA_TNUMBER */
	int		 isint;		/* a number: an integer (i) */
	lua_Integer	 i;		/* an integer; a boolean: 0 or 1 */
	lua_Number	 n;		/* a float */
};

/*
 * Calls rf on every row of the selection (sel NULL: rows 0..n-1). For
 * each, cb gets ok = 1 with the result: in *v, or (v NULL) on the stack
 * top (cb pops it); or ok = 0 when the function failed or overran
 * (counted already). Returns 0, or -1 when the job must stop (its CPU
 * time is up).
 */
typedef void (*rowfn_cb)(struct rt_ctx *, uint32_t i, uint32_t row, int ok,
    const struct rowval *v, void *arg);
void	 rowval_push(lua_State *L, const struct rowval *v);
int	 rowfn_each(struct rt_ctx *, struct rowfn *rf, const uint32_t *sel,
	    uint32_t n, rowfn_cb cb, void *arg);
void	 rowfn_push_value(struct rt_ctx *, struct colref c, uint32_t row);
int	 rt_resolve(lua_State *L, struct pnode *n, const char *name,
	    struct colref *out);
/*
 * The view of table column col for reading its values: a float or
 * category column of a lazily opened table is checked first if it still
 * owes its check (table_open_lazy()); a corrupt one ends the job
 * (rt_corrupt()). Code that reads values through table_column() instead
 * must make the check itself before it uses any.
 */
const struct table_colview *rt_colview(struct rt_ctx *, int col);
/*
 * Before a pass that reads every value of table column col (n rows of
 * size bytes each): maps the column's pages at once if the job asks for
 * it (rt_job.prefault), once per column. Only ever a hint.
 */
void	 rt_prefault(struct rt_ctx *, int col, const void *p, size_t size,
	    uint64_t n);
void	 rt_corrupt(struct rt_ctx *, const char *msg)
	    __attribute__((noreturn));
const char *rt_colname(struct rt_ctx *, struct colref c);
enum veil_type rt_coltype(struct rt_ctx *, struct colref c);

/* rowprog.c */
/*
 * Reads the Lua function at idx (lua_dump): sets *setupval if it or a
 * function nested in it may assign an upvalue (and when the dump is not
 * understood). With n not NULL, also compiles it for rows of node n and
 * pushes the compiled form (a userdata, returned) or nil (NULL returned).
 */
struct rowprog *rowprog_read(lua_State *L, int idx, struct pnode *n,
	    int *setupval);
/*
 * Parses the len bytes of a lua_dump() at buf, which must be all of one
 * (stripped or not): returns 0, or -1 when they are not understood. Sets
 * *setupval if a function in it may assign an upvalue, or on -1.
 */
int	 rowprog_scan(const void *buf, size_t len, int *setupval);
/*
 * Evaluates p on row: returns 1 with the function's result in *v, or 0
 * when the interpreter must run this row.
 */
int	 rowprog_eval(const struct rowprog *p, uint32_t row, struct rowval *v);

/* dataset.c */
void	 rt_open_api(lua_State *L);
struct pnode *rt_checknode(lua_State *L, int idx);

/* eval.c */
int	 rt_eval_node(struct rt_ctx *, struct pnode *n);
int	 rt_pack_agg(struct rt_ctx *, struct agg *a, msgpack_packer *pk);

#endif /* VEIL_RT_INT_H */
