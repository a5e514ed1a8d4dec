#include <errno.h>

#include "reap.h"

namespace handover {

// macOS has no subreaper: orphans always go to launchd.
int SetSubreaper(bool /*on*/) { return ENOTSUP; }

}  // namespace handover
