/*
 * schema.h: the schema file of DESIGN.md ("Schema and policy files").
 *
 * A schema is a Lua data file (see luadata.h) describing a data set's
 * columns: name, type, role, de-identification action, declared range and
 * values, generalization hierarchy, classification level. schema_load_*
 * validates every field and names the file, the column (index and name)
 * and what was expected in every error.
 */
#ifndef VEIL_SCHEMA_H
#define VEIL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hierarchy.h"
#include "table.h"

#define SCHEMA_UNIT_ROW		"@row"	/* each row is its own unit */
#define SCHEMA_MAX_VALUES	65536

enum schema_action {
	SCHEMA_A_KEEP = 0,	/* non-identifiers */
	SCHEMA_A_DROP,
	SCHEMA_A_PSEUDONYMIZE,
	SCHEMA_A_MASK,
};

struct schema_column {
	char			*name;
	enum veil_type		 type;		/* storage type */
	int			 text;		/* declared as type "text" */
	enum veil_role		 role;
	enum schema_action	 action;
	int			 has_range;
	int64_t			 ilo, ihi;	/* int, date (days) */
	double			 flo, fhi;	/* float */
	char			**values;	/* category: declared domain */
	size_t			 nvalues;
	struct hierarchy	*hier;
	int			 shift_unit;	/* date: shift per unit */
	int			 shift_days;	/* ... within +-shift_days */
	int			 scrub;		/* text: scrub PII */
	int			 level;		/* classification 0-4 */
	int			 required;	/* empty field is an error */
	unsigned int		 mask_prefix, mask_suffix;
	unsigned int		 pseudo_len;	/* hex characters */
};

struct schema {
	char			*name;
	char			*path;
	char			*unit;		/* column name or "@row" */
	int			 unit_col;	/* -1 for "@row" */
	struct schema_column	*cols;
	size_t			 ncols;
	char			**ignore;	/* CSV columns to skip */
	size_t			 nignore;
	int			 ignore_unknown;
	int			 delimiter;	/* 0: detect */
};

/*
 * Loads and validates the schema file at path. Hierarchy files named in it
 * are read relative to the schema's directory. Returns 0 with *sp set, or
 * a VEIL_E_* code with err saying what is wrong and where.
 */
int	 schema_load_file(const char *path, struct schema **sp,
	    struct veil_err *err);
/*
 * The same over a buffer. dir is where relative hierarchy files live; if
 * NULL, a schema that names a hierarchy file is refused.
 */
int	 schema_load_buffer(const char *src, size_t len, const char *name,
	    const char *dir, struct schema **sp, struct veil_err *err);
void	 schema_free(struct schema *);
/* The highest classification level of any column (0: unclassified). */
int	 schema_level(const struct schema *);

/* Index of the column called name (len bytes), or -1. */
int	 schema_find(const struct schema *, const char *name, size_t len);
/* Is name listed in the schema's ignore list? */
int	 schema_ignored(const struct schema *, const char *name, size_t len);

const char *schema_action_name(enum schema_action);

#endif /* VEIL_SCHEMA_H */
