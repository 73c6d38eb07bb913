/*
 * release.h: the release engine (policies/): turns a worker's exact
 * partial aggregates into what may leave, under the policy's mode.
 *
 *   none       exact values (the provider's own analysts)
 *   threshold  exact values of groups (and histogram bins) with at least
 *              k distinct units of the provider's data; the rest are
 *              suppressed and counted
 *   dp         noisy values from exact discrete samplers (dp.c)
 *
 * The worker's results are untrusted: every field is checked, and a
 * malformed result fails the release as a whole.
 */
#ifndef VEIL_RELEASE_H
#define VEIL_RELEASE_H

#include <msgpack.h>

#include "error.h"
#include "policy.h"

/*
 * Releases results (the worker's "results" map) under p into out, one map:
 * name -> { op, col, by, mode, groups: [{ key, value | bins, ... }],
 * suppressed, ... }. Values are decimal strings on their grid (sums,
 * means, quantiles) or integers (counts). Returns 0 or a VEIL_E_* code.
 */
int	 release_results(const msgpack_object *results, const struct policy *p,
	    msgpack_packer *out, struct veil_err *err);

/* Renders the integer in decimal string n divided by 2^k, exactly. */
int	 release_fixed(const char *n, int k, char *out, size_t outlen);

#endif /* VEIL_RELEASE_H */
