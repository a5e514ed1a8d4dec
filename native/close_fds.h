// Linux helper: close every fd >= lowfd in a child that shares its parent's
// memory, using only async-signal-safe calls.
#pragma once

namespace handover {

void CloseFdsFrom(int lowfd);

}  // namespace handover
