// Watches one child with uv_poll on a pidfd (Linux) or a kqueue (macOS) and
// reaps it with waitpid(pid, WNOHANG) when it becomes readable. libuv's own
// SIGCHLD handler only ever waits for pids it spawned itself, so the two never
// reap each other's children. When the kernel offers no pollable fd (old
// kernels, seccomp), a dedicated thread blocks in waitpid(pid) instead.
#include "child_wait.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <mutex>
#include <thread>

#include "errors.h"
#include "exit_watch.h"

namespace handover {
namespace {

// Shared with the fallback thread, which may outlive the environment.
struct ThreadState {
  std::mutex mu;
  bool abandoned = false;
  bool done = false;
  int status = 0;
  int err = 0;
};

class Waiter {
 public:
  // reap: collect the exit status (our child); otherwise only report the exit
  // of any process (the previous generation, which is our parent).
  Waiter(Napi::Env env, pid_t pid, bool reap, Napi::Function callback)
      : env_(env), pid_(pid), reap_(reap), callback_(Napi::Persistent(callback)),
        context_(std::make_unique<Napi::AsyncContext>(env, reap ? "handover.waitPid" : "handover.watchExit")) {}

  // Returns 0, or a negative errno when nothing could be set up (then the
  // caller deletes the waiter).
  int Start(bool ref) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return -EINVAL;
    int fd = OpenExitWatch(pid_);
    if (fd >= 0 && uv_poll_init(loop, &poll_, fd) == 0) {
      watch_fd_ = fd;
      poll_.data = this;
      handle_ = reinterpret_cast<uv_handle_t*>(&poll_);
      // Cannot fail for an initialised poll handle with a valid callback.
      uv_poll_start(&poll_, UV_READABLE, OnReadable);
    } else {
      if (fd >= 0) close(fd);
      int r = uv_async_init(loop, &async_, OnAsync);
      if (r != 0) return r;
      async_.data = this;
      handle_ = reinterpret_cast<uv_handle_t*>(&async_);
      state_ = std::make_shared<ThreadState>();
      std::thread(reap_ ? BlockingWait : BlockingWatch, pid_, state_, &async_).detach();
    }
    if (!ref) uv_unref(handle_);
    napi_add_env_cleanup_hook(env_, OnEnvCleanup, this);
    return 0;
  }

 private:
  static void BlockingWait(pid_t pid, std::shared_ptr<ThreadState> state, uv_async_t* async) {
    int status = 0;
    pid_t r;
    do {
      r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    std::lock_guard<std::mutex> lock(state->mu);
    state->done = true;
    state->status = status;
    state->err = r < 0 ? errno : 0;
    if (!state->abandoned) uv_async_send(async);
  }

  // Without a pollable fd there is no blocking wait for a process that is not
  // our child: probe it, at a pace that costs nothing (old kernels only).
  static void BlockingWatch(pid_t pid, std::shared_ptr<ThreadState> state, uv_async_t* async) {
    while (kill(pid, 0) == 0 || errno == EPERM) {
      {
        std::lock_guard<std::mutex> lock(state->mu);
        if (state->abandoned) return;
      }
      usleep(50 * 1000);
    }
    std::lock_guard<std::mutex> lock(state->mu);
    state->done = true;
    if (!state->abandoned) uv_async_send(async);
  }

  static void OnAsync(uv_async_t* handle) {
    auto* self = static_cast<Waiter*>(handle->data);
    int status, err;
    {
      std::lock_guard<std::mutex> lock(self->state_->mu);
      if (!self->state_->done) return;
      status = self->state_->status;
      err = self->state_->err;
    }
    self->Finish(err, status);
  }

  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<Waiter*>(handle->data);
    if (status < 0) {
      self->Finish(-status, 0);
      return;
    }
    if (!self->reap_) {
      self->Finish(0, -1);
      return;
    }
    int wstatus = 0;
    pid_t r;
    do {
      r = waitpid(self->pid_, &wstatus, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return;  // readable before the exit status is collectable: wait on
    self->Finish(r < 0 ? errno : 0, wstatus);
  }

  void Finish(int err, int wstatus) {
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    Napi::Value code = env.Null();
    Napi::Value signal = env.Null();
    if (err == 0 && reap_) {
      if (WIFEXITED(wstatus)) code = Napi::Number::New(env, WEXITSTATUS(wstatus));
      if (WIFSIGNALED(wstatus)) signal = Napi::Number::New(env, WTERMSIG(wstatus));
    }
    Napi::Value error = err == 0 ? env.Null() : ErrnoError(env, err, "waitpid").Value();
    Napi::FunctionReference callback = std::move(callback_);
    std::unique_ptr<Napi::AsyncContext> context = std::move(context_);
    Close();
    try {
      callback.MakeCallback(env.Global(), {error, code, signal}, *context);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  void Close() {
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    if (state_) {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->abandoned = true;
    }
    if (handle_ == reinterpret_cast<uv_handle_t*>(&poll_)) uv_poll_stop(&poll_);
    uv_close(handle_, OnClosed);
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<Waiter*>(handle->data);
    if (self->watch_fd_ >= 0) close(self->watch_fd_);
    delete self;
  }

  // The environment is going away: release what belongs to it while it still
  // exists. A worker's addon code may be unloaded before the loop runs close
  // callbacks, so the handle is closed without one and this small object is
  // left behind on purpose.
  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<Waiter*>(arg);
    self->callback_.Reset();
    self->context_.reset();
    if (self->state_) {
      std::lock_guard<std::mutex> lock(self->state_->mu);
      self->state_->abandoned = true;
    }
    if (self->handle_ == reinterpret_cast<uv_handle_t*>(&self->poll_)) uv_poll_stop(&self->poll_);
    uv_close(self->handle_, nullptr);
    if (self->watch_fd_ >= 0) close(self->watch_fd_);
  }

  Napi::Env env_;
  pid_t pid_;
  bool reap_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  int watch_fd_ = -1;
  uv_poll_t poll_;
  uv_async_t async_;
  uv_handle_t* handle_ = nullptr;
  std::shared_ptr<ThreadState> state_;
};

}  // namespace

Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool ref = info[1].As<Napi::Boolean>().Value();
  Napi::Function callback = info[2].As<Napi::Function>();
  if (pid <= 0) ThrowErrno(env, EINVAL, "waitpid");
  // Refuse what is not our unreaped child before setting anything up, and
  // without reaping it (WNOWAIT).
  siginfo_t si;
  if (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
    ThrowErrno(env, errno, "waitpid");
  }
  auto* waiter = new Waiter(env, pid, true, callback);
  int r = waiter->Start(ref);
  if (r < 0) {
    delete waiter;
    ThrowErrno(env, -r, "uv_async_init");
  }
  return env.Undefined();
}

Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  bool ref = info[1].As<Napi::Boolean>().Value();
  Napi::Function callback = info[2].As<Napi::Function>();
  if (pid <= 0) ThrowErrno(env, EINVAL, "kill");
  if (kill(pid, 0) < 0 && errno == ESRCH) ThrowErrno(env, ESRCH, "kill");
  auto* waiter = new Waiter(env, pid, false, callback);
  int r = waiter->Start(ref);
  if (r < 0) {
    delete waiter;
    ThrowErrno(env, -r, "uv_async_init");
  }
  return env.Undefined();
}

}  // namespace handover
