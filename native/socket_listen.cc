#include "socket_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "errors.h"

namespace handover {
namespace {

// SOCK_CLOEXEC/SOCK_NONBLOCK are Linux-only; set the flags afterwards elsewhere.
int NewSocket(int domain, int type) {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  return socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
#else
  int fd = socket(domain, type, 0);
  if (fd >= 0) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  return fd;
#endif
}

// The zone of 'fe80::1%eth0' (a link-local address names its link): an
// interface name or index, as Node's own listen() takes it. 0 or an errno.
int ScopeId(const std::string& zone, uint32_t* scope) {
  if (zone.empty()) return EINVAL;
  if (zone.find_first_not_of("0123456789") == std::string::npos) {
    errno = 0;
    unsigned long index = strtoul(zone.c_str(), nullptr, 10);
    if (errno != 0 || index > UINT32_MAX) return EINVAL;
    *scope = static_cast<uint32_t>(index);
    return 0;
  }
  unsigned index = if_nametoindex(zone.c_str());
  if (index == 0) return ENODEV;
  *scope = index;
  return 0;
}

struct Address {
  sockaddr_storage storage = {};
  socklen_t len = 0;
  int family = 0;
};

// Returns 0 or an errno.
int BuildAddress(const Napi::Object& opts, Address* out) {
  std::string family = opts.Get("family").As<Napi::String>().Utf8Value();
  if (family == "unix") {
    std::string path = opts.Get("path").As<Napi::String>().Utf8Value();
    auto* un = reinterpret_cast<sockaddr_un*>(&out->storage);
    if (path.empty()) return EINVAL;
    if (path.size() >= sizeof(un->sun_path)) return ENAMETOOLONG;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path.data(), path.size());
    out->len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    if (path[0] == '@') {
#ifdef __linux__
      un->sun_path[0] = '\0';
#else
      return EINVAL;
#endif
    } else {
      out->len += 1;
    }
    out->family = AF_UNIX;
    return 0;
  }
  std::string address = opts.Get("address").As<Napi::String>().Utf8Value();
  int port = opts.Get("port").As<Napi::Number>().Int32Value();
  if (family == "IPv4") {
    auto* in = reinterpret_cast<sockaddr_in*>(&out->storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &in->sin_addr) != 1) return EINVAL;
    out->len = sizeof(*in);
    out->family = AF_INET;
    return 0;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(static_cast<uint16_t>(port));
  size_t percent = address.find('%');
  if (percent != std::string::npos) {
    int err = ScopeId(address.substr(percent + 1), &in6->sin6_scope_id);
    if (err != 0) return err;
    address.resize(percent);
  }
  if (inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) != 1) return EINVAL;
  out->len = sizeof(*in6);
  out->family = AF_INET6;
  return 0;
}

// SO_REUSEPORT: several sockets bound to one address, among which Linux
// spreads new connections (by a hash of each connection's addresses). Not
// defined everywhere: ENOPROTOOPT there.
int SetReusePort(int fd) {
#ifdef SO_REUSEPORT
  int on = 1;
  return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
#else
  (void)fd;
  errno = ENOPROTOOPT;
  return -1;
#endif
}

// The mode and owner of a Unix socket's file, set between bind() and
// listen() so that no client can connect before they are in place (until
// listen(), connect() is refused). Neither call follows a symlink: should
// someone replace the file meanwhile with a link to another file, that file
// is left alone. `mode` < 0 and ids of -1 leave the umask's mode and the
// binder's ids. Returns 0, or an errno with `*call` naming the call that failed.
int SetSocketFileAccess(const std::string& path, int mode, uid_t uid, gid_t gid, const char** call) {
  if (uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) {
    if (lchown(path.c_str(), uid, gid) < 0) {
      *call = "chown";
      return errno;
    }
  }
  if (mode < 0) return 0;
  *call = "chmod";
#ifdef __linux__
  // Linux has no lchmod: hold the file itself (O_PATH, not following a
  // link), check that it is a socket, and chmod it through /proc.
  int fd = open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) < 0) {
    err = errno;
  } else if (!S_ISSOCK(st.st_mode)) {
    err = S_ISLNK(st.st_mode) ? ELOOP : ENOTSOCK;
  } else {
    std::string self = "/proc/self/fd/" + std::to_string(fd);
    if (chmod(self.c_str(), static_cast<mode_t>(mode)) < 0) err = errno;
  }
  close(fd);
  return err;
#else
  return fchmodat(AT_FDCWD, path.c_str(), static_cast<mode_t>(mode), AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
#endif
}

}  // namespace

Napi::Value ListenSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[0].As<Napi::Object>();
  bool stream = opts.Get("type").As<Napi::String>().Utf8Value() == "stream";
  int backlog = opts.Get("backlog").As<Napi::Number>().Int32Value();
  bool ipv6_only = opts.Get("ipv6Only").As<Napi::Boolean>().Value();
  Napi::Value reuse_value = opts.Get("reusePort");
  bool reuse_port = reuse_value.IsBoolean() && reuse_value.As<Napi::Boolean>().Value();

  // Optional, for a Unix socket with a file: its mode and owner.
  Napi::Value mode_value = opts.Get("mode");
  Napi::Value uid_value = opts.Get("uid");
  Napi::Value gid_value = opts.Get("gid");
  int mode = mode_value.IsNumber() ? mode_value.As<Napi::Number>().Int32Value() : -1;
  uid_t uid = uid_value.IsNumber() ? static_cast<uid_t>(uid_value.As<Napi::Number>().Int64Value()) : static_cast<uid_t>(-1);
  gid_t gid = gid_value.IsNumber() ? static_cast<gid_t>(gid_value.As<Napi::Number>().Int64Value()) : static_cast<gid_t>(-1);

  Address addr;
  int err = BuildAddress(opts, &addr);
  if (err != 0) ThrowErrno(env, err, "bind");
  int fd = NewSocket(addr.family, stream ? SOCK_STREAM : SOCK_DGRAM);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  std::string path = addr.family == AF_UNIX ? opts.Get("path").As<Napi::String>().Utf8Value() : "";
  bool file_access = addr.family == AF_UNIX && !path.empty() && path[0] != '@' &&
                     (mode >= 0 || uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1));

  const char* failed = nullptr;
  const char* access_call = nullptr;
  int on = 1;
  int v6only = ipv6_only ? 1 : 0;
  // As libuv does for TCP listeners: restart without waiting out TIME_WAIT.
  if (stream && addr.family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
    failed = "setsockopt";
  } else if (reuse_port && SetReusePort(fd) < 0) {
    failed = "setsockopt";
  } else if (addr.family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0) {
    failed = "setsockopt";
  } else if (bind(fd, reinterpret_cast<sockaddr*>(&addr.storage), addr.len) < 0) {
    failed = "bind";
  } else if (file_access && (err = SetSocketFileAccess(path, mode, uid, gid, &access_call)) != 0) {
    // The file is ours (just bound): it goes with the socket.
    unlink(path.c_str());
    close(fd);
    ThrowErrno(env, err, access_call);
  } else if (stream && listen(fd, backlog) < 0) {
    failed = "listen";
  }
  if (failed != nullptr) {
    err = errno;
    close(fd);
    ThrowErrno(env, err, failed);
  }
  return Napi::Number::New(env, fd);
}

}  // namespace handover
