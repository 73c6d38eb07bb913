/*
 * rowprog.c: what rowfn.c learns from a row function's bytecode.
 *
 * Two things, both read from lua_dump()'s output (Lua 5.4's format, as
 * ldump.c writes it; only the public API is used, so the format is
 * parsed here, defensively):
 *
 *  (1) Whether the function, or a prototype nested in it, can assign an
 *      upvalue (OP_SETUPVAL). Tables in upvalues are frozen copies and
 *      _ENV is frozen, so if no function reachable from a row function
 *      can assign one, its upvalue cells never change and restoring them
 *      before each row is a waste. Anything unexpected in the dump
 *      answers "yes": the safe default.
 *
 *  (2) A compiled form for the common simple case: straight-line code
 *      (forward jumps only) over row fields, numbers, booleans and nil,
 *      with arithmetic and comparisons; no calls, no tables, no strings,
 *      no loops. rowprog_push() evaluates it in C with Lua 5.4's
 *      semantics (integer wrap-around, float conversions, exact mixed
 *      comparisons). Whenever a row needs anything else (a string or a
 *      date, a null in arithmetic, a division by integer zero, an integer
 *      too large for a float comparison, a metamethod), it returns 0 and
 *      the interpreter runs the row: it gives the exact result or the
 *      error that is counted. A row function being pure, starting a row
 *      in C and redoing it in Lua is harmless. The compiled code executes
 *      at most its own length in instructions, so it is only used when
 *      that is under the per-row cap: it can never overrun.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "rt_int.h"

/* Lua 5.4 opcodes (lopcodes.h), the ones this file knows. */
enum {
	OP_MOVE = 0, OP_LOADI = 1, OP_LOADF = 2, OP_LOADK = 3,
	OP_LOADFALSE = 5, OP_LFALSESKIP = 6, OP_LOADTRUE = 7, OP_LOADNIL = 8,
	OP_GETUPVAL = 9, OP_SETUPVAL = 10, OP_GETFIELD = 14,
	OP_ADDI = 21, OP_ADDK = 22, OP_SUBK = 23, OP_MULK = 24, OP_MODK = 25,
	OP_POWK = 26, OP_DIVK = 27, OP_IDIVK = 28,
	OP_ADD = 34, OP_SUB = 35, OP_MUL = 36, OP_MOD = 37, OP_POW = 38,
	OP_DIV = 39, OP_IDIV = 40,
	OP_MMBIN = 46, OP_MMBINI = 47, OP_MMBINK = 48, OP_UNM = 49,
	OP_NOT = 51, OP_JMP = 56, OP_EQ = 57, OP_LT = 58, OP_LE = 59,
	OP_EQK = 60, OP_EQI = 61, OP_LTI = 62, OP_LEI = 63, OP_GTI = 64,
	OP_GEI = 65, OP_TEST = 66, OP_TESTSET = 67,
	OP_RETURN = 70, OP_RETURN0 = 71, OP_RETURN1 = 72,
};

/* Instruction fields (lopcodes.h: iABC, iABx, iAsBx, isJ). */
#define I_OP(i)		((int)((i) & 0x7f))
#define I_A(i)		((int)(((i) >> 7) & 0xff))
#define I_K(i)		((int)(((i) >> 15) & 1))
#define I_B(i)		((int)(((i) >> 16) & 0xff))
#define I_C(i)		((int)(((i) >> 24) & 0xff))
#define I_SB(i)		(I_B(i) - 127)
#define I_SC(i)		(I_C(i) - 127)
#define I_BX(i)		((int)((i) >> 15))
#define I_SBX(i)	(I_BX(i) - 65535)
#define I_SJ(i)		((int)((i) >> 7) - 16777215)

/* Constant tags in a dump (lobject.h variant tags). */
#define K_NIL		0x00
#define K_FALSE		0x01
#define K_TRUE		0x11
#define K_INT		0x03
#define K_FLT		0x13
#define K_SHRSTR	0x04
#define K_LNGSTR	0x14

#define DUMP_MAX	(4u << 20)	/* bigger functions are not read */
#define MAX_DEPTH	200		/* nested prototypes */

/* {====== reading a dump */

struct rd {
	const unsigned char	*p, *end;
	int			 bad;
};

struct kval {
	int		 tag;
	lua_Integer	 i;
	lua_Number	 n;
	const char	*s;
	size_t		 len;
};

#define MAXK		256	/* constants the compiler can use */

/* The top function of a dump, as far as the compiler needs it. */
struct fproto {
	unsigned int		 nparams, vararg, nregs;
	const unsigned char	*code;		/* unaligned */
	size_t			 ncode;
	struct kval		 k[MAXK];	/* the first MAXK constants */
	size_t			 nk;		/* all of them */
	size_t			 nup;
};

static unsigned int
rd_byte(struct rd *r)
{
	if (r->bad || r->p >= r->end) {
		r->bad = 1;
		return 0;
	}
	return *r->p++;
}

/* ldump.c's dumpSize: 7 bits a byte, most significant first, the last
 * byte marked by its high bit. */
static size_t
rd_size(struct rd *r)
{
	size_t x = 0;
	unsigned int b;

	do {
		if (x > (SIZE_MAX >> 7)) {
			r->bad = 1;
			return 0;
		}
		b = rd_byte(r);
		x = (x << 7) | (b & 0x7f);
	} while (!r->bad && (b & 0x80) == 0);
	return r->bad ? 0 : x;
}

static const unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	return p;
}

/* A string: size + 1, then the bytes; size 0 is no string (NULL). */
static const char *
rd_string(struct rd *r, size_t *lenp)
{
	size_t n = rd_size(r);

	*lenp = 0;
	if (n == 0)
		return NULL;
	*lenp = n - 1;
	return (const char *)rd_bytes(r, n - 1);
}

static int
rd_header(struct rd *r)
{
	static const unsigned char sig[] = { 0x1b, 'L', 'u', 'a', 0x54, 0,
	    0x19, 0x93, '\r', '\n', 0x1a, '\n', 4, sizeof(lua_Integer),
	    sizeof(lua_Number) };
	const unsigned char *p;
	lua_Integer i;
	lua_Number n;

	if ((p = rd_bytes(r, sizeof(sig))) == NULL ||
	    memcmp(p, sig, sizeof(sig)) != 0)
		return -1;
	if ((p = rd_bytes(r, sizeof(i))) == NULL)
		return -1;
	memcpy(&i, p, sizeof(i));
	if ((p = rd_bytes(r, sizeof(n))) == NULL)
		return -1;
	memcpy(&n, p, sizeof(n));
	if (i != 0x5678 || n != 370.5)
		return -1;
	(void)rd_byte(r);	/* the main function's upvalue count */
	return r->bad ? -1 : 0;
}

/*
 * Reads one function and its nested prototypes; sets *setupval if any of
 * them has OP_SETUPVAL. top (the outermost only) receives its code and
 * constants. Returns 0 or -1.
 */
static int
rd_function(struct rd *r, int depth, struct fproto *top, int *setupval)
{
	const unsigned char *code, *p;
	struct kval kv;
	size_t n, i, len;
	uint32_t ins;

	if (depth > MAX_DEPTH)
		return -1;
	(void)rd_string(r, &len);	/* source */
	(void)rd_size(r);		/* linedefined */
	(void)rd_size(r);		/* lastlinedefined */
	if (top != NULL) {
		top->nparams = rd_byte(r);
		top->vararg = rd_byte(r);
		top->nregs = rd_byte(r);
	} else
		(void)rd_bytes(r, 3);
	n = rd_size(r);
	if (n > DUMP_MAX / 4 || (code = rd_bytes(r, n * 4)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		memcpy(&ins, code + 4 * i, 4);
		if (I_OP(ins) == OP_SETUPVAL)
			*setupval = 1;
	}
	if (top != NULL) {
		top->code = code;
		top->ncode = n;
	}
	n = rd_size(r);
	if (n > (size_t)(r->end - r->p))	/* a byte each at least */
		return -1;
	if (top != NULL)
		top->nk = n;
	for (i = 0; i < n && !r->bad; i++) {
		memset(&kv, 0, sizeof(kv));
		kv.tag = (int)rd_byte(r);
		switch (kv.tag) {
		case K_NIL:
		case K_FALSE:
		case K_TRUE:
			break;
		case K_INT:
			if ((p = rd_bytes(r, sizeof(kv.i))) != NULL)
				memcpy(&kv.i, p, sizeof(kv.i));
			break;
		case K_FLT:
			if ((p = rd_bytes(r, sizeof(kv.n))) != NULL)
				memcpy(&kv.n, p, sizeof(kv.n));
			break;
		case K_SHRSTR:
		case K_LNGSTR:
			if ((kv.s = rd_string(r, &kv.len)) == NULL)
				r->bad = 1;
			break;
		default:
			r->bad = 1;
		}
		if (top != NULL && i < MAXK)
			top->k[i] = kv;
	}
	n = rd_size(r);			/* upvalues: instack, idx, kind */
	if (top != NULL)
		top->nup = n;
	if (n > 255 || rd_bytes(r, 3 * n) == NULL)
		return -1;
	n = rd_size(r);			/* nested prototypes */
	for (i = 0; i < n && !r->bad; i++)
		if (rd_function(r, depth + 1, NULL, setupval) != 0)
			return -1;
	n = rd_size(r);			/* debug: line info */
	(void)rd_bytes(r, n);
	n = rd_size(r);			/* absolute line info */
	for (i = 0; i < n && !r->bad; i++) {
		(void)rd_size(r);
		(void)rd_size(r);
	}
	n = rd_size(r);			/* local variables */
	for (i = 0; i < n && !r->bad; i++) {
		(void)rd_string(r, &len);
		(void)rd_size(r);
		(void)rd_size(r);
	}
	n = rd_size(r);			/* upvalue names */
	for (i = 0; i < n && !r->bad; i++)
		(void)rd_string(r, &len);
	return r->bad ? -1 : 0;
}

/*
 * The dump goes to a Lua buffer, as string.dump does it (lstrlib.c), so
 * that a memory error on the way leaves nothing to free.
 */
struct wbuf {
	luaL_Buffer	 b;
	int		 init;
	size_t		 len;
};

static int
dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	struct wbuf *w = ud;

	if (!w->init) {
		w->init = 1;
		luaL_buffinit(L, &w->b);
	}
	if (sz > DUMP_MAX - w->len)
		return 1;
	luaL_addlstring(&w->b, p, sz);
	w->len += sz;
	return 0;
}

/* }====== */

/* {====== compiling */

enum vtag { V_UNDEF = 0, V_NIL, V_BOOL, V_INT, V_FLT, V_ROW };

struct rval {
	enum vtag	 t;
	union {
		lua_Integer	 i;
		lua_Number	 n;
	}		 u;
};

/* Not a Lua opcode: ends evaluation, the interpreter takes the row. */
#define OPX_FAIL	0x7f

/* One decoded instruction. */
struct rins {
	uint8_t		 op;		/* OP_*, or OPX_FAIL */
	uint8_t		 a, b, c;	/* registers, constant index */
	uint8_t		 k;
	uint8_t		 d;		/* fused condition: the boolean's
					   register; K arithmetic: the
					   register form of the operation */
	uint8_t		 fuse;
	int32_t		 x;		/* immediate; LOADK: the constant */
	uint32_t	 j;		/* JMP, conditions: where they jump */
	/* GETFIELD: the column read, a table's or a derived one */
	const struct table_colview *v;
	const struct dcol *dc;
};

struct rowprog {
	uint32_t	 ncode;
	unsigned int	 nregs;
	unsigned int	 nparams;
	const struct rins *ins;		/* ncode + 1: the last OPX_FAIL */
	const struct rval *k;		/* per constant */
	const struct rval *up;		/* per upvalue, their values */
};

/* A constant or upvalue as a value (strings, tables...: V_UNDEF). */
static struct rval
kval_rval(const struct kval *k)
{
	struct rval v;

	memset(&v, 0, sizeof(v));
	switch (k->tag) {
	case K_NIL:
		v.t = V_NIL;
		break;
	case K_FALSE:
	case K_TRUE:
		v.t = V_BOOL;
		v.u.i = k->tag == K_TRUE;
		break;
	case K_INT:
		v.t = V_INT;
		v.u.i = k->i;
		break;
	case K_FLT:
		v.t = V_FLT;
		v.u.n = k->n;
		break;
	default:
		v.t = V_UNDEF;
	}
	return v;
}

static int
is_cond(int op)
{
	return op == OP_EQ || op == OP_LT || op == OP_LE || op == OP_EQK ||
	    op == OP_EQI || op == OP_LTI || op == OP_LEI || op == OP_GTI ||
	    op == OP_GEI || op == OP_TEST || op == OP_TESTSET;
}

/*
 * Checks instruction pc of fp: a known opcode, operands in range, jumps
 * forward and inside the code. Returns 0 if the compiler takes it.
 */
/* Instruction pc of fp (the dump need not be aligned). */
static uint32_t
ins_at(const struct fproto *fp, size_t pc)
{
	uint32_t i;

	memcpy(&i, fp->code + 4 * pc, 4);
	return i;
}

static int
check_ins(const struct fproto *fp, size_t pc)
{
	uint32_t i = ins_at(fp, pc);
	int a = I_A(i), b = I_B(i), c = I_C(i), nr = (int)fp->nregs;
	int nk = fp->nk < MAXK ? (int)fp->nk : MAXK;
	size_t next = pc + 1;

	switch (I_OP(i)) {
	case OP_MOVE:
	case OP_UNM:
	case OP_NOT:
		return a < nr && b < nr ? 0 : -1;
	case OP_LOADI:
	case OP_LOADF:
	case OP_LOADFALSE:
	case OP_LOADTRUE:
		return a < nr ? 0 : -1;
	case OP_LFALSESKIP:
		return a < nr && next < fp->ncode ? 0 : -1;
	case OP_LOADK:
		return a < nr && I_BX(i) < nk && I_BX(i) < MAXK ? 0 : -1;
	case OP_LOADNIL:
		return a + b < nr ? 0 : -1;
	case OP_GETUPVAL:
		return a < nr && (size_t)b < fp->nup ? 0 : -1;
	case OP_GETFIELD:
		return a < nr && b < nr && c < nk &&
		    fp->k[c].tag == K_SHRSTR ? 0 : -1;
	case OP_ADDI:		/* followed by its MMBIN*, skipped on success */
		return a < nr && b < nr && next < fp->ncode ? 0 : -1;
	case OP_ADDK: case OP_SUBK: case OP_MULK: case OP_MODK:
	case OP_POWK: case OP_DIVK: case OP_IDIVK:
		return a < nr && b < nr && c < nk && next < fp->ncode &&
		    (fp->k[c].tag == K_INT || fp->k[c].tag == K_FLT) ? 0 : -1;
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_MOD: case OP_POW:
	case OP_DIV: case OP_IDIV:
	case OP_EQ: case OP_LT: case OP_LE:
	case OP_TESTSET:
		if (a >= nr || b >= nr || next >= fp->ncode)
			return -1;
		if (I_OP(i) >= OP_ADD && I_OP(i) <= OP_IDIV)
			return c < nr ? 0 : -1;
		return 0;
	case OP_MMBIN: case OP_MMBINI: case OP_MMBINK:
		return 0;	/* only reached when the operation failed */
	case OP_EQK:
		return a < nr && b < nk && next < fp->ncode ? 0 : -1;
	case OP_EQI: case OP_LTI: case OP_LEI: case OP_GTI: case OP_GEI:
	case OP_TEST:
		return a < nr && next < fp->ncode ? 0 : -1;
	case OP_JMP:
		return I_SJ(i) >= 0 && (size_t)I_SJ(i) < fp->ncode - next ?
		    0 : -1;
	case OP_RETURN:		/* B = 0: results up to the top */
		return b >= 1 && a < nr ? 0 : -1;
	case OP_RETURN0:
		return 0;
	case OP_RETURN1:
		return a < nr ? 0 : -1;
	default:
		return -1;
	}
}

/* The register form of a K arithmetic opcode. */
static int
kform(int op)
{
	switch (op) {
	case OP_ADDK:	return OP_ADD;
	case OP_SUBK:	return OP_SUB;
	case OP_MULK:	return OP_MUL;
	case OP_MODK:	return OP_MOD;
	case OP_POWK:	return OP_POW;
	case OP_DIVK:	return OP_DIV;
	default:	return OP_IDIV;
	}
}

/* Decodes instruction pc of code into *ri; -1 if it does not qualify. */
static int
decode(lua_State *L, struct pnode *n, const struct fproto *fp, size_t pc,
    struct rins *ri)
{
	struct rt_ctx *c = rt_ctx(L);
	const struct kval *kn;
	struct colref cr;
	char name[TABLE_MAX_NAME + 1];
	uint32_t i = ins_at(fp, pc), nx;
	int op = I_OP(i);

	if (check_ins(fp, pc) != 0)
		return -1;
	ri->op = (uint8_t)op;
	ri->a = (uint8_t)I_A(i);
	ri->b = (uint8_t)I_B(i);
	ri->c = (uint8_t)I_C(i);
	ri->k = (uint8_t)I_K(i);
	switch (op) {
	case OP_LOADI:
	case OP_LOADF:
		ri->x = I_SBX(i);
		break;
	case OP_LOADK:
		ri->x = I_BX(i);
		break;
	case OP_ADDI:
		ri->x = I_SC(i);
		break;
	case OP_EQI: case OP_LTI: case OP_LEI: case OP_GTI: case OP_GEI:
		ri->x = I_SB(i);
		break;
	case OP_ADDK: case OP_SUBK: case OP_MULK: case OP_MODK:
	case OP_POWK: case OP_DIVK: case OP_IDIVK:
		ri->d = (uint8_t)kform(op);
		break;
	case OP_JMP:
		ri->j = (uint32_t)(pc + 1 + (size_t)I_SJ(i));
		break;
	case OP_MMBIN: case OP_MMBINI: case OP_MMBINK:
		ri->op = OPX_FAIL;	/* reached only when an operation
					   failed: left to the VM */
		break;
	case OP_GETFIELD:
		/* a field of the row: a table column of a type kept as a
		 * number, or a derived column; else not worth compiling */
		kn = &fp->k[ri->c];
		if (kn->len > TABLE_MAX_NAME ||
		    memchr(kn->s, '\0', kn->len) != NULL)
			return -1;
		memcpy(name, kn->s, kn->len);
		name[kn->len] = '\0';
		if (rt_resolve(L, n, name, &cr) != 0)
			return -1;
		if (cr.derived)
			ri->dc = c->dcols[cr.id];
		else {
			ri->v = rt_colview(c, cr.id);
			if (ri->v->type != VEIL_T_INT &&
			    ri->v->type != VEIL_T_FLOAT &&
			    ri->v->type != VEIL_T_BOOL)
				return -1;
		}
		break;
	}
	if (!is_cond(op))
		return 0;
	/* a condition's jump follows it (lcode.c condjump) */
	nx = ins_at(fp, pc + 1);
	if (I_OP(nx) != OP_JMP)
		return -1;
	ri->j = (uint32_t)(pc + 2 + (size_t)I_SJ(nx));
	/*
	 * A condition made a value: cond; JMP +1; LFALSESKIP A; LOADTRUE A.
	 * Evaluated as one step (the others stay, for jumps into them).
	 */
	if (op != OP_TESTSET && I_SJ(nx) == 1 && pc + 3 < fp->ncode) {
		nx = ins_at(fp, pc + 2);
		if (I_OP(nx) == OP_LFALSESKIP &&
		    I_OP(ins_at(fp, pc + 3)) == OP_LOADTRUE &&
		    I_A(ins_at(fp, pc + 3)) == I_A(nx)) {
			ri->fuse = 1;
			ri->d = (uint8_t)I_A(nx);
		}
	}
	return 0;
}

/*
 * Compiles fp (the function at fnidx, for rows of node n) into a new
 * userdata, pushed; pushes nothing and returns -1 if it does not qualify.
 */
static int
compile(lua_State *L, int fnidx, struct pnode *n, const struct fproto *fp)
{
	struct rt_ctx *c = rt_ctx(L);
	struct rowprog *p;
	struct rval *k, *up;
	struct rins *ins;
	size_t pc, i, sz;
	int op;

	if (fp->ncode == 0 || fp->vararg || fp->nregs == 0 ||
	    fp->ncode >= c->job->row_insns || fp->ncode > DUMP_MAX / 4)
		return -1;
	/* the last instruction returns: no falling off the end */
	op = I_OP(ins_at(fp, fp->ncode - 1));
	if (op != OP_RETURN && op != OP_RETURN0 && op != OP_RETURN1)
		return -1;
	sz = sizeof(*p) + (MAXK + fp->nup) * sizeof(*k) +
	    (fp->ncode + 1) * sizeof(*ins);
	p = lua_newuserdatauv(L, sz, 0);
	memset(p, 0, sz);
	k = (struct rval *)(p + 1);
	up = k + MAXK;
	ins = (struct rins *)(up + fp->nup);
	p->ncode = (uint32_t)fp->ncode;
	p->nregs = fp->nregs;
	p->nparams = fp->nparams;
	p->ins = ins;
	p->k = k;
	p->up = up;
	for (i = 0; i < fp->nk && i < MAXK; i++)
		k[i] = kval_rval(&fp->k[i]);
	for (i = 0; i < fp->nup; i++) {
		struct kval kv;

		memset(&kv, 0, sizeof(kv));
		kv.tag = -1;
		lua_getupvalue(L, fnidx, (int)i + 1);
		switch (lua_type(L, -1)) {
		case LUA_TNIL:
			kv.tag = K_NIL;
			break;
		case LUA_TBOOLEAN:
			kv.tag = lua_toboolean(L, -1) ? K_TRUE : K_FALSE;
			break;
		case LUA_TNUMBER:
			if (lua_isinteger(L, -1)) {
				kv.tag = K_INT;
				kv.i = lua_tointeger(L, -1);
			} else {
				kv.tag = K_FLT;
				kv.n = lua_tonumber(L, -1);
			}
			break;
		}
		lua_pop(L, 1);
		up[i] = kval_rval(&kv);
	}
	for (pc = 0; pc < fp->ncode; pc++)
		if (decode(L, n, fp, pc, &ins[pc]) != 0) {
			lua_pop(L, 1);
			return -1;
		}
	ins[fp->ncode].op = OPX_FAIL;
	return 0;
}

/* Parses a dump: 0, with *fp its top function, or -1. */
static int
parse(const void *buf, size_t len, struct fproto *fp, int *setupval)
{
	struct rd r;

	memset(fp, 0, sizeof(*fp));
	r.p = buf;
	r.end = r.p + len;
	r.bad = 0;
	if (buf == NULL || rd_header(&r) != 0 ||
	    rd_function(&r, 0, fp, setupval) != 0 || r.p != r.end)
		return -1;
	return 0;
}

int
rowprog_scan(const void *buf, size_t len, int *setupval)
{
	struct fproto fp;

	if (parse(buf, len, &fp, setupval) != 0) {
		*setupval = 1;
		return -1;
	}
	return 0;
}

struct rowprog *
rowprog_read(lua_State *L, int fnidx, struct pnode *n, int *setupval)
{
	struct wbuf w;
	struct fproto fp;
	struct rowprog *p = NULL;
	const char *d = NULL;
	size_t len = 0;
	int rv, top;

	fnidx = lua_absindex(L, fnidx);
	top = lua_gettop(L);
	w.init = 0;
	w.len = 0;
	lua_pushvalue(L, fnidx);
	rv = lua_dump(L, dump_writer, &w, 1);
	if (w.init) {
		luaL_pushresult(&w.b);
		d = lua_tolstring(L, -1, &len);
	}
	if (rv != 0 || parse(d, len, &fp, setupval) != 0)
		*setupval = 1;		/* not understood: the safe answer */
	else if (n != NULL && compile(L, fnidx, n, &fp) == 0)
		p = lua_touserdata(L, -1);
	if (n == NULL) {
		lua_settop(L, top);
		return NULL;
	}
	if (p == NULL)
		lua_pushnil(L);
	lua_replace(L, top + 1);	/* over the function's copy */
	lua_settop(L, top + 1);
	return p;
}

/* }====== */

/* {====== evaluating */

void
rowval_push(lua_State *L, const struct rowval *v)
{
	switch (v->type) {
	case LUA_TBOOLEAN:
		lua_pushboolean(L, (int)v->i);
		break;
	case LUA_TNUMBER:
		if (v->isint)
			lua_pushinteger(L, v->i);
		else
			lua_pushnumber(L, v->n);
		break;
	default:
		lua_pushnil(L);
	}
}

#define MAXINTFITSF	((lua_Unsigned)1 << 53)
#define INTFITSF(i)	(MAXINTFITSF + (lua_Unsigned)(i) <= 2 * MAXINTFITSF)

/* luaV_flttointns(n, F2Ieq): n as an integer if it is one. */
static int
flt_int(lua_Number n, lua_Integer *ip)
{
	if (floor(n) != n)
		return 0;
	if (n >= (lua_Number)LUA_MININTEGER &&
	    n < -(lua_Number)LUA_MININTEGER) {
		*ip = (lua_Integer)n;
		return 1;
	}
	return 0;
}

/* luaV_equalobj without metamethods; -1: not a value compiled here. */
static int
equal(const struct rval *a, const struct rval *b)
{
	lua_Integer i;

	if (a->t == V_UNDEF || a->t == V_ROW || b->t == V_UNDEF ||
	    b->t == V_ROW)
		return -1;
	if (a->t == V_INT && b->t == V_FLT)
		return flt_int(b->u.n, &i) && i == a->u.i;
	if (a->t == V_FLT && b->t == V_INT)
		return flt_int(a->u.n, &i) && i == b->u.i;
	if (a->t != b->t)
		return 0;
	switch (a->t) {
	case V_NIL:
		return 1;
	case V_FLT:
		return a->u.n == b->u.n;
	default:		/* V_BOOL, V_INT */
		return a->u.i == b->u.i;
	}
}

/* a < b (le: a <= b) for numbers (lvm.c LTnum, LEnum); -1: otherwise,
 * or an integer beyond 2^53 against a float (left to the VM). */
static int
less(const struct rval *a, const struct rval *b, int le)
{
	lua_Number x, y;

	if (a->t == V_INT && b->t == V_INT)
		return le ? a->u.i <= b->u.i : a->u.i < b->u.i;
	if (a->t == V_INT && b->t == V_FLT) {
		if (!INTFITSF(a->u.i))
			return -1;
		x = (lua_Number)a->u.i;
		y = b->u.n;
	} else if (a->t == V_FLT && b->t == V_INT) {
		if (!INTFITSF(b->u.i))
			return -1;
		x = a->u.n;
		y = (lua_Number)b->u.i;
	} else if (a->t == V_FLT && b->t == V_FLT) {
		x = a->u.n;
		y = b->u.n;
	} else
		return -1;
	return le ? x <= y : x < y;
}

/* R[A] op immediate (LTI and co.); -1: not a number. */
static int
less_imm(const struct rval *a, int im, int op)
{
	lua_Number x;

	if (a->t == V_INT) {
		switch (op) {
		case OP_LTI:	return a->u.i < im;
		case OP_LEI:	return a->u.i <= im;
		case OP_GTI:	return a->u.i > im;
		default:	return a->u.i >= im;
		}
	}
	if (a->t != V_FLT)
		return -1;
	x = a->u.n;
	switch (op) {
	case OP_LTI:	return x < (lua_Number)im;
	case OP_LEI:	return x <= (lua_Number)im;
	case OP_GTI:	return x > (lua_Number)im;
	default:	return x >= (lua_Number)im;
	}
}

static int
tonum(const struct rval *v, lua_Number *np)
{
	if (v->t == V_FLT)
		*np = v->u.n;
	else if (v->t == V_INT)
		*np = (lua_Number)v->u.i;
	else
		return 0;
	return 1;
}

/*
 * The arithmetic opcodes (op: the register form, OP_ADD...OP_IDIV) as
 * lvm.c does them: integers stay integers (wrapping) but for / and ^.
 * Returns 0 when the VM would go to a metamethod or raise an error.
 */
static int
arith(int op, const struct rval *a, const struct rval *b, struct rval *o)
{
	lua_Unsigned x, y;
	lua_Integer i, j, q;
	lua_Number m, n, r;

	if (op != OP_DIV && op != OP_POW && a->t == V_INT && b->t == V_INT) {
		i = a->u.i;
		j = b->u.i;
		x = (lua_Unsigned)i;
		y = (lua_Unsigned)j;
		switch (op) {
		case OP_ADD:
			q = (lua_Integer)(x + y);
			break;
		case OP_SUB:
			q = (lua_Integer)(x - y);
			break;
		case OP_MUL:
			q = (lua_Integer)(x * y);
			break;
		case OP_MOD:		/* luaV_mod */
			if (j == 0)
				return 0;	/* "attempt to perform 'n%%0'" */
			if (j == -1)
				q = 0;
			else {
				q = i % j;
				if (q != 0 && (q ^ j) < 0)
					q += j;
			}
			break;
		default:		/* OP_IDIV: luaV_idiv */
			if (j == 0)
				return 0;
			if (j == -1)
				q = (lua_Integer)(0u - x);
			else {
				q = i / j;
				if ((i ^ j) < 0 && i % j != 0)
					q -= 1;
			}
			break;
		}
		o->t = V_INT;
		o->u.i = q;
		return 1;
	}
	if (!tonum(a, &m) || !tonum(b, &n))
		return 0;
	switch (op) {
	case OP_ADD:
		r = m + n;
		break;
	case OP_SUB:
		r = m - n;
		break;
	case OP_MUL:
		r = m * n;
		break;
	case OP_DIV:
		r = m / n;
		break;
	case OP_POW:
		r = n == 2 ? m * m : pow(m, n);
		break;
	case OP_MOD:		/* luai_nummod: fmod, floored when the
				   remainder and n differ in sign */
		r = fmod(m, n);
		if (r > 0 ? n < 0 : (r < 0 && n > 0))
			r += n;
		break;
	default:		/* OP_IDIV: luai_numidiv */
		r = floor(m / n);
		break;
	}
	o->t = V_FLT;
	o->u.n = r;
	return 1;
}

/* A row field as rowfn_push_value() would present it. */
static inline int
field(const struct rins *ri, uint32_t row, struct rval *o)
{
	const struct table_colview *v = ri->v;
	const struct dcol *d = ri->dc;
	double x;

	if (v != NULL) {
		if (table_isnull(v, row)) {
			o->t = V_NIL;
			return 1;
		}
		switch (v->type) {
		case VEIL_T_INT:
			o->t = V_INT;
			o->u.i = ((const int64_t *)v->data)[row];
			return 1;
		case VEIL_T_FLOAT:
			o->t = V_FLT;
			o->u.n = ((const double *)v->data)[row];
			return 1;
		default:		/* VEIL_T_BOOL */
			o->t = V_BOOL;
			o->u.i = ((const uint8_t *)v->data)[row] != 0;
			return 1;
		}
	}
	switch (d->tag[row]) {
	case D_NUM:
		x = d->num[row];
		if (x > -9.0e15 && x < 9.0e15 &&
		    x == (double)(lua_Integer)x) {
			o->t = V_INT;
			o->u.i = (lua_Integer)x;
		} else {
			o->t = V_FLT;
			o->u.n = x;
		}
		return 1;
	case D_BOOL:
		o->t = V_BOOL;
		o->u.i = d->num[row] != 0;
		return 1;
	case D_MISSING:
		o->t = V_NIL;
		return 1;
	default:
		return 0;	/* strings */
	}
}

/* Lua truthiness; -1: not a value compiled here. */
static inline int
truthy(const struct rval *v)
{
	switch (v->t) {
	case V_NIL:
		return 0;
	case V_BOOL:
		return v->u.i != 0;
	case V_INT:
	case V_FLT:
	case V_ROW:
		return 1;
	default:
		return -1;
	}
}

int
rowprog_eval(const struct rowprog *p, uint32_t row, struct rowval *v)
{
	struct rval R[256], *ra, *rb, kv;
	const struct rins *ins;
	uint32_t pc = 0;
	unsigned int j;
	int cond;

	R[0].t = p->nparams > 0 ? V_ROW : V_UNDEF;
	for (j = 1; j < p->nregs; j++)
		R[j].t = V_UNDEF;
	for (;;) {
		ins = &p->ins[pc];
		ra = &R[ins->a];
		switch (ins->op) {
		case OP_MOVE:
			*ra = R[ins->b];
			pc++;
			continue;
		case OP_LOADI:
			ra->t = V_INT;
			ra->u.i = ins->x;
			pc++;
			continue;
		case OP_LOADF:
			ra->t = V_FLT;
			ra->u.n = (lua_Number)ins->x;
			pc++;
			continue;
		case OP_LOADK:
			*ra = p->k[ins->x];
			pc++;
			continue;
		case OP_LOADFALSE:
			ra->t = V_BOOL;
			ra->u.i = 0;
			pc++;
			continue;
		case OP_LFALSESKIP:
			ra->t = V_BOOL;
			ra->u.i = 0;
			pc += 2;
			continue;
		case OP_LOADTRUE:
			ra->t = V_BOOL;
			ra->u.i = 1;
			pc++;
			continue;
		case OP_LOADNIL:
			for (j = 0; j <= ins->b; j++)
				ra[j].t = V_NIL;
			pc++;
			continue;
		case OP_GETUPVAL:
			*ra = p->up[ins->b];
			pc++;
			continue;
		case OP_GETFIELD:
			if (R[ins->b].t != V_ROW || !field(ins, row, ra))
				return 0;
			pc++;
			continue;
		case OP_ADDI:
			kv.t = V_INT;
			kv.u.i = ins->x;
			if (!arith(OP_ADD, &R[ins->b], &kv, ra))
				return 0;
			pc += 2;	/* over the MMBINI */
			continue;
		case OP_ADDK: case OP_SUBK: case OP_MULK: case OP_MODK:
		case OP_POWK: case OP_DIVK: case OP_IDIVK:
			if (!arith(ins->d, &R[ins->b], &p->k[ins->c], ra))
				return 0;
			pc += 2;	/* over the MMBINK */
			continue;
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_MOD:
		case OP_POW: case OP_DIV: case OP_IDIV:
			if (!arith(ins->op, &R[ins->b], &R[ins->c], ra))
				return 0;
			pc += 2;	/* over the MMBIN */
			continue;
		case OP_UNM:
			rb = &R[ins->b];
			if (rb->t == V_INT) {
				ra->t = V_INT;
				ra->u.i = (lua_Integer)(0u -
				    (lua_Unsigned)rb->u.i);
			} else if (rb->t == V_FLT) {
				ra->t = V_FLT;
				ra->u.n = -rb->u.n;
			} else
				return 0;
			pc++;
			continue;
		case OP_NOT:
			if ((cond = truthy(&R[ins->b])) < 0)
				return 0;
			ra->t = V_BOOL;
			ra->u.i = !cond;
			pc++;
			continue;
		case OP_JMP:
			pc = ins->j;
			continue;
		case OP_EQ:
			cond = equal(ra, &R[ins->b]);
			break;
		case OP_LT:
		case OP_LE:
			cond = less(ra, &R[ins->b], ins->op == OP_LE);
			break;
		case OP_EQK:
			cond = equal(ra, &p->k[ins->b]);
			break;
		case OP_EQI:
			if (ra->t == V_INT)
				cond = ra->u.i == ins->x;
			else if (ra->t == V_FLT)
				cond = ra->u.n == (lua_Number)ins->x;
			else
				cond = ra->t == V_UNDEF ? -1 : 0;
			break;
		case OP_LTI: case OP_LEI: case OP_GTI: case OP_GEI:
			cond = less_imm(ra, ins->x, ins->op);
			break;
		case OP_TEST:
			cond = truthy(ra);
			break;
		case OP_TESTSET:
			rb = &R[ins->b];
			if ((cond = truthy(rb)) < 0)
				return 0;
			if (cond == ins->k) {
				*ra = *rb;
				pc = ins->j;
			} else
				pc += 2;
			continue;
		case OP_RETURN:
			if (ins->b == 1) {
				v->type = LUA_TNIL;
				return 1;
			}
			/* FALLTHROUGH */
		case OP_RETURN1:
			switch (ra->t) {
			case V_NIL:
				v->type = LUA_TNIL;
				return 1;
			case V_BOOL:
				v->type = LUA_TBOOLEAN;
				v->i = ra->u.i;
				return 1;
			case V_INT:
				v->type = LUA_TNUMBER;
				v->isint = 1;
				v->i = ra->u.i;
				return 1;
			case V_FLT:
				v->type = LUA_TNUMBER;
				v->isint = 0;
				v->n = ra->u.n;
				return 1;
			default:
				return 0;
			}
		case OP_RETURN0:
			v->type = LUA_TNIL;
			return 1;
		default:	/* OPX_FAIL */
			return 0;
		}
		/* a condition: skip its jump, or take it */
		if (cond < 0)
			return 0;
		if (ins->fuse) {
			R[ins->d].t = V_BOOL;
			R[ins->d].u.i = cond == ins->k;
			pc += 4;
		} else if (cond != ins->k)
			pc += 2;
		else
			pc = ins->j;
	}
}

/* }====== */
