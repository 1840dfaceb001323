#include <fmt/format.h>
void done(int n) { fmt::print(stderr, "{} bytes\n", n); }
