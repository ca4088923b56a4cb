#include "mixed.h"

#include <numeric>
#include <sstream>
#include <string>
#include <vector>

extern "C" int64_t mixed_sum_squares(const int32_t *values, size_t len) {
    std::vector<int64_t> v(values, values + len);
    return std::accumulate(v.begin(), v.end(), int64_t{0},
                           [](int64_t acc, int64_t x) { return acc + x * x; });
}

extern "C" size_t mixed_count_words(const char *text) {
    std::istringstream in{std::string(text)};
    std::string word;
    size_t n = 0;
    while (in >> word) {
        n++;
    }
    return n;
}
