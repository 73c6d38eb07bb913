/*
 * dp.h: the differentially private release (policies/): noise from the
 * exact samplers (sampler.h) added to a worker's exact partial aggregates.
 *
 * The job's epsilon is split across its releases: a release that names
 * its own ({ epsilon = E }) gets E, the others share the rest equally
 * (all amounts in exact nano-epsilons, rounded down). Sensitivities come
 * from the contribution bound (max_rows_per_unit = m) and the clamping
 * bounds: a count vector moves by at most m in L1 (and L2), a sum by m
 * times the largest |bound|.
 *
 *   count      n + noise (clamped at 0)
 *   sum        fixed-point sum + integer noise, on its 2^-k grid
 *   mean       noisy sum / noisy count (epsilon halved), clamped to bounds
 *   histogram  every bin, below and above, noisy (one L1 vector)
 *   quantile   noisy binary search over 256 bins of [lo, hi] (epsilon in
 *              ninths: the count, then eight halvings)
 *   group_by   declared keys (categories with declared values, bools):
 *              every key, empty ones too; other keys: DP partition
 *              selection (noisy distinct-unit counts over a threshold,
 *              needs delta > 0), with half the epsilon
 * Noise is the discrete Laplace (pure epsilon-DP) or, if the policy asks,
 * the discrete Gaussian under zCDP (rho from epsilon and delta).
 */
#ifndef VEIL_DP_H
#define VEIL_DP_H

#include <stdint.h>

#include <msgpack.h>

#include "error.h"
#include "policy.h"
#include "sampler.h"

struct dp_params {
	int64_t		 eps_job;	/* nano-epsilons charged for the job */
	double		 delta;
	enum policy_noise noise;
	uint32_t	 m;		/* max_rows_per_unit */
	struct sampler	*smp;
};

/*
 * Releases results (the worker's "results" map) with noise into out.
 * Returns 0; VEIL_E_REFUSED when the releases ask for more epsilon than
 * the job has, or need delta the policy does not give; or another code.
 */
int	 dp_release(const msgpack_object *results, const struct dp_params *,
	    msgpack_packer *out, struct veil_err *err);

#endif /* VEIL_DP_H */
