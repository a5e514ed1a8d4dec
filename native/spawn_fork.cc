// fork + execve with a close-on-exec error pipe, POSIX only: how macOS starts
// a child that must find its own pid in its environment (LISTEN_PID), which
// posix_spawn cannot write. The contract is the Linux clone path's: exactly
// argv and envp, the fd table exactly `files`, default dispositions and an
// empty mask, and a failure before or at execve thrown as its errno with no
// child left behind. Linux runs it only when a test asks (the native spawn
// option forkExec), so that this code is tested on the platform that runs
// the tests.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "child_setup.h"
#include "close_fds.h"
#include "signal_block.h"
#include "spawn.h"

namespace handover {
namespace {

// pipe2 is not POSIX (macOS lacks it); there the flags follow at once.
int CloexecPipe(int fds[2]) {
#ifdef __linux__
  return pipe2(fds, O_CLOEXEC);
#else
  if (pipe(fds) < 0) return -1;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  return 0;
#endif
}

// The parent reads this struct: the string is a literal of this image, at the
// same address in both processes.
[[noreturn]] void Report(int fd, int err, const char* syscall) {
  SpawnFailure failure = {err != 0 ? err : EIO, syscall};
  ssize_t n;
  do {
    n = write(fd, &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

[[noreturn]] void ChildMain(const SpawnRequest& req, int* fds, int report) {
  ResetSignalDispositions();
  // The report pipe must outlive the table's dup2s: above the table it goes.
  if (report < req.nfiles) {
    int moved = fcntl(report, F_DUPFD_CLOEXEC, req.nfiles);
    if (moved < 0) Report(report, errno, "dup");
    report = moved;
  }
  if (req.setsid && setsid() < 0) Report(report, errno, "setsid");
  if (req.setpgid && setpgid(0, req.pgid) < 0) Report(report, errno, "setpgid");
  if (req.cwd != nullptr && chdir(req.cwd) < 0) Report(report, errno, "chdir");
  // A copy of the parent's memory: the digits land in our own envp only.
  if (req.listen_pid_digits != nullptr && !FormatPid(req.listen_pid_digits, req.listen_pid_len, getpid())) {
    Report(report, EOVERFLOW, "getpid");
  }
  const char* failed = nullptr;
  int err = ArrangeFds(fds, req.nfiles, &failed);
  if (err != 0) Report(report, err, failed);
  CloseFdsFrom(req.nfiles, report);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(req.file, req.argv, req.envp);
  Report(report, errno, "execve");
}

void ReapExactly(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

pid_t ForkExecChild(const SpawnRequest& req, SpawnFailure* failure) {
  *failure = {0, nullptr};
  if (req.pdeathsig != 0) {
    // Linux-only, and lib/ offers it on Linux only, where the clone path has it.
    *failure = {ENOTSUP, "prctl"};
    return -1;
  }
  std::vector<int> scratch(req.files, req.files + req.nfiles);
  int report[2];
  if (CloexecPipe(report) < 0) {
    *failure = {errno, "pipe"};
    return -1;
  }

  sigset_t old;
  BlockAllSignals(&old);
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    ChildMain(req, scratch.data(), report[1]);
  }
  int fork_errno = errno;
  RestoreSignalMask(&old);
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    *failure = {fork_errno, "fork"};
    return -1;
  }

  // End of file: execve succeeded and closed the child's end. A report: the
  // child failed and is exiting.
  SpawnFailure reported = {0, nullptr};
  ssize_t n;
  do {
    n = read(report[0], &reported, sizeof(reported));
  } while (n < 0 && errno == EINTR);
  int read_errno = errno;
  close(report[0]);
  if (n == 0) return pid;
  if (n != static_cast<ssize_t>(sizeof(reported))) {
    // Cannot happen (a pipe write this small is atomic), but whether the
    // program runs is unknown then: make sure it does not.
    kill(pid, SIGKILL);
    reported = {n < 0 ? read_errno : EIO, "read"};
  }
  ReapExactly(pid);
  *failure = reported;
  return -1;
}

}  // namespace handover
