// What an inherited fd really is, read from the kernel: the upper layers match
// listeners by their bound address, never by position or by a name alone.
#include "fd_inspect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "errors.h"

namespace handover {
namespace {

int FdArg(const Napi::CallbackInfo& info, size_t index) {
  return info[index].As<Napi::Number>().Int32Value();
}

const char* FileType(mode_t mode) {
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISREG(mode)) return "file";
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISCHR(mode)) return "character";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISBLK(mode)) return "block";
  return "other";
}

const char* SocketType(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    case SOCK_RAW: return "raw";
    default: return "other";
  }
}

// The kernel reports a scope only where the address needs one (link-local):
// written 'fe80::1%eth0', the interface's name, as Node's address() does, so
// that an inherited socket matches the address it was asked for.
std::string WithZone(const char* address, uint32_t scope) {
  std::string text = address;
  if (scope == 0) return text;
  char name[IF_NAMESIZE];
  text += '%';
  text += if_indextoname(scope, name) != nullptr ? std::string(name) : std::to_string(scope);
  return text;
}

// Fills family/address/port/path from getsockname.
void DescribeAddress(Napi::Env env, Napi::Object out, const sockaddr_storage& ss, socklen_t len) {
  char text[INET6_ADDRSTRLEN] = {0};
  switch (ss.ss_family) {
    case AF_INET: {
      auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      out.Set("family", "IPv4");
      out.Set("address", text);
      out.Set("port", ntohs(in->sin_port));
      break;
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      out.Set("family", "IPv6");
      out.Set("address", WithZone(text, in6->sin6_scope_id));
      out.Set("port", ntohs(in6->sin6_port));
      break;
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
      out.Set("family", "unix");
      size_t n = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
      if (n > 0 && un->sun_path[0] == '\0') {
        // Linux abstract namespace: written '@name', as systemd does. Node 20's
        // libuv binds '\0name' padded with NULs to the whole sun_path; drop the
        // padding so both forms read the same.
        size_t end = n;
        while (end > 1 && un->sun_path[end - 1] == '\0') end--;
        out.Set("path", "@" + std::string(un->sun_path + 1, end - 1));
      } else {
        std::string path(un->sun_path, strnlen(un->sun_path, n));
        out.Set("path", path);
      }
      break;
    }
    default:
      out.Set("family", "other");
  }
  (void)env;
}

}  // namespace

Napi::Value InspectFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct stat st;
  if (fstat(fd, &st) < 0) ThrowErrno(env, errno, "fstat");
  int fdflags = fcntl(fd, F_GETFD);
  int flflags = fcntl(fd, F_GETFL);
  if (fdflags < 0 || flflags < 0) ThrowErrno(env, errno, "fcntl");

  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("type", FileType(st.st_mode));
  out.Set("cloexec", (fdflags & FD_CLOEXEC) != 0);
  out.Set("nonblocking", (flflags & O_NONBLOCK) != 0);
  if (!S_ISSOCK(st.st_mode)) return out;

  int type = 0;
  socklen_t optlen = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) < 0) ThrowErrno(env, errno, "getsockopt");
  out.Set("socketType", SocketType(type));

  int accepting = 0;
  optlen = sizeof(accepting);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen) < 0) accepting = 0;
  out.Set("listening", accepting != 0);

  sockaddr_storage ss = {};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) ThrowErrno(env, errno, "getsockname");
  DescribeAddress(env, out, ss, len);
  return out;
}

Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  bool on = info[1].As<Napi::Boolean>().Value();
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) ThrowErrno(env, errno, "fcntl");
  int wanted = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (wanted != flags && fcntl(fd, F_SETFD, wanted) < 0) ThrowErrno(env, errno, "fcntl");
  return env.Undefined();
}

Napi::Value DupCloexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int min_fd = FdArg(info, 1);
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, min_fd);
  if (copy < 0) ThrowErrno(env, errno, "dup");
  return Napi::Number::New(env, copy);
}

}  // namespace handover
