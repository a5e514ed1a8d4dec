// Watches one child with uv_poll on a pidfd (Linux) or a kqueue (macOS) and
// reaps it with waitpid(pid, WNOHANG) when it becomes readable. libuv's own
// SIGCHLD handler only ever waits for pids it spawned itself, so the two never
// reap each other's children. When the kernel offers no pollable fd (old
// kernels, seccomp, EMFILE), or when the fd is readable before the exit can be
// collected (a ptrace tracer holds the zombie), a thread of child_waiters.cc
// blocks in waitid instead: never a busy loop.
#include "child_wait.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <exception>
#include <memory>
#include <mutex>
#include <new>

#include "child_waiters.h"
#include "detached_thread.h"
#include "errors.h"
#include "exit_watch.h"

namespace handover {
namespace {

// The parent watch's fallback thread and its waiter: shared, since the thread
// may outlive the environment.
struct ParentWatchState {
  std::mutex mu;
  bool abandoned = false;
  bool done = false;
  uv_async_t* async = nullptr;
  pid_t parent = 0;
  // Watching a process further up the tree (the supervisor), not our parent.
  bool ancestor = false;
};

// Still there, as far as kill(pid, 0) can tell.
bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

// Without a pollable fd there is no blocking wait for a process that is not
// our child: probe, at a pace that costs nothing (old kernels only). Our
// parent has exited once we have been reparented, whatever its pid names now.
void* WatchParentInThread(void* raw) {
  auto* state = static_cast<std::shared_ptr<ParentWatchState>*>(raw);
  std::shared_ptr<ParentWatchState> s = std::move(*state);
  delete state;
  while (s->ancestor ? ProcessExists(s->parent) : getppid() == s->parent) {
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->abandoned) return nullptr;
    }
    usleep(50 * 1000);
  }
  std::lock_guard<std::mutex> lock(s->mu);
  s->done = true;
  if (!s->abandoned) uv_async_send(s->async);
  return nullptr;
}

class Waiter {
 public:
  // reap: collect the exit status (our child); otherwise report the exit of
  // our parent (the previous generation).
  Waiter(Napi::Env env, pid_t pid, bool reap, Napi::Function callback, bool ancestor = false)
      : env_(env), pid_(pid), reap_(reap), ancestor_(ancestor), callback_(Napi::Persistent(callback)),
        context_(std::make_unique<Napi::AsyncContext>(env, reap ? "handover.waitPid" : "handover.watchExit")) {}

  // Returns 0, or an errno with *syscall set when nothing could be set up
  // (then the caller deletes the waiter). A reaping waiter has been
  // registered with AddWaiter before.
  int Start(bool ref, const char** syscall) {
    *syscall = "uv_async_init";
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return EINVAL;
    int r = uv_async_init(loop, &async_, OnAsync);
    if (r != 0) return -r;
    async_.data = this;
    open_handles_ = 1;
    ref_ = ref;
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));

    int fd = OpenExitWatch(pid_);
    if (!reap_ && (fd == -ESRCH || (ancestor_ ? !ProcessExists(pid_) : getppid() != pid_))) {
      // The pid was our parent's when lib/ read it, but the parent may have
      // died since and the pid been reused: only a watch opened while we
      // still were its child is a watch on our parent. (An ancestor further
      // up was placed by lib/ in /proc just before.)
      if (fd >= 0) close(fd);
      r = ESRCH;
      *syscall = "kill";
    } else if (fd >= 0 && uv_poll_init(loop, &poll_, fd) == 0) {
      watch_fd_ = fd;
      poll_.data = this;
      open_handles_ = 2;
      // Cannot fail for an initialised poll handle with a valid callback.
      uv_poll_start(&poll_, UV_READABLE, OnReadable);
      if (!ref) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));
      r = 0;
    } else {
      if (fd >= 0) close(fd);
      r = StartThreadWait(syscall);
    }
    if (r != 0) {
      // Nothing was started: close what exists without the callbacks.
      if (open_handles_ == 2) {
        uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
        close(watch_fd_);
      }
      uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
      orphaned_ = true;  // the handles still point at us
      callback_.Reset();
      context_.reset();
      return r;
    }
    napi_add_env_cleanup_hook(env_, OnEnvCleanup, this);
    return 0;
  }

  // A failed Start leaves the closing handles pointing at the waiter: it is
  // kept (a few bytes) rather than freed under them.
  bool orphaned() const { return orphaned_; }

 private:
  // 0 or an errno; never throws (it also runs in a libuv callback).
  int StartThreadWait(const char** syscall) {
    *syscall = "pthread_create";
    int err;
    try {
      if (reap_) {
        result_ = std::make_shared<ThreadResult>(&async_);
        err = WaitInThread(pid_, result_);
      } else {
        parent_state_ = std::make_shared<ParentWatchState>();
        parent_state_->async = &async_;
        parent_state_->parent = pid_;
        parent_state_->ancestor = ancestor_;
        auto* arg = new std::shared_ptr<ParentWatchState>(parent_state_);
        err = StartDetachedThread(WatchParentInThread, arg);
        if (err != 0) delete arg;
      }
    } catch (const std::bad_alloc&) {
      *syscall = "malloc";
      return ENOMEM;
    }
    if (err == 0 && ref_) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    return err;
  }

  static void OnAsync(uv_async_t* handle) {
    auto* self = static_cast<Waiter*>(handle->data);
    if (self->reap_) {
      int status = 0, err = 0;
      if (!self->result_ || !TakeResult(*self->result_, &status, &err)) return;
      self->Finish(err, status, "waitpid");
      return;
    }
    {
      std::lock_guard<std::mutex> lock(self->parent_state_->mu);
      if (!self->parent_state_->done) return;
    }
    self->Finish(0, -1, "kill");
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<Waiter*>(handle->data);
    if (status < 0) {
      self->Finish(-status, 0, "uv_poll");
      return;
    }
    if (!self->reap_) {
      self->Finish(0, -1, "kill");
      return;
    }
    int wstatus = 0;
    int r = ReapIfExited(self->pid_, &wstatus);
    if (r != 0) {
      self->Finish(r < 0 ? -r : 0, wstatus, "waitpid");
      return;
    }
    // Readable, yet nothing to collect: the process has exited but a ptrace
    // tracer has not let the zombie go. The fd stays readable, so polling on
    // would spin the loop; a thread blocks until the status is ours.
    uv_poll_stop(&self->poll_);
    const char* syscall = nullptr;
    int err = self->StartThreadWait(&syscall);
    if (err != 0) self->Finish(err, 0, syscall);
  }

  void Finish(int err, int wstatus, const char* syscall) {
    Napi::Env env = env_;
    Napi::FunctionReference callback = std::move(callback_);
    std::unique_ptr<Napi::AsyncContext> context = std::move(context_);
    bool reap = reap_;
    Close();  // the members stay valid until the loop runs the close callbacks
    Napi::HandleScope scope(env);
    // No JS frame is below a libuv callback to catch a C++ exception: report
    // any as an uncaught JS exception instead of letting it abort the process.
    try {
      Napi::Value code = env.Null();
      Napi::Value signal = env.Null();
      if (err == 0 && reap) {
        if (WIFEXITED(wstatus)) code = Napi::Number::New(env, WEXITSTATUS(wstatus));
        if (WIFSIGNALED(wstatus)) signal = Napi::Number::New(env, WTERMSIG(wstatus));
      }
      Napi::Value error = err == 0 ? env.Null() : ErrnoError(env, err, syscall).Value();
      callback.MakeCallback(env.Global(), {error, code, signal}, *context);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    } catch (const std::exception& e) {
      napi_fatal_exception(env, Napi::Error::New(env, e.what()).Value());
    }
  }

  void Close() {
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    if (reap_) RemoveWaiter(pid_, result_.get());
    if (parent_state_) {
      std::lock_guard<std::mutex> lock(parent_state_->mu);
      parent_state_->abandoned = true;
    }
    if (open_handles_ == 2) {
      uv_poll_stop(&poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), OnClosed);
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<Waiter*>(handle->data);
    if (--self->open_handles_ > 0) return;
    if (self->watch_fd_ >= 0) close(self->watch_fd_);
    delete self;
  }

  // The environment is going away: release what belongs to it while it still
  // exists, and leave the child to the other waiters or to a reaping thread.
  // A worker's addon code may be unloaded before the loop runs close
  // callbacks, so the handles are closed without one and this small object is
  // left behind on purpose.
  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<Waiter*>(arg);
    self->callback_.Reset();
    self->context_.reset();
    if (self->reap_) AbandonWaiter(self->pid_, self->result_.get());
    if (self->parent_state_) {
      std::lock_guard<std::mutex> lock(self->parent_state_->mu);
      self->parent_state_->abandoned = true;
    }
    if (self->open_handles_ == 2) {
      uv_poll_stop(&self->poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(&self->poll_), nullptr);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&self->async_), nullptr);
    if (self->watch_fd_ >= 0) close(self->watch_fd_);
    self->watch_fd_ = -1;
  }

  Napi::Env env_;
  pid_t pid_;
  bool reap_;
  bool ancestor_;
  bool ref_ = true;
  bool orphaned_ = false;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  int watch_fd_ = -1;
  int open_handles_ = 0;  // async_, and poll_ when there is a pollable fd
  uv_poll_t poll_;
  uv_async_t async_;
  std::shared_ptr<ThreadResult> result_;
  std::shared_ptr<ParentWatchState> parent_state_;
};

// Creates and starts a waiter; throws (as a JS error) when it cannot.
void StartWaiter(const Napi::CallbackInfo& info, pid_t pid, bool reap, bool ancestor = false) {
  Napi::Env env = info.Env();
  bool ref = info[1].As<Napi::Boolean>().Value();
  Napi::Function callback = info[2].As<Napi::Function>();
  auto* waiter = new Waiter(env, pid, reap, callback, ancestor);
  const char* syscall = nullptr;
  int err = waiter->Start(ref, &syscall);
  if (err != 0) {
    if (reap) RemoveWaiter(pid, nullptr);
    if (!waiter->orphaned()) delete waiter;
    ThrowErrno(env, err, syscall);
  }
}

}  // namespace

Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) ThrowErrno(env, EINVAL, "waitpid");
  // Registered before the check below, so that a thread left by an ended
  // Worker cannot reap the child between the check and the wait.
  int err = AddWaiter(pid);
  if (err != 0) ThrowErrno(env, err, "waitpid");
  // Refuse what is not our unreaped child before setting anything up, and
  // without reaping it (WNOWAIT).
  siginfo_t si;
  if (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    err = errno;
    RemoveWaiter(pid, nullptr);
    ThrowErrno(env, err, "waitpid");
  }
  StartWaiter(info, pid, true);
  return env.Undefined();
}

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) ThrowErrno(env, EINVAL, "kill");
  // Not (or no longer) our parent: it has exited, as far as we can know.
  // Checked once the watch is open (Waiter::Start). With a fourth argument
  // true, any process (an ancestor further up): gone once it no longer exists.
  bool ancestor = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  StartWaiter(info, pid, false, ancestor);
  return env.Undefined();
}

}  // namespace handover
