#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exit_watch.h"

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434  // same number on every architecture since 5.1
#endif

namespace handover {

int OpenExitWatch(pid_t pid) {
  // pidfd_open returns a close-on-exec fd (Linux >= 5.3).
  long fd = syscall(__NR_pidfd_open, pid, 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

}  // namespace handover
