#include "close_fds.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_close_range
#define __NR_close_range 436  // same number on every architecture since 5.1
#endif

namespace handover {
namespace {

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

// Parses a decimal directory entry name; -1 for "." and "..".
int ParseFd(const char* name) {
  if (*name < '0' || *name > '9') return -1;
  int fd = 0;
  for (; *name; name++) {
    if (*name < '0' || *name > '9') return -1;
    fd = fd * 10 + (*name - '0');
  }
  return fd;
}

// Kernels before 5.9 have no close_range: walk /proc/self/fd with getdents64
// (opendir would allocate, which the child must not do).
bool CloseFromProc(int lowfd, int keep) {
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof(buf));
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
      int fd = ParseFd(d->d_name);
      if (fd >= lowfd && fd != dir && fd != keep) close(fd);
      off += d->d_reclen;
    }
  }
  close(dir);
  return true;
}

bool CloseRange(unsigned first, unsigned last) {
  return first > last || syscall(__NR_close_range, first, last, 0) == 0;
}

}  // namespace

void CloseFdsFrom(int lowfd, int keep) {
  if (keep < lowfd) keep = -1;
  bool closed = keep < 0 ? CloseRange(lowfd, ~0U)
                         : CloseRange(lowfd, keep - 1) && CloseRange(keep + 1, ~0U);
  if (closed) return;
  if (CloseFromProc(lowfd, keep)) return;
  struct rlimit rl;
  long limit = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) limit = (long)rl.rlim_cur;
  for (long fd = lowfd; fd < limit; fd++) {
    if (fd != keep) close((int)fd);
  }
}

}  // namespace handover
