// macOS: posix_spawn, which XNU implements in the kernel, so no fork of a
// large JIT process. POSIX_SPAWN_CLOEXEC_DEFAULT keeps every fd out of the
// child except the table; SETSIGDEF + SETSIGMASK give default dispositions
// and an empty mask.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
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

  // LISTEN_PID must hold the child's own pid, which posix_spawn cannot know
  // beforehand: exec through /bin/sh, whose $$ stays the pid after `exec`.
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string file_arg;
  std::string script = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";
  const char* file = req.file;
  char* const* real_argv = req.argv;
  char* const* real_envp = req.envp;
  if (req.listen_pid_digits != nullptr) {
    // The same path execve would see: relative to the child's cwd.
    std::string target = req.file;
    if (target[0] != '/' && req.cwd != nullptr) target = std::string(req.cwd) + "/" + target;
    if (access(target.c_str(), X_OK) != 0) {
      *failure = {errno, "execve"};
      return -1;
    }
    argv.push_back(const_cast<char*>("/bin/sh"));
    argv.push_back(const_cast<char*>("-c"));
    argv.push_back(script.data());
    // exec "$0" with a slash never searches PATH, as execve would not.
    file_arg = std::string(req.file).find('/') == std::string::npos ? "./" + std::string(req.file) : req.file;
    argv.push_back(file_arg.data());
    for (char* const* a = req.argv; *a != nullptr; a++) {
      if (a != req.argv) argv.push_back(*a);
    }
    argv.push_back(nullptr);
    for (char* const* e = req.envp; *e != nullptr; e++) {
      if (*e + 11 != req.listen_pid_digits) envp.push_back(*e);  // drop our placeholder
    }
    envp.push_back(nullptr);
    file = "/bin/sh";
    real_argv = argv.data();
    real_envp = envp.data();
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
  if (err == 0) err = posix_spawn(&pid, file, &actions, &attr, real_argv, real_envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    *failure = {err, req.setsid && err == ENOTSUP ? "setsid" : FailedCall(req, err)};
    return -1;
  }
  return pid;
}

}  // namespace handover
