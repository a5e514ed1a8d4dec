// A pollable fd that becomes readable once a process has exited: a pidfd on
// Linux, a kqueue with EVFILT_PROC/NOTE_EXIT on macOS.
#pragma once

#include <sys/types.h>

namespace handover {

// Returns the fd, or -errno. -ESRCH means the process is already gone (macOS),
// -ENOSYS/-EPERM that the kernel cannot do it (the caller falls back to a thread).
int OpenExitWatch(pid_t pid);

}  // namespace handover
