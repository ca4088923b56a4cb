#include "helper.h"

int32_t helper_scale(int32_t x) { return x * HELPER_SCALE; }
