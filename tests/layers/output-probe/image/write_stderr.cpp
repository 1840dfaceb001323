#include <unistd.h>
void newline() { ::write(STDERR_FILENO, "\n", 1); }
