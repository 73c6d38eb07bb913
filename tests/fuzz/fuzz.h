/*
 * fuzz.h: the libFuzzer entry point every fuzz target defines. The same
 * objects link either with libFuzzer (make fuzz) or with replay.c, which
 * feeds them the saved corpus in `make test`.
 */
#ifndef VEIL_FUZZ_H
#define VEIL_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* VEIL_FUZZ_H */
