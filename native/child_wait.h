#pragma once

#include <napi.h>

namespace handover {

// waitPid(pid, ref, callback(errno, code, signal)): reaps exactly `pid` once it
// exits, without waitpid(-1) and without the libuv thread pool. Throws ECHILD
// synchronously when `pid` is not an unreaped child of this process.
Napi::Value WaitPid(const Napi::CallbackInfo& info);

// watchExit(pid, ref, callback(errno), ancestor = false): calls back once
// `pid`, our parent, has exited; reaps nothing. Throws ESRCH when it is
// already gone or is not our parent (any more: a reused pid), checked after
// the watch was opened. With `ancestor`, `pid` may be any process (the
// caller placed it in the tree): ESRCH only when it is gone.
Napi::Value WatchExit(const Napi::CallbackInfo& info);

}  // namespace handover
