/*
 * ledger.h: the privacy budget ledger (policies/). Epsilon is kept as an
 * exact integer count of nano-epsilons (1e-9), so that sums and
 * comparisons are exact; a data set has a hard total across all buyers,
 * and each buyer a sub-budget. A charge is checked and recorded in one
 * SQLite transaction (BEGIN IMMEDIATE), so concurrent runs can never
 * spend more than a budget holds. The tables are the daemon's.
 */
#ifndef VEIL_LEDGER_H
#define VEIL_LEDGER_H

#include <stdint.h>

#include "error.h"

#define LEDGER_NANO	1000000000LL	/* units per epsilon */
#define LEDGER_ALL	"*"		/* the data set's own row */

struct ledger;

/* Opens (creating if needed) the ledger in the SQLite file at path. */
struct ledger	*ledger_open(const char *path, struct veil_err *err);
void		 ledger_close(struct ledger *);

/*
 * Charges eps to dataset (total ds_total) and to buyer (sub-budget
 * buyer_total), creating their rows with those totals the first time.
 * Returns 0 and what is left of each; VEIL_E_REFUSED (nothing charged) if
 * either would go over, with err saying which; or another VEIL_E_* code.
 */
int	 ledger_charge(struct ledger *, const char *dataset, const char *buyer,
	    int64_t ds_total, int64_t buyer_total, int64_t eps,
	    const char *job, int64_t *ds_left, int64_t *buyer_left,
	    struct veil_err *err);

/* What is left, without charging; -1 for a budget never opened. */
int	 ledger_left(struct ledger *, const char *dataset, const char *buyer,
	    int64_t *left, struct veil_err *err);

/* Nano-epsilons <-> exact decimals ("0.25"). */
int	 ledger_parse(const char *s, int64_t *out);
void	 ledger_format(int64_t nano, char *buf, size_t len);

#endif /* VEIL_LEDGER_H */
