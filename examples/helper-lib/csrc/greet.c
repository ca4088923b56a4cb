#include <stdio.h>
#include "helper.h"

size_t helper_greet(char *out, size_t cap, const char *name) {
    int n = snprintf(out, cap, "hello, %s", name);
    return n < 0 ? 0 : (size_t)n;
}
