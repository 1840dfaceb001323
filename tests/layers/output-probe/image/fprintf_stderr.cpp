#include <cstdio>
void bar(int percent) { std::fprintf(stderr, "\r%3d%%", percent); }
