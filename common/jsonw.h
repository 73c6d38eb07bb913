/*
 * jsonw.h: the few JSON-writing helpers veil's --json output needs.
 */
#ifndef VEIL_JSONW_H
#define VEIL_JSONW_H

#include <stddef.h>
#include <stdio.h>

/* Writes the len bytes at p as a JSON string (quotes included). */
void	 jsonw_str(FILE *, const char *p, size_t len);
/* Writes a finite double so that it reads back to the same value. */
void	 jsonw_num(FILE *, double);

struct msgpack_object;
/* Writes a msgpack object as JSON (map keys must be strings). */
void	 jsonw_msgpack(FILE *, const struct msgpack_object *);

#endif /* VEIL_JSONW_H */
