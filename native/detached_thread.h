// Threads the addon starts for waits that the kernel offers no pollable fd
// for. Such a thread may outlive the environment (a Worker) that started it,
// so the module is pinned in memory before the first one exists.
#pragma once

namespace handover {

// Runs fn(arg) on a detached thread that blocks every signal (a signal meant
// for the process is then handled by one of Node's threads). Returns 0, or a
// positive errno when no thread could be created (fn never runs then).
int StartDetachedThread(void* (*fn)(void*), void* arg);

// Keeps this module mapped for the life of the process: Node unloads an addon
// when the Worker that loaded it ends, and a thread still blocked in a wait
// would wake in unmapped code. Idempotent and thread-safe; platform file.
void KeepModuleLoaded();

}  // namespace handover
