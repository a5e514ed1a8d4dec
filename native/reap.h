// Reaping what is not ours by name: orphans that the kernel reparents to a
// supervisor (as PID 1, or as a child subreaper). Never waitpid(-1): a pid is
// chosen in lib/ (from /proc), then reaped here by that pid alone.
#pragma once

#include <napi.h>

namespace handover {

// reapPid(pid) -> { code, signal } once reaped, or null while it still runs.
// One waitpid(pid, WNOHANG); throws ECHILD when pid is not our child.
Napi::Value ReapPid(const Napi::CallbackInfo& info);

// setChildSubreaper(on): orphaned descendants are reparented to this process
// instead of PID 1 (Linux PR_SET_CHILD_SUBREAPER). Throws ENOTSUP elsewhere.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);

// Platform core of SetChildSubreaper: 0 or an errno.
int SetSubreaper(bool on);

}  // namespace handover
