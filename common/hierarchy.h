/*
 * hierarchy.h: generalization hierarchies for quasi-identifiers.
 *
 * Four kinds, as the schema declares them:
 *   interval  numeric widths, each a multiple of the one below
 *             ({ interval = {5, 10, 20} }: 37 -> [35,40) -> [30,40) -> ...)
 *   mask      characters masked from the right ({ mask = {1, 2, 3} })
 *   date      calendar levels ({ "month", "year" })
 *   table     an explicit tree, one line per original value listing its
 *             generalizations level by level (CSV file or inline rows)
 * Every kind ends in full suppression ("*"), which is the top level.
 * Level 0 is the original value; hierarchy_nlevels() counts it and "*".
 */
#ifndef VEIL_HIERARCHY_H
#define VEIL_HIERARCHY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define HIER_MAX_LEVELS		32
#define HIER_MAX_LEAVES		1000000

enum hier_kind {
	HIER_INTERVAL = 1,
	HIER_MASK,
	HIER_DATE,
	HIER_TABLE,
};

enum hier_date {
	HIER_D_MONTH = 1,
	HIER_D_QUARTER,
	HIER_D_YEAR,
	HIER_D_DECADE,
};

struct hierarchy;

/*
 * The constructors check well-formedness and return NULL with err set
 * (the message starts with what, e.g. "schema.lua: column 4 (age)").
 */
struct hierarchy *hierarchy_new_interval(const double *widths, size_t n,
	    int integral, const char *what, struct veil_err *err);
struct hierarchy *hierarchy_new_mask(const int64_t *chars, size_t n,
	    const char *what, struct veil_err *err);
struct hierarchy *hierarchy_new_date(const enum hier_date *levels, size_t n,
	    const char *what, struct veil_err *err);
/* Parses "month", "quarter", "year" or "decade"; returns 0 if unknown. */
enum hier_date	 hierarchy_date_level(const char *name);
const char	*hierarchy_date_name(enum hier_date);

/*
 * Table hierarchies are built row by row, then checked: every row has the
 * same number of levels (at least 2), original values are unique, each
 * value at a level maps to one value at the next (it is a tree), and the
 * last level holds a single value (the root).
 */
struct hierarchy *hierarchy_table_new(void);
int	 hierarchy_table_add(struct hierarchy *, const char *const *cells,
	    const size_t *lens, size_t n, const char *what, uint64_t line,
	    struct veil_err *err);
int	 hierarchy_table_finish(struct hierarchy *, const char *what,
	    struct veil_err *err);
/* Reads a table hierarchy from a CSV file (no header; ',' ';' or tab). */
struct hierarchy *hierarchy_load_csv(const char *path, struct veil_err *err);

void	 hierarchy_free(struct hierarchy *);

enum hier_kind	 hierarchy_kind(const struct hierarchy *);
/* Levels including the original (0) and the top ("*"). */
int		 hierarchy_nlevels(const struct hierarchy *);
/* interval widths, mask counts or date levels: levels 1..n */
const double	*hierarchy_widths(const struct hierarchy *, size_t *np);
const int64_t	*hierarchy_masks(const struct hierarchy *, size_t *np);
const enum hier_date *hierarchy_dates(const struct hierarchy *, size_t *np);

/* table: the number of original values, lookup, and cells. */
size_t		 hierarchy_nleaves(const struct hierarchy *);
/* Returns the row of the original value p, or -1. */
long		 hierarchy_find(const struct hierarchy *, const char *p,
		    size_t len);
const char	*hierarchy_cell(const struct hierarchy *, size_t row, int level,
		    size_t *lenp);

#endif /* VEIL_HIERARCHY_H */
