// The CLI prints: what the library may not do, vmctl does.
#include <cstdio>
#include <iostream>
#include <spdlog/spdlog.h>
void say(const char* line) { std::fprintf(stdout, "%s\n", line); }
void warn(const char* line) { spdlog::warn("{}", line); std::cerr << line; }
