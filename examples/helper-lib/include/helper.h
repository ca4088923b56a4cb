#ifndef HELPER_H
#define HELPER_H
#include <stddef.h>
#include <stdint.h>

#define HELPER_SCALE 3

#ifdef __cplusplus
extern "C" {
#endif
uint32_t helper_checksum(const uint8_t *data, size_t len);
int32_t helper_scale(int32_t x);
size_t helper_greet(char *out, size_t cap, const char *name);
size_t helper_count_words(const char *text);
#ifdef __cplusplus
}
#endif
#endif
