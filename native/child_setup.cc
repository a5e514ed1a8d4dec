#include "child_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

namespace handover {

void ResetSignalDispositions() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, nullptr);  // glibc refuses its two internal signals: harmless
  }
}

// Go's two passes (src/syscall/exec_linux.go), with one difference: pass 1
// uses F_DUPFD_CLOEXEC, which takes the lowest *free* fd above the table, so
// it can never stomp a source that is still needed.
int ArrangeFds(int* fds, int n, const char** syscall) {
  for (int i = 0; i < n; i++) {
    if (fds[i] >= 0 && fds[i] < i) {
      int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, n);
      if (moved < 0) {
        *syscall = "dup";
        return errno;
      }
      fds[i] = moved;
    }
  }
  for (int i = 0; i < n; i++) {
    if (fds[i] < 0) {
      close(i);
    } else if (fds[i] == i) {
      // dup2(i, i) would leave FD_CLOEXEC set.
      if (fcntl(i, F_SETFD, 0) < 0) {
        *syscall = "fcntl";
        return errno;
      }
    } else if (dup2(fds[i], i) < 0) {
      *syscall = "dup2";
      return errno;
    }
  }
  return 0;
}

}  // namespace handover
