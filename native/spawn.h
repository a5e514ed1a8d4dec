// Portable description of one fork/exec, prepared entirely before the child
// exists: the child may only read it (it runs without its own memory on Linux).
#pragma once

#include <sys/types.h>

namespace handover {

struct SpawnRequest {
  const char* file;          // passed to execve as is (no PATH search, like Go)
  char* const* argv;         // NULL-terminated
  char* const* envp;         // NULL-terminated
  const char* cwd;           // NULL: inherit
  const int* files;          // files[i] becomes fd i; -1 closes fd i
  int nfiles;
  bool setsid;
  bool setpgid;
  pid_t pgid;
  int pdeathsig;             // 0: none (Linux only)
  // When non-NULL, points at the digits area of a "LISTEN_PID=" entry of envp,
  // listen_pid_len bytes long; the child writes its own pid there before exec.
  char* listen_pid_digits;
  int listen_pid_len;
};

// Where the child (or the parent's own preparation) failed.
struct SpawnFailure {
  int err;                   // positive errno, 0 on success
  const char* syscall;       // static string naming the failed call
};

// Starts the child. Returns its pid, or -1 with `failure` filled in; in that
// case no child is left behind (it has been reaped) and no fd was leaked.
pid_t SpawnChild(const SpawnRequest& req, SpawnFailure* failure);

// The same contract with fork + execve and a close-on-exec error pipe
// (spawn_fork.cc): macOS's listenPid path, and Linux's when a test asks.
pid_t ForkExecChild(const SpawnRequest& req, SpawnFailure* failure);

// Writes `value` in decimal into buf (at most len bytes including the NUL);
// async-signal-safe. Returns false when it does not fit.
inline bool FormatPid(char* buf, int len, long value) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && n < (int)sizeof(tmp));
  if (n + 1 > len) return false;
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return true;
}

}  // namespace handover
