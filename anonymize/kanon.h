/*
 * kanon.h: optimal full-domain generalization (anonymize/): every
 * quasi-identifier is generalized to one level of its hierarchy, the same
 * level for all records; records whose equivalence class is too small (or
 * fails l-diversity or t-closeness) are suppressed, at most limit x N of
 * them; among the feasible level vectors the one with the least
 * information loss wins.
 *
 * Information loss is non-uniform entropy, as ../shared/data/adult/README.md
 * defines it: over quasi-identifiers and all records (suppressed ones
 * too, at the node's levels, as ARX scores them: this reproduces its
 * reference results exactly), -log2(freq(original) / freq(generalized)),
 * frequencies over the whole input. The loss metric (LM) is the second
 * option.
 *
 * Ties are broken deterministically: least loss, then least height (sum of
 * levels), then the lexicographically smallest level vector in schema
 * column order.
 */
#ifndef VEIL_KANON_H
#define VEIL_KANON_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "schema.h"
#include "table.h"

#define KANON_MAX_QI	32

enum kanon_ldiv {
	KANON_L_NONE = 0,
	KANON_L_DISTINCT,	/* at least l distinct sensitive values */
	KANON_L_ENTROPY,	/* entropy of the values >= log(l) */
	KANON_L_RECURSIVE,	/* (c, l): r1 < c (r_l + ... + r_m) */
};

enum kanon_metric {
	KANON_M_ENTROPY = 0,	/* non-uniform entropy */
	KANON_M_LOSS,		/* the loss metric (LM), normalized */
};

struct kanon_params {
	uint32_t		k;
	double			limit;		/* suppression, fraction of N */
	enum kanon_ldiv		ldiv;
	double			l, c;		/* l; c for recursive */
	int			ldiv_col;	/* table column, -1: none */
	double			t;		/* t-closeness, 0: none */
	int			t_col;		/* table column, -1: none */
	enum kanon_metric	metric;
	int			brute_force;	/* evaluate every node */
};

struct kanon_result {
	int		 nqi;
	int		 qi[KANON_MAX_QI];	/* table columns */
	int		 levels[KANON_MAX_QI];
	int		 top[KANON_MAX_QI];	/* highest level per QI */
	uint64_t	 nodes, evaluated;
	uint64_t	 suppressed, records, classes;
	double		 loss;			/* the chosen metric */
	double		 entropy_loss, lm_loss;
	int		 found;			/* a feasible node exists */
	uint64_t	 min_class, uniques_before, uniques_after;
	double		 risk_max, risk_avg, risk_share;	/* prosecutor */
	uint64_t	 hist[8];	/* class sizes 1, 2, 3-4, 5-9, 10-19,
					   20-49, 50-99, >=100 (records) */
};

struct kanon;

/*
 * Prepares the search over t's quasi-identifiers as s declares them
 * (every quasi column; its hierarchy, or {original, "*"} without one).
 */
struct kanon	*kanon_new(const struct table *t, const struct schema *s,
		    struct veil_err *err);
void		 kanon_free(struct kanon *);

/* Finds the optimal node. Returns 0 (r->found says whether any was). */
int		 kanon_search(struct kanon *, const struct kanon_params *,
		    struct kanon_result *r, struct veil_err *err);
/*
 * Evaluates one level vector: fills r as kanon_search would for it.
 * Returns 0, VEIL_E_INVALID for levels out of range.
 */
int		 kanon_eval(struct kanon *, const struct kanon_params *,
		    const int *levels, struct kanon_result *r,
		    struct veil_err *err);

/*
 * Marks in supp (one byte per row) the rows that levels suppress under
 * p: 1 suppressed, 0 kept. Returns 0 or VEIL_E_NOMEM.
 */
int		 kanon_mark(struct kanon *, const struct kanon_params *,
		    const int *levels, uint8_t *supp, struct veil_err *err);
/* Number of quasi-identifiers, and QI i's table column and top level. */
int		 kanon_nqi(const struct kanon *);
int		 kanon_qi_column(const struct kanon *, int i);
int		 kanon_qi_levels(const struct kanon *, int i);
/* The generalized label of row's value in QI i at level lv. */
const char	*kanon_label(struct kanon *, int i, int lv, uint64_t row,
		    size_t *lenp);

#endif /* VEIL_KANON_H */
