/*
 * rt.h: runs one buyer job inside veil-worker (runtime/).
 *
 * rt_run() evaluates the job's Lua chunk in a fresh restricted state
 * (luastate.h), with veil.dataset() bound to the granted table, evaluates
 * the aggregations the chunk returns with C kernels, and packs the exact
 * partial aggregates (with what the release engine needs: bounds, group
 * sizes in distinct units, contribution bounds) into a msgpack map.
 * Noise is never added here: the parent releases.
 */
#ifndef VEIL_RT_H
#define VEIL_RT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "table.h"

/* Release modes (policy), as far as the worker needs to know them. */
enum rt_mode {
	RT_MODE_DP = 0,
	RT_MODE_THRESHOLD,
	RT_MODE_NONE,
};

struct rt_job {
	const char	*source;
	size_t		 source_len;
	const char	*name;		/* chunk name in messages */
	enum rt_mode	 mode;
	int		 mock;		/* the data is mock data */
	uint32_t	 max_rows_per_unit;	/* 0: no bound */
	size_t		 mem_limit;	/* Lua heap bytes */
	uint32_t	 row_insns;	/* per-row instruction cap */
	int		 log_fd;
	/*
	 * The table is a mapping made for this job, its pages not yet in
	 * the page tables: a pass over a whole column first maps the
	 * column's pages in one call (rt_prefault()), which costs less
	 * than a fault every 16 pages.
	 */
	int		 prefault;
	/*
	 * The table was opened with table_open_lazy() and a column the
	 * job reads holds a non-finite float or a code outside its
	 * dictionary: called with the reason, must not return (NULL:
	 * abort()).
	 */
	void		(*corrupt)(const char *msg);
};

#define RT_ROW_INSNS_DEFAULT	100000

struct rt_stats {
	uint64_t	rows;		/* in the table */
	uint64_t	rows_kept;	/* after contribution bounding */
	uint64_t	units;
	uint64_t	row_errors;	/* row functions that failed */
	uint64_t	row_overruns;	/* row functions over their cap */
	uint64_t	row_compiled;	/* row function calls answered by
					   the compiled form (rowprog.c) */
	uint64_t	lua_bytes;	/* Lua heap at the end */
};

/* Job failure classes (worker_proto.h's result "class"). */
enum rt_fail {
	RT_OK = 0,
	RT_SYNTAX,
	RT_RUNTIME,
	RT_MEMORY,
	RT_CPU,
	RT_RESULT,	/* returned something that is not aggregations */
	RT_INTERNAL,
};

const char	*rt_fail_class(enum rt_fail);

/*
 * Runs the job over t. On RT_OK, *pk has received one map (name ->
 * partial aggregate). Otherwise msg holds the reason (which the parent
 * may withhold). stats is filled either way.
 */
enum rt_fail	 rt_run(const struct rt_job *, const struct table *t,
		    msgpack_packer *pk, char *msg, size_t msglen,
		    struct rt_stats *stats);

/* Called from the worker's CPU timer signal handler. */
void		 rt_cpu_expired(void);

#endif /* VEIL_RT_H */
