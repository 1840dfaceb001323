#include <fmt/format.h>
void done(int n) { fmt::print("{} bytes\n", n); }
