#include <errno.h>
#include <fcntl.h>
#include <sys/event.h>
#include <unistd.h>

#include "exit_watch.h"

namespace handover {

int OpenExitWatch(pid_t pid) {
  int kq = kqueue();
  if (kq < 0) return -errno;
  fcntl(kq, F_SETFD, FD_CLOEXEC);
  struct kevent change;
  EV_SET(&change, pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (kevent(kq, &change, 1, nullptr, 0, nullptr) < 0) {
    int err = errno;
    close(kq);
    return -err;
  }
  return kq;
}

}  // namespace handover
