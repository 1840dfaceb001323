#include <cstdio>
void done() { dprintf(2, "done\n"); }
