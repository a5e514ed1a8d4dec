// macOS: posix_spawn, which XNU implements in the kernel, so no fork of a
// large JIT process. POSIX_SPAWN_CLOEXEC_DEFAULT keeps every fd out of the
// child except the table; SETSIGDEF + SETSIGMASK give default dispositions
// and an empty mask. A child that needs LISTEN_PID goes through fork + execve
// instead (spawn_fork.cc).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "spawn.h"

namespace handover {
namespace {

// Closes the parent-side duplicates made for the file actions.
struct TempFds {
  std::vector<int> fds;
  ~TempFds() {
    for (int fd : fds) close(fd);
  }
};

// posix_spawn reports one errno for the whole call; attribute it to chdir
// when the directory is the problem, as the Linux path would.
const char* FailedCall(const SpawnRequest& req, int err) {
  if (req.cwd != nullptr && (err == ENOENT || err == ENOTDIR || err == EACCES)) {
    struct stat st;
    if (stat(req.cwd, &st) != 0 || !S_ISDIR(st.st_mode) || access(req.cwd, X_OK) != 0) return "chdir";
  }
  return "execve";
}

}  // namespace

pid_t SpawnChild(const SpawnRequest& req, SpawnFailure* failure) {
  // LISTEN_PID must hold the child's own pid, which posix_spawn cannot know
  // beforehand: the child writes it itself, between fork and execve.
  if (req.listen_pid_digits != nullptr) return ForkExecChild(req, failure);
  *failure = {0, nullptr};
  const int n = req.nfiles;

  // Every source is first duplicated (close-on-exec) above the table in the
  // parent, so that no dup2 of the file actions can overwrite a source that a
  // later slot still needs: permutations and collisions cost nothing extra.
  TempFds temps;
  std::vector<int> sources(n, -1);
  for (int i = 0; i < n; i++) {
    if (req.files[i] < 0) continue;
    int fd = fcntl(req.files[i], F_DUPFD_CLOEXEC, n);
    if (fd < 0) {
      *failure = {errno, "dup"};
      return -1;
    }
    temps.fds.push_back(fd);
    sources[i] = fd;
  }

  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_init(&actions);

  short flags = POSIX_SPAWN_CLOEXEC_DEFAULT | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  int err = 0;
  if (req.setsid) {
#ifdef POSIX_SPAWN_SETSID
    flags |= POSIX_SPAWN_SETSID;
#else
    err = ENOTSUP;
#endif
  }
  if (req.setpgid) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, req.pgid);
  }
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, flags);

  if (err == 0 && req.cwd != nullptr) err = posix_spawn_file_actions_addchdir_np(&actions, req.cwd);
  for (int i = 0; err == 0 && i < n; i++) {
    if (sources[i] >= 0) err = posix_spawn_file_actions_adddup2(&actions, sources[i], i);
  }

  pid_t pid = -1;
  if (err == 0) err = posix_spawn(&pid, req.file, &actions, &attr, req.argv, req.envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    *failure = {err, req.setsid && err == ENOTSUP ? "setsid" : FailedCall(req, err)};
    return -1;
  }
  return pid;
}

}  // namespace handover
