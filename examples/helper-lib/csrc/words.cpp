#include <sstream>
#include <string>
#include <vector>
#include "helper.h"

// Uses the C++ standard library, so the link needs libstdc++: the helper
// must print cc's `rustc-link-lib=stdc++` for this to link.
extern "C" size_t helper_count_words(const char *text) {
    std::istringstream in{std::string(text)};
    std::vector<std::string> words;
    std::string w;
    while (in >> w) words.push_back(w);
    return words.size();
}
