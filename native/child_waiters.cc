#include "child_waiters.h"

#include <errno.h>
#include <stdint.h>
#include <sys/wait.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "detached_thread.h"

namespace handover {
namespace {

struct Entry {
  // Which child this pid names: it changes when the child is reaped, since a
  // pid is free for reuse from then on, and a thread started for the old
  // child must leave the new one alone.
  uint64_t generation = 0;
  int waiters = 0;
  std::vector<std::shared_ptr<ThreadResult>> listeners;
  bool thread = false;  // a thread waits for this generation's exit
};

// Process-wide by nature (the children are the process's), never destroyed:
// a detached thread may still use it while the process exits.
struct Registry {
  std::mutex mu;
  std::unordered_map<pid_t, Entry> entries;
  uint64_t next_generation = 0;
};

Registry& Children() {
  static Registry* registry = new Registry();
  return *registry;
}

struct ThreadArg {
  pid_t pid;
  uint64_t generation;
};

void RemoveListener(Entry* e, const ThreadResult* result) {
  if (result == nullptr) return;
  e->listeners.erase(std::remove_if(e->listeners.begin(), e->listeners.end(),
                                    [result](const std::shared_ptr<ThreadResult>& l) { return l.get() == result; }),
                     e->listeners.end());
}

// The child is gone: whatever comes next under this pid is another child.
void MarkReaped(Registry& reg, std::unordered_map<pid_t, Entry>::iterator it) {
  it->second.generation = ++reg.next_generation;
  it->second.thread = false;
  it->second.listeners.clear();
  if (it->second.waiters == 0) reg.entries.erase(it);
}

pid_t WaitNoHang(pid_t pid, int* status) {
  pid_t r;
  do {
    r = waitpid(pid, status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  return r;
}

void* ThreadMain(void* raw) {
  ThreadArg arg = *static_cast<ThreadArg*>(raw);
  delete static_cast<ThreadArg*>(raw);
  Registry& reg = Children();
  for (;;) {
    // Blocks until the exit can be collected (a ptrace tracer lets it go
    // first), and collects nothing: whether to reap is decided below.
    siginfo_t si;
    int r;
    do {
      r = waitid(P_PID, static_cast<id_t>(arg.pid), &si, WEXITED | WNOWAIT);
    } while (r < 0 && errno == EINTR);
    int wait_err = r < 0 ? errno : 0;

    std::lock_guard<std::mutex> lock(reg.mu);
    auto it = reg.entries.find(arg.pid);
    if (it == reg.entries.end() || it->second.generation != arg.generation) return nullptr;  // reaped by a waiter
    Entry& e = it->second;
    if (e.listeners.empty() && e.waiters > 0) {
      // Only pollers wait: the first to see the exit reaps it.
      e.thread = false;
      return nullptr;
    }
    int status = 0;
    int err = wait_err;
    if (err == 0) {
      pid_t got = WaitNoHang(arg.pid, &status);
      if (got == 0) continue;  // not collectable after all: wait again
      if (got < 0) err = errno;
    }
    // One status, one waiter: any other thread-path waiter of this child gets
    // ECHILD, as a second poller would.
    for (size_t i = 0; i < e.listeners.size(); i++) {
      ThreadResult* l = e.listeners[i].get();
      l->done = true;
      l->status = status;
      l->err = i == 0 ? err : ECHILD;
      uv_async_send(l->async);
    }
    MarkReaped(reg, it);
    return nullptr;
  }
}

// Called with the lock held, for an entry with no thread.
int StartThread(Entry* e, pid_t pid) {
  auto* arg = new (std::nothrow) ThreadArg{pid, e->generation};
  if (arg == nullptr) return ENOMEM;
  int err = StartDetachedThread(ThreadMain, arg);
  if (err != 0) {
    delete arg;
    return err;
  }
  e->thread = true;
  return 0;
}

}  // namespace

int AddWaiter(pid_t pid) {
  Registry& reg = Children();
  std::lock_guard<std::mutex> lock(reg.mu);
  try {
    auto inserted = reg.entries.emplace(pid, Entry{});
    if (inserted.second) inserted.first->second.generation = ++reg.next_generation;
    inserted.first->second.waiters++;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  return 0;
}

int ReapIfExited(pid_t pid, int* status) {
  Registry& reg = Children();
  std::lock_guard<std::mutex> lock(reg.mu);
  pid_t got = WaitNoHang(pid, status);
  if (got == 0) return 0;
  int err = got < 0 ? errno : 0;
  auto it = reg.entries.find(pid);
  if (it != reg.entries.end()) MarkReaped(reg, it);
  return got > 0 ? 1 : -err;
}

int WaitInThread(pid_t pid, const std::shared_ptr<ThreadResult>& result) {
  Registry& reg = Children();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto it = reg.entries.find(pid);
  if (it == reg.entries.end()) return EINVAL;  // not registered with AddWaiter
  Entry& e = it->second;
  try {
    e.listeners.push_back(result);
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  if (e.thread) return 0;
  int err = StartThread(&e, pid);
  if (err != 0) e.listeners.pop_back();
  return err;
}

bool TakeResult(const ThreadResult& result, int* status, int* err) {
  std::lock_guard<std::mutex> lock(Children().mu);
  if (!result.done) return false;
  *status = result.status;
  *err = result.err;
  return true;
}

void RemoveWaiter(pid_t pid, const ThreadResult* result) {
  Registry& reg = Children();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto it = reg.entries.find(pid);
  if (it == reg.entries.end()) return;
  Entry& e = it->second;
  RemoveListener(&e, result);
  if (e.waiters > 0) e.waiters--;
  if (e.waiters == 0 && !e.thread) reg.entries.erase(it);
}

void AbandonWaiter(pid_t pid, const ThreadResult* result) {
  Registry& reg = Children();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto it = reg.entries.find(pid);
  if (it == reg.entries.end()) return;
  Entry& e = it->second;
  RemoveListener(&e, result);
  if (e.waiters > 0) e.waiters--;
  if (e.waiters > 0 || e.thread) return;  // another waiter, or a running thread, reaps it
  if (StartThread(&e, pid) != 0) reg.entries.erase(it);
}

}  // namespace handover
