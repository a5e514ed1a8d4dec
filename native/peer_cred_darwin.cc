#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer_cred.h"

namespace handover {

// macOS attaches no sender credentials to datagrams (LOCAL_PEERPID needs a
// connected stream): the upper layer binds the socket in a private 0700
// directory instead, and every message reports pid -1.
int EnableSenderCredentials(int /*fd*/) { return -ENOTSUP; }

size_t SenderCredentialSpace() { return 0; }

pid_t SenderPid(struct msghdr* /*msg*/) { return -1; }

int StreamPeerCredentials(int fd, PeerCredentials* out) {
  uid_t uid;
  gid_t gid;
  if (getpeereid(fd, &uid, &gid) < 0) return -errno;
  out->uid = uid;
  out->gid = gid;
  out->pid = -1;
#ifdef LOCAL_PEERPID
  pid_t pid;
  socklen_t len = sizeof(pid);
  if (getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) == 0) out->pid = pid;
#endif
  return 0;
}

}  // namespace handover
