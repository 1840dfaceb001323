#include <cstdio>
void done() { std::puts("done"); }
