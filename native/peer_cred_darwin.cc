#include <errno.h>

#include "peer_cred.h"

namespace handover {

// macOS attaches no sender credentials to datagrams (LOCAL_PEERPID needs a
// connected stream): the upper layer binds the socket in a private 0700
// directory instead, and every message reports pid -1.
int EnableSenderCredentials(int /*fd*/) { return -ENOTSUP; }

size_t SenderCredentialSpace() { return 0; }

pid_t SenderPid(struct msghdr* /*msg*/) { return -1; }

}  // namespace handover
