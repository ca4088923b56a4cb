/* Shared by the example's C and C++ sources, so a header edit reaches both. */
#ifndef MIXED_H
#define MIXED_H

#include <stddef.h>
#include <stdint.h>

#define MIXED_ADLER_MOD 65521u

#ifdef __cplusplus
extern "C" {
#endif

uint32_t mixed_adler32(const unsigned char *data, size_t len);
int64_t mixed_sum_squares(const int32_t *values, size_t len);
size_t mixed_count_words(const char *text);

#ifdef __cplusplus
}
#endif

#endif
