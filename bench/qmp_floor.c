// qmp_floor: the least a QMP client can do, as make bench's floor for
// vmctl status/suspend/resume: connect, read the greeting, negotiate
// capabilities, run one command, print its outcome, exit. Plain C and libc
// only, so that what it costs is the socket round trips and a process.
//
// Usage: qmp_floor SOCKET [COMMAND]   COMMAND defaults to query-status
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// A stuck QEMU must fail the bench, not hang it.
enum { READ_TIMEOUT_MS = 5000 };

static char buffer[65536];
static size_t filled;    // bytes read into buffer
static size_t consumed;  // bytes of the line returned last, newline included

// The next line QEMU sends, NUL-terminated; NULL on timeout, EOF or error.
static char* read_line(int fd) {
  memmove(buffer, buffer + consumed, filled - consumed);
  filled -= consumed;
  consumed = 0;
  for (;;) {
    char* newline = memchr(buffer, '\n', filled);
    if (newline) {
      *newline = '\0';
      consumed = (size_t)(newline - buffer) + 1;
      return buffer;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (filled == sizeof buffer - 1 || poll(&p, 1, READ_TIMEOUT_MS) != 1) return NULL;
    ssize_t n = read(fd, buffer + filled, sizeof buffer - 1 - filled);
    if (n <= 0) return NULL;
    filled += (size_t)n;
  }
}

// The next line that is not an event: QEMU may send events (STOP, RESUME…)
// at any time, before the reply we wait for.
static char* read_reply(int fd) {
  char* line = read_line(fd);
  while (line && strstr(line, "\"event\"")) line = read_line(fd);
  if (!line) {
    fprintf(stderr, "qmp_floor: no reply from QEMU\n");
  } else if (strstr(line, "\"error\"")) {
    fprintf(stderr, "qmp_floor: %s\n", line);
    return NULL;
  }
  return line;
}

static int execute(int fd, const char* command) {
  char message[256];
  int length = snprintf(message, sizeof message, "{\"execute\":\"%s\"}\n", command);
  // MSG_NOSIGNAL: a QEMU gone away is an error to report, not SIGPIPE.
  return send(fd, message, (size_t)length, MSG_NOSIGNAL) == length;
}

static int connect_to(const char* path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) return -1;
  strcpy(address.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr*)&address, sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Prints the reply's "status" value when it has one (query-status), else the reply.
static void print_outcome(const char* reply) {
  const char* value = strstr(reply, "\"status\"");
  if (value) value += strlen("\"status\"") + strspn(value + strlen("\"status\""), " :");
  const char* end = value && *value == '"' ? strchr(value + 1, '"') : NULL;
  if (end) {
    printf("%.*s\n", (int)(end - value - 1), value + 1);
  } else {
    printf("%s\n", reply);
  }
}

int main(int argc, char** argv) {
  const char* command = argc > 2 ? argv[2] : "query-status";
  // The command goes into JSON unquoted: allow only what QMP command names use.
  if (argc < 2 || argc > 3 || command[strspn(command, "abcdefghijklmnopqrstuvwxyz0123456789-_")] != '\0' ||
      strlen(command) > 64) {
    fprintf(stderr, "usage: %s SOCKET [COMMAND]\n", argv[0]);
    return 2;
  }
  int fd = connect_to(argv[1]);
  if (fd < 0) {
    fprintf(stderr, "qmp_floor: cannot connect to %s\n", argv[1]);
    return 1;
  }
  const char* reply = NULL;
  if (read_reply(fd) && execute(fd, "qmp_capabilities") && read_reply(fd) && execute(fd, command)) {
    reply = read_reply(fd);
  }
  if (reply) print_outcome(reply);
  close(fd);
  return reply ? 0 : 1;
}
