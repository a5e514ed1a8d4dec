#include <errno.h>
#include <sys/prctl.h>

#include "reap.h"

namespace handover {

int SetSubreaper(bool on) {
  return prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0 ? errno : 0;
}

}  // namespace handover
