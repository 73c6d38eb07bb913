/*
 * identifiers.h: the per-record de-identification steps of a schema
 * (anonymize/), which `veil run` and `veil anonymize` both apply:
 *   identifiers  drop, pseudonymize (keyed HMAC-SHA256, truncated, stable
 *                under one key so joins still work), mask (keep a prefix
 *                and a suffix: 138****5678);
 *   text         personal data in `scrub` columns replaced by tags
 *                ([ID], [PHONE], [EMAIL], [CARD], [IP]; scrub.h);
 *   dates        `shift = "unit"` columns moved by one offset per person,
 *                uniform in [-shift_days, shift_days], drawn from a keyed
 *                HMAC of the unit, so intervals within a person survive.
 * Produces a new table; other columns are copied unchanged.
 */
#ifndef VEIL_IDENTIFIERS_H
#define VEIL_IDENTIFIERS_H

#include <stddef.h>

#include "error.h"
#include "schema.h"
#include "table.h"

#define ANON_KEY_LEN	32

/*
 * Applies the identifier actions of s to in (whose columns follow the
 * schema's order, as ingestion makes them) under the pseudonymization key.
 * Returns 0 with a new 64-byte aligned table buffer in *bufp (free()), or
 * a VEIL_E_* code with err set.
 */
int	 anon_identifiers(const struct table *in, const struct schema *s,
	    const unsigned char *key, size_t keylen, void **bufp,
	    size_t *lenp, struct veil_err *err);

/* What anon_identifiers() did, for reports. */
struct anon_stats {
	uint64_t	scrubbed[5];	/* findings per kind (scrub.h) */
	uint64_t	shifted;	/* dates moved */
	uint64_t	pseudonymized, masked, dropped_columns;
};
int	 anon_identifiers_stats(const struct table *in, const struct schema *s,
	    const unsigned char *key, size_t keylen, void **bufp,
	    size_t *lenp, struct anon_stats *st, struct veil_err *err);

/* The offset in days for a unit's dates (exposed for tests). */
int	 anon_shift_days(const unsigned char *key, size_t keylen,
	    const char *unit, size_t n, int window);

/* One value: out gets len hex characters of HMAC-SHA256(key, p). */
int	 anon_pseudonym(const unsigned char *key, size_t keylen,
	    const char *p, size_t n, unsigned int len, char *out);
/* Masks p into out (n + 1 bytes or more): keeps prefix and suffix code
 * points, one '*' per code point between; all '*' if too short. */
size_t	 anon_mask(const char *p, size_t n, unsigned int prefix,
	    unsigned int suffix, char *out);

#endif /* VEIL_IDENTIFIERS_H */
