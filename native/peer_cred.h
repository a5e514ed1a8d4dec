// Sender credentials on an AF_UNIX datagram socket: how a notify message is
// proven to come from the process we started and not from a local spoofer.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

namespace handover {

// Asks the kernel to attach the sender's credentials to every datagram.
// Returns 0 or -errno (-ENOTSUP where the platform cannot).
int EnableSenderCredentials(int fd);

// Control-buffer bytes needed for the credentials.
size_t SenderCredentialSpace();

// The sender's pid from a received message, or -1 when absent.
pid_t SenderPid(struct msghdr* msg);

// Who is at the other end of a connected AF_UNIX stream socket, as the
// kernel recorded it at connect(): 0 or -errno. pid is -1 where unknown.
struct PeerCredentials {
  pid_t pid;
  uid_t uid;
  gid_t gid;
};
int StreamPeerCredentials(int fd, PeerCredentials* out);

}  // namespace handover
