#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "signal_block.h"

namespace handover {

// The raw syscall, as glibc's own posix_spawn does: sigfillset and
// pthread_sigmask leave glibc's internal signals 32 (thread cancellation) and
// 33 (setuid broadcast) open, and a child sharing our memory must not run
// their handlers either.
constexpr size_t kKernelSigsetSize = _NSIG / 8;

void BlockAllSignals(sigset_t* old) {
  sigset_t all;
  memset(&all, 0xff, sizeof(all));
  memset(old, 0, sizeof(*old));
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, old, kKernelSigsetSize);
}

void RestoreSignalMask(const sigset_t* old) {
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, nullptr, kKernelSigsetSize);
}

}  // namespace handover
