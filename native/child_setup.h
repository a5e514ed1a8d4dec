// What a child does between fork (or clone) and execve, shared by both fork
// paths. Async-signal-safe calls only: it is the child of a multi-threaded
// process, and on Linux it shares its parent's memory.
#pragma once

namespace handover {

// Default dispositions for every signal: handlers installed by the parent
// must never run in the child, and the program we exec must start with
// defaults (Node ignores SIGPIPE; an ignored signal survives execve). Called
// with every signal blocked.
void ResetSignalDispositions();

// Makes fds[i] fd i for i < n (-1 closes fd i), clearing FD_CLOEXEC on each.
// Rewrites fds. Returns 0, or an errno with *syscall naming the failed call.
// The fds from n up are left to the caller.
int ArrangeFds(int* fds, int n, const char** syscall);

}  // namespace handover
