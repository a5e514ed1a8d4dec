// Linux: clone(CLONE_VM | CLONE_VFORK) on a private stack, as glibc's
// posix_spawn and Go's forkAndExecInChild do. The child shares the parent's
// memory until execve, so its cost does not grow with the parent's RSS; it
// runs only async-signal-safe calls and reports a failure by writing into
// the shared SpawnFailure, which the parent reads once the child is gone.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "child_setup.h"
#include "close_fds.h"
#include "signal_block.h"
#include "spawn.h"

namespace handover {
namespace {

constexpr size_t kChildStackSize = 64 * 1024;

struct ChildContext {
  const SpawnRequest* req;
  int* fds;        // scratch copy of req->files; ArrangeFds rewrites it
  pid_t parent;
  SpawnFailure failure;
};

[[noreturn]] void Fail(ChildContext* ctx, const char* syscall_name) {
  ctx->failure.syscall = syscall_name;
  ctx->failure.err = errno ? errno : EIO;
  _exit(127);
}

int ChildMain(void* arg) {
  auto* ctx = static_cast<ChildContext*>(arg);
  const SpawnRequest* req = ctx->req;
  errno = 0;
  ResetSignalDispositions();
  if (req->setsid && setsid() < 0) Fail(ctx, "setsid");
  if (req->setpgid && setpgid(0, req->pgid) < 0) Fail(ctx, "setpgid");
  if (req->cwd != nullptr && chdir(req->cwd) < 0) Fail(ctx, "chdir");
  if (req->pdeathsig != 0) {
    if (prctl(PR_SET_PDEATHSIG, req->pdeathsig, 0, 0, 0) < 0) Fail(ctx, "prctl");
    // The parent may have died before prctl took effect.
    if ((pid_t)syscall(SYS_getppid) != ctx->parent) kill((pid_t)syscall(SYS_getpid), req->pdeathsig);
  }
  if (req->listen_pid_digits != nullptr &&
      !FormatPid(req->listen_pid_digits, req->listen_pid_len, syscall(SYS_getpid))) {
    errno = EOVERFLOW;
    Fail(ctx, "getpid");
  }
  const char* failed = nullptr;
  int err = ArrangeFds(ctx->fds, req->nfiles, &failed);
  if (err != 0) {
    errno = err;
    Fail(ctx, failed);
  }
  // Nothing but the table reaches the program, not even fds that a native
  // addon opened without FD_CLOEXEC; this also closes missing stdio.
  CloseFdsFrom(req->nfiles);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(req->file, req->argv, req->envp);
  Fail(ctx, "execve");
}

}  // namespace

pid_t SpawnChild(const SpawnRequest& req, SpawnFailure* failure) {
  *failure = {0, nullptr};
  std::vector<int> scratch(req.files, req.files + req.nfiles);
  ChildContext ctx{&req, scratch.data(), getpid(), {0, nullptr}};

  void* stack = mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) {
    *failure = {errno, "mmap"};
    return -1;
  }

  // Signals stay blocked in the child until just before execve.
  sigset_t old;
  BlockAllSignals(&old);
  pid_t pid = clone(ChildMain, static_cast<char*>(stack) + kChildStackSize,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &ctx);
  int clone_errno = errno;
  RestoreSignalMask(&old);
  munmap(stack, kChildStackSize);

  if (pid < 0) {
    *failure = {clone_errno, "clone"};
    return -1;
  }
  if (ctx.failure.err != 0) {
    // The child has already exited (CLONE_VFORK): reap exactly it.
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    *failure = ctx.failure;
    return -1;
  }
  return pid;
}

}  // namespace handover
