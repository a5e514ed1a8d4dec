// Every signal blocked around fork/clone: the child starts with the mask in
// force at that moment, and must not run a handler of its parent's before it
// has reset them all.
#pragma once

#include <signal.h>

namespace handover {

// Blocks every signal in the calling thread; *old receives the previous mask.
void BlockAllSignals(sigset_t* old);

// Puts back a mask saved by BlockAllSignals.
void RestoreSignalMask(const sigset_t* old);

}  // namespace handover
