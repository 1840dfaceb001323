#include <cstdio>
void done() { printf("done\n"); }
