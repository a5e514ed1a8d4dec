// Closes every fd >= lowfd in a child before execve, using only
// async-signal-safe calls (the child may share its parent's memory).
#pragma once

namespace handover {

// Closes every fd >= lowfd except `keep` (pass -1 to keep none): the fork
// path keeps its close-on-exec error pipe until execve.
void CloseFdsFrom(int lowfd, int keep = -1);

}  // namespace handover
