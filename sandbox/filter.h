/*
 * filter.h: veil-worker's seccomp filter as BPF, generated at build time
 * by filter_gen.c (see there for the policy).
 */
#ifndef VEIL_FILTER_H
#define VEIL_FILTER_H

#include <linux/filter.h>
#include <stddef.h>

extern const struct sock_filter	filter_bpf[];
extern const size_t		filter_bpf_len;

#endif /* VEIL_FILTER_H */
