/*
 * policy.h: the policy file of DESIGN.md ("Schema and policy files"):
 * who may query a data set, for what, under which release mode, budget
 * and limits. A Lua data file (luadata.h), validated field by field;
 * unknown keys are errors.
 */
#ifndef VEIL_POLICY_H
#define VEIL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum policy_mode {
	POLICY_DP = 0,		/* the default */
	POLICY_THRESHOLD,
	POLICY_EXPORT,
	POLICY_NONE,
};

enum policy_noise {
	POLICY_LAPLACE = 0,	/* pure epsilon-DP, discrete Laplace */
	POLICY_GAUSSIAN,	/* zCDP, discrete Gaussian */
};

struct policy {
	char		*path;
	enum policy_mode mode;
	enum policy_noise noise;
	/* epsilon as written: exact decimal strings, and as doubles */
	char		 eps_job[32], eps_total[32], eps_buyer[32], delta_s[32];
	double		 epsilon_per_job, epsilon_total, epsilon_buyer, delta;
	uint32_t	 max_rows_per_unit;
	uint32_t	 k, l;
	int		 l_kind;	/* 0 distinct, 1 entropy, 2 recursive */
	double		 c;		/* recursive (c, l)-diversity */
	double		 t;		/* t-closeness; 0: not required */
	double		 suppression;	/* fraction of rows, export */
	char		**buyers;
	size_t		 nbuyers;
	char		**purposes;
	size_t		 npurposes;
	uint32_t	 cpu_ms, memory_mb, wall_ms, output_kb;
	int		 export_allowed;
	int32_t		 expires;	/* days; INT32_MAX: never */
	double		 price_per_job, price_per_epsilon;
};

/* The defaults (mode dp, the DESIGN example's values). */
void	 policy_defaults(struct policy *);

/*
 * Loads and validates the policy file at path. Returns 0 with *pp set,
 * or a VEIL_E_* code with err naming the file, the field and what was
 * expected.
 */
int	 policy_load_file(const char *path, struct policy **pp,
	    struct veil_err *err);
int	 policy_load_buffer(const char *src, size_t len, const char *name,
	    struct policy **pp, struct veil_err *err);
/* A policy with the defaults, for runs without a policy file. */
struct policy *policy_new_default(void);
void	 policy_free(struct policy *);

const char *policy_mode_name(enum policy_mode);

/*
 * Raises the policy's minimums to what the data's classification level
 * (1-4, the highest level of any column) requires; see policy.c for the
 * table. Returns the number of fields raised.
 */
int	 policy_apply_level(struct policy *, int level);

#endif /* VEIL_POLICY_H */
