// sd_notify over AF_UNIX SOCK_DGRAM, which Node's net and dgram modules do not
// offer: sending (to systemd, or from a generation to its parent) and
// receiving with the sender's pid checked by the kernel.
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "peer_cred.h"

namespace handover {
namespace {

// One notification, both ways: what our receiver reads, and what systemd
// reads (NOTIFY_BUFFER_MAX, PIPE_BUF). A longer datagram is dropped there as
// truncated, so it is refused here before it is sent.
constexpr size_t kMaxMessage = 4096;
// SCM_RIGHTS carries at most 253 fds per message (SCM_MAX_FD on Linux).
constexpr uint32_t kMaxPassedFds = 253;

int DatagramSocket() {
#ifdef SOCK_CLOEXEC
  return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
#else
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#endif
}

// Returns 0 or an errno. '@name' maps to the abstract namespace.
int UnixAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty()) return EINVAL;
  if (path.size() >= sizeof(addr->sun_path)) return ENAMETOOLONG;
  memcpy(addr->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') {
#ifdef __linux__
    addr->sun_path[0] = '\0';
#else
    return EINVAL;
#endif
  } else {
    *len += 1;  // include the terminating NUL of a filesystem path
  }
  return 0;
}

void CloseReceivedFds(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      close(fd);
    }
  }
}

// Owned by the event loop once started; deleted in the uv_close callback.
class Receiver {
 public:
  Receiver(Napi::Env env, int fd, Napi::Function callback)
      : env_(env), fd_(fd), callback_(Napi::Persistent(callback)),
        context_(std::make_unique<Napi::AsyncContext>(env, "handover.notify")) {}

  int Start() {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return EINVAL;
    int r = uv_poll_init(loop, &poll_, fd_);
    if (r != 0) return -r;
    poll_.data = this;
    uv_poll_start(&poll_, UV_READABLE, OnReadable);
    uv_unref(reinterpret_cast<uv_handle_t*>(&poll_));  // waiting for a message never keeps a process alive
    napi_add_env_cleanup_hook(env_, OnEnvCleanup, this);
    return 0;
  }

  // The JS wrapper's pointer to us, cleared when we close, whichever of the
  // wrapper's finalizer and the environment's cleanup comes first.
  void SetOwnerSlot(Receiver** slot) { slot_ = slot; }

  void Close() {
    if (slot_ != nullptr) *slot_ = nullptr;
    slot_ = nullptr;
    if (closing_) return;
    closing_ = true;
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnClosed);
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<Receiver*>(handle->data);
    if (status < 0) return;
    // No JS frame is below a libuv callback to catch a C++ exception (an
    // allocation failing): report it as an uncaught JS exception instead of
    // letting it abort the process.
    try {
      self->Drain();
    } catch (const std::exception& e) {
      Napi::HandleScope scope(self->env_);
      napi_fatal_exception(self->env_, Napi::Error::New(self->env_, e.what()).Value());
    }
  }

  void Drain() {
    Napi::HandleScope scope(env_);
    std::vector<char> control(SenderCredentialSpace() + CMSG_SPACE(sizeof(int) * 253));
    char buf[kMaxMessage];
    while (!closing_) {
      iovec iov = {buf, sizeof(buf)};
      msghdr msg = {};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      int flags = MSG_DONTWAIT;
#ifdef MSG_CMSG_CLOEXEC
      flags |= MSG_CMSG_CLOEXEC;
#endif
      ssize_t n = recvmsg(fd_, &msg, flags);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: drained
      }
      CloseReceivedFds(&msg);  // fd-store messages are not ours to keep
      if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) continue;  // oversized: not a valid notification
      pid_t pid = SenderPid(&msg);
      try {
        callback_.MakeCallback(env_.Global(),
                               {Napi::String::New(env_, buf, static_cast<size_t>(n)),
                                Napi::Number::New(env_, pid)},
                               *context_);
      } catch (const Napi::Error& e) {
        napi_fatal_exception(env_, e.Value());
        return;
      }
    }
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<Receiver*>(handle->data);
    close(self->fd_);
    delete self;
  }

  // Release what belongs to the environment while it still exists; close the
  // handle without a callback (a worker's addon code may be unloaded before
  // the loop would run it) and leave this small object behind on purpose.
  static void OnEnvCleanup(void* arg) {
    auto* self = static_cast<Receiver*>(arg);
    if (self->slot_ != nullptr) *self->slot_ = nullptr;
    self->slot_ = nullptr;
    self->callback_.Reset();
    self->context_.reset();
    if (self->closing_) return;
    self->closing_ = true;
    uv_poll_stop(&self->poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->poll_), nullptr);
    close(self->fd_);
  }

  Napi::Env env_;
  int fd_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  uv_poll_t poll_;
  bool closing_ = false;
  Receiver** slot_ = nullptr;
};

class NotifySocket : public Napi::ObjectWrap<NotifySocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NotifySocket", {InstanceMethod<&NotifySocket::Close>("close")});
  }

  explicit NotifySocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NotifySocket>(info) {
    Napi::Env env = info.Env();
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Function callback = info[1].As<Napi::Function>();
    sockaddr_un addr;
    socklen_t len = 0;
    int err = UnixAddress(path, &addr, &len);
    if (err != 0) ThrowErrno(env, err, "bind");
    int fd = DatagramSocket();
    if (fd < 0) ThrowErrno(env, errno, "socket");
    int r = EnableSenderCredentials(fd);
    // Where the platform attaches no credentials (macOS), every message comes
    // with pid -1; the caller then relies on the socket's private directory.
    if (r == -ENOTSUP) r = 0;
    if (r == 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) r = -errno;
    if (r == 0) r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : 0;
    if (r != 0) {
      close(fd);
      ThrowErrno(env, -r, "bind");
    }
    receiver_ = new Receiver(env, fd, callback);
    r = receiver_->Start();
    if (r != 0) {
      delete receiver_;
      receiver_ = nullptr;
      close(fd);
      ThrowErrno(env, r, "uv_poll_init");
    }
    receiver_->SetOwnerSlot(&receiver_);
  }

  ~NotifySocket() override { Shut(); }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shut();
    return info.Env().Undefined();
  }

  void Shut() {
    if (receiver_ != nullptr) receiver_->Close();  // clears receiver_
  }

  Receiver* receiver_ = nullptr;
};

}  // namespace

Napi::Value NotifySend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string message = info[1].As<Napi::String>().Utf8Value();
  if (message.size() > kMaxMessage) ThrowErrno(env, EMSGSIZE, "sendto");
  sockaddr_un addr;
  socklen_t len = 0;
  int err = UnixAddress(path, &addr, &len);
  if (err != 0) ThrowErrno(env, err, "sendto");
  // Optional fds, passed with SCM_RIGHTS (FDSTORE=1, as sd_pid_notify_with_fds does).
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array list = info[2].As<Napi::Array>();
    if (list.Length() > kMaxPassedFds) ThrowErrno(env, EINVAL, "sendmsg");
    for (uint32_t i = 0; i < list.Length(); i++) fds.push_back(list.Get(i).As<Napi::Number>().Int32Value());
  }
  int fd = DatagramSocket();
  if (fd < 0) ThrowErrno(env, errno, "socket");
  struct iovec iov;
  iov.iov_base = const_cast<char*>(message.data());
  iov.iov_len = message.size();
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_name = &addr;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    // Never block the event loop on a receiver whose queue is full: EAGAIN
    // goes back to the caller, which may retry later.
    n = sendmsg(fd, &msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  err = n < 0 ? errno : 0;
  close(fd);
  if (err != 0) ThrowErrno(env, err, "sendto");
  return env.Undefined();
}

void InitNotifySocket(Napi::Env env, Napi::Object exports) {
  exports.Set("NotifySocket", NotifySocket::Define(env));
}

}  // namespace handover
