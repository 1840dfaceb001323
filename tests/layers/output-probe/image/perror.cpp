#include <cstdio>
void failed() { perror("open"); }
