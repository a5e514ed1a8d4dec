// Who waits for which child, process-wide. A child belongs to the process,
// not to the environment (main thread or Worker) that started it: when a
// Worker ends with a wait pending, the child goes to the remaining waiters,
// or, when none remain, to a detached thread that reaps it once it exits, so
// that it never stays a zombie. The same thread delivers the exit to waiters
// that have no pollable fd. Every reap of a registered child happens under one
// lock, so a thread never reaps a pid that has been reaped (and reused) since.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <memory>

namespace handover {

// What a thread hands to one waiter: written under the lock, then `async`
// (on the waiter's loop) is signalled.
struct ThreadResult {
  explicit ThreadResult(uv_async_t* a) : async(a) {}
  uv_async_t* async;
  bool done = false;
  int status = 0;  // waitpid status
  int err = 0;     // positive errno from waitpid
};

// Every waiter of `pid` registers first: from then on a thread left by an
// ended Worker no longer reaps the child. Returns 0 or ENOMEM.
int AddWaiter(pid_t pid);

// One waitpid(pid, WNOHANG) under the lock: 1 when reaped (*status filled),
// 0 while it cannot be collected yet, or -errno.
int ReapIfExited(pid_t pid, int* status);

// A registered waiter that cannot poll (no pidfd or kqueue, or one that was
// readable before the exit could be collected, as with a traced child): a
// thread reaps `pid` once it exits and delivers to `result`. 0 or an errno.
int WaitInThread(pid_t pid, const std::shared_ptr<ThreadResult>& result);

// What was delivered to `result`; false while nothing was.
bool TakeResult(const ThreadResult& result, int* status, int* err);

// The waiter finished (it has its answer): it is forgotten.
void RemoveWaiter(pid_t pid, const ThreadResult* result);

// The waiter's environment is going away before the child was reaped: when it
// was the last waiter, a thread reaps the child once it exits (if no thread
// can be created, the child stays a zombie: a cleanup hook cannot report).
void AbandonWaiter(pid_t pid, const ThreadResult* result);

}  // namespace handover
