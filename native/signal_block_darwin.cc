#include <pthread.h>

#include "signal_block.h"

namespace handover {

// macOS has no signals reserved by its C library: sigfillset means all.
void BlockAllSignals(sigset_t* old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

void RestoreSignalMask(const sigset_t* old) { pthread_sigmask(SIG_SETMASK, old, nullptr); }

}  // namespace handover
