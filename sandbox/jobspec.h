/*
 * jobspec.h: the job frame a parent sends veil-worker for a buyer's Lua
 * job, and the limits it runs under, both from the data set's policy.
 * Shared by `veil run` and veild so the two run jobs identically.
 */
#ifndef VEIL_JOBSPEC_H
#define VEIL_JOBSPEC_H

#include <stddef.h>

#include <msgpack.h>

#include "policy.h"
#include "spawner.h"

/*
 * Packs the length-prefixed job frame (kind "lua", one table named
 * "dataset") into sb. Returns 0, or -1 if the frame would pass 4 GiB.
 */
int	 jobspec_frame(msgpack_sbuffer *sb, const char *src, size_t len,
	    const struct policy *p, int mock);
/* The worker's limits under p. */
void	 jobspec_limits(const struct policy *p, struct spawner_limits *lim);

#endif /* VEIL_JOBSPEC_H */
