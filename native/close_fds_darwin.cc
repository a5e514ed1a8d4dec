#include <sys/resource.h>
#include <unistd.h>

#include "close_fds.h"

namespace handover {

// No close_range and no /proc on macOS: every number below the limit. Node
// raises the soft limit at start-up, to about ten thousand on macOS; this
// runs only in the forked child of a listenPid spawn.
void CloseFdsFrom(int lowfd, int keep) {
  struct rlimit rl;
  long limit = 10240;  // OPEN_MAX
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) limit = (long)rl.rlim_cur;
  for (long fd = lowfd; fd < limit; fd++) {
    if (fd != keep) close((int)fd);
  }
}

}  // namespace handover
