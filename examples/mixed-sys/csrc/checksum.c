#include "mixed.h"

uint32_t mixed_adler32(const unsigned char *data, size_t len) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < len; i++) {
        a = (a + data[i]) % MIXED_ADLER_MOD;
        b = (b + a) % MIXED_ADLER_MOD;
    }
    return (b << 16) | a;
}
