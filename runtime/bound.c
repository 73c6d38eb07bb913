/*
 * bound.c: privacy units and contribution bounding, before any buyer code
 * runs. Every row gets a dense unit id (the unit column's value, or the
 * row itself for "@row"); a unit with more than max_rows_per_unit rows
 * keeps that many, chosen uniformly at random with the kernel's CSPRNG.
 * The kept rows come out grouped by unit (a counting sort), which later
 * lets one pass count distinct units per group without hashing.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rt_int.h"

struct rnd {
	uint32_t	buf[1024];
	size_t		pos;
};

static uint32_t
rnd32(struct rnd *r)
{
	size_t got = 0;
	ssize_t n;

	if (r->pos == 0 || r->pos >= 1024) {
		while (got < sizeof(r->buf)) {
			n = getrandom((char *)r->buf + got,
			    sizeof(r->buf) - got, 0);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				abort();	/* no randomness: do not guess */
			got += (size_t)n;
		}
		r->pos = 0;
	}
	return r->buf[r->pos++];
}

/* Uniform in [0, n), by rejection: never modulo bias. */
static uint32_t
below(struct rnd *r, uint32_t n)
{
	uint32_t x, lim = UINT32_MAX - UINT32_MAX % n;

	do
		x = rnd32(r);
	while (x >= lim);
	return x % n;
}

/*
 * Unit keys are short (int64s, pseudonyms of 8 to 32 characters): hashed a
 * word at a time, since a byte-serial multiply chain was most of this
 * pass. Not keyed: the keys come from the provider's table, not the buyer.
 */
static uint64_t
hash_bytes(const char *p, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = n * k, w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * k;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	return h ^ (h >> 32);
}

/* Dense unit ids from a string, category or int column. */
static int
unit_ids(struct rt_ctx *c)
{
	/* Codes become unit ids, which index arrays: checked first. */
	const struct table_colview *u = rt_colview(c, c->unit_col);
	uint32_t *ht = NULL, cap, i, j, first;
	const char *p, *q;
	size_t len, qlen;
	uint64_t h;

	if (u->type == VEIL_T_CATEGORY) {
		for (i = 0; i < c->nrows; i++)
			c->unit[i] = table_isnull(u, i) ? UINT32_MAX :
			    ((const uint32_t *)u->data)[i];
		c->nunits = u->dict_n;
		return 0;
	}
	for (cap = 64; cap < 2 * c->nrows; cap *= 2)
		;
	if ((ht = calloc(cap, sizeof(*ht))) == NULL)
		return -1;
	c->nunits = 0;
	for (i = 0; i < c->nrows; i++) {
		if (table_isnull(u, i)) {
			c->unit[i] = UINT32_MAX;
			continue;
		}
		if (u->type == VEIL_T_STRING)
			p = table_str(u, i, &len);
		else {
			p = (const char *)u->data + (size_t)i * 8;
			len = 8;
		}
		h = hash_bytes(p, len);
		for (j = (uint32_t)h & (cap - 1); ht[j] != 0;
		    j = (j + 1) & (cap - 1)) {
			first = ht[j] - 1;
			if (u->type == VEIL_T_STRING)
				q = table_str(u, first, &qlen);
			else {
				q = (const char *)u->data + (size_t)first * 8;
				qlen = 8;
			}
			if (qlen == len && memcmp(p, q, len) == 0)
				break;
		}
		if (ht[j] == 0) {
			ht[j] = i + 1;
			c->unit[i] = c->nunits++;
		} else
			c->unit[i] = c->unit[ht[j] - 1];
	}
	free(ht);
	return 0;
}

int
rt_bound(struct rt_ctx *c)
{
	uint32_t m = c->job->max_rows_per_unit, *off = NULL, *pos = NULL;
	uint32_t *order = NULL, i, k, cnt, u, kept = 0, tmp;
	struct rnd r;
	int rv = -1;

	memset(&r, 0, sizeof(r));
	if (c->unit_col < 0) {		/* each row its own unit: all kept */
		c->base = NULL;
		c->nbase = c->nunits = c->nrows;
		return 0;
	}
	if ((c->base = malloc(((size_t)c->nrows + 1) * sizeof(uint32_t))) ==
	    NULL)
		return -1;
	if ((c->unit = malloc(((size_t)c->nrows + 1) * sizeof(uint32_t))) ==
	    NULL || unit_ids(c) != 0)
		return -1;
	if ((off = calloc((size_t)c->nunits + 2, sizeof(uint32_t))) == NULL ||
	    (pos = calloc((size_t)c->nunits + 1, sizeof(uint32_t))) == NULL ||
	    (order = malloc(((size_t)c->nrows + 1) * sizeof(uint32_t))) ==
	    NULL)
		goto out;
	for (i = 0; i < c->nrows; i++)
		if (c->unit[i] != UINT32_MAX)
			off[c->unit[i] + 1]++;
	for (u = 0; u < c->nunits; u++)
		off[u + 1] += off[u];
	for (i = 0; i < c->nrows; i++)
		if ((u = c->unit[i]) != UINT32_MAX)
			order[off[u] + pos[u]++] = i;
	for (u = 0; u < c->nunits; u++) {
		cnt = off[u + 1] - off[u];
		if (m > 0 && cnt > m) {
			/* Partial Fisher-Yates: a uniform m-subset. */
			uint32_t *g = order + off[u];

			for (k = 0; k < m; k++) {
				i = k + below(&r, cnt - k);
				tmp = g[k];
				g[k] = g[i];
				g[i] = tmp;
			}
			/* back to row order within the unit, for locality */
			for (k = 1; k < m; k++)
				for (i = k; i > 0 && g[i - 1] > g[i]; i--) {
					tmp = g[i];
					g[i] = g[i - 1];
					g[i - 1] = tmp;
				}
			cnt = m;
		}
		memcpy(c->base + kept, order + off[u], cnt * sizeof(uint32_t));
		kept += cnt;
	}
	c->nbase = kept;
	rv = 0;
 out:
	explicit_bzero(&r, sizeof(r));
	free(off);
	free(pos);
	free(order);
	return rv;
}
