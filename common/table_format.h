/*
 * table_format.h: the on-buffer structures of the table format, shared by
 * the builder (table_build.c) and the validating reader (table.c) only.
 * Everything else goes through table.h.
 */
#ifndef VEIL_TABLE_FORMAT_H
#define VEIL_TABLE_FORMAT_H

#include <stdint.h>

struct tf_header {
	char		magic[8];	/* TABLE_MAGIC with its NUL */
	uint32_t	version;
	uint32_t	ncols;
	uint64_t	nrows;
	uint64_t	size;		/* total buffer length */
	uint64_t	coldir_off;
	uint64_t	reserved[3];	/* zero */
};

struct tf_coldesc {
	uint64_t	name_off;	/* NUL-terminated, name_len bytes */
	uint32_t	name_len;
	uint8_t		type;
	uint8_t		role;
	uint16_t	flags;
	uint64_t	nulls_off;	/* 0: no null bitmap */
	uint64_t	data_off;
	uint64_t	heap_off;
	uint64_t	heap_len;
	uint64_t	dict_off;	/* category only, else 0 */
	uint32_t	dict_n;
	uint32_t	reserved;	/* zero */
};

_Static_assert(sizeof(struct tf_header) == 64, "header is 64 bytes");
_Static_assert(sizeof(struct tf_coldesc) == 64, "descriptor is 64 bytes");

/* Bytes of the value array of a column of type t with n rows. */
static inline uint64_t
tf_data_len(int t, uint64_t n)
{
	switch (t) {
	case 1: case 2:		return 8 * n;		/* int, float */
	case 3:			return n;		/* bool */
	case 4: case 6:		return 4 * n;		/* category, date */
	case 5:			return 8 * (n + 1);	/* string offsets */
	default:		return 0;
	}
}

static inline uint64_t
tf_align(uint64_t x)
{
	return (x + 63) & ~(uint64_t)63;
}

#endif /* VEIL_TABLE_FORMAT_H */
