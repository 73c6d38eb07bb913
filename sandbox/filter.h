/*
 * filter.h: veil-worker's seccomp filters as BPF, generated at build time
 * by filter_gen.c (see there for the policy): the job filter, and the
 * fork server's, a superset that children stack the job filter on.
 */
#ifndef VEIL_FILTER_H
#define VEIL_FILTER_H

#include <linux/filter.h>
#include <stddef.h>

extern const struct sock_filter	filter_bpf[];
extern const size_t		filter_bpf_len;
extern const struct sock_filter	filter_zygote_bpf[];
extern const size_t		filter_zygote_bpf_len;

#endif /* VEIL_FILTER_H */
