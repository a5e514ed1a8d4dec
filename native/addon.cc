// The binding: unpacks arguments (already validated in lib/), calls the
// portable core, and turns errno into an Error carrying errno and syscall.
#include <errno.h>
#include <napi.h>

#include <string>
#include <vector>

#include "child_wait.h"
#include "errors.h"
#include "fd_inspect.h"
#include "notify.h"
#include "peer_cred.h"
#include "reap.h"
#include "reexec.h"
#include "socket_listen.h"
#include "spawn.h"
#include "user_lookup.h"

namespace handover {
namespace {

constexpr char kListenPidPrefix[] = "LISTEN_PID=";
constexpr int kPidDigits = 24;

// Owns the strings for one request and the NULL-terminated arrays over them.
struct CStringArray {
  std::vector<std::string> storage;
  std::vector<char*> pointers;

  void Add(std::string value) { storage.push_back(std::move(value)); }
  char* const* Finish() {
    for (auto& s : storage) pointers.push_back(&s[0]);
    pointers.push_back(nullptr);
    return pointers.data();
  }
};

void ReadStrings(const Napi::Array& array, CStringArray* out) {
  for (uint32_t i = 0; i < array.Length(); i++) out->Add(array.Get(i).As<Napi::String>().Utf8Value());
}

// { pid, uid, gid } of the peer of a connected AF_UNIX stream socket.
Napi::Value PeerCredentialsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  handover::PeerCredentials cred;
  int err = handover::StreamPeerCredentials(info[0].As<Napi::Number>().Int32Value(), &cred);
  if (err != 0) handover::ThrowErrno(env, -err, "getsockopt");
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

// spawn({ file, argv, envp, cwd?, files, setsid, setpgid, pgid, pdeathsig, listenPid, forkExec? }) -> pid
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info[0].As<Napi::Object>();

  std::string file = opts.Get("file").As<Napi::String>().Utf8Value();
  CStringArray argv, envp;
  ReadStrings(opts.Get("argv").As<Napi::Array>(), &argv);
  ReadStrings(opts.Get("envp").As<Napi::Array>(), &envp);

  bool listen_pid = opts.Get("listenPid").As<Napi::Boolean>().Value();
  size_t listen_pid_index = envp.storage.size();
  if (listen_pid) envp.Add(std::string(kListenPidPrefix) + std::string(kPidDigits, '\0'));

  Napi::Value cwd_value = opts.Get("cwd");
  std::string cwd = cwd_value.IsString() ? cwd_value.As<Napi::String>().Utf8Value() : "";

  Napi::Array files_array = opts.Get("files").As<Napi::Array>();
  std::vector<int> files(files_array.Length());
  for (uint32_t i = 0; i < files_array.Length(); i++) {
    files[i] = files_array.Get(i).As<Napi::Number>().Int32Value();
  }

  SpawnRequest req = {};
  req.file = file.c_str();
  req.argv = argv.Finish();
  req.envp = envp.Finish();
  req.cwd = cwd_value.IsString() ? cwd.c_str() : nullptr;
  req.files = files.data();
  req.nfiles = static_cast<int>(files.size());
  req.setsid = opts.Get("setsid").As<Napi::Boolean>().Value();
  req.setpgid = opts.Get("setpgid").As<Napi::Boolean>().Value();
  req.pgid = opts.Get("pgid").As<Napi::Number>().Int32Value();
  req.pdeathsig = opts.Get("pdeathsig").As<Napi::Number>().Int32Value();
  if (listen_pid) {
    req.listen_pid_digits = &envp.storage[listen_pid_index][sizeof(kListenPidPrefix) - 1];
    req.listen_pid_len = kPidDigits;
  }

  // forkExec: the fork + execve path that macOS takes for listenPid, on any
  // platform; for tests only, not offered by lib/.
  bool fork_exec = opts.Has("forkExec") && opts.Get("forkExec").ToBoolean().Value();
  SpawnFailure failure;
  pid_t pid = fork_exec ? ForkExecChild(req, &failure) : SpawnChild(req, &failure);
  if (pid < 0) ThrowErrno(env, failure.err, failure.syscall);
  return Napi::Number::New(env, pid);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentialsOf, "peerCredentials"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid, "waitPid"));
  exports.Set("inspectFd", Napi::Function::New(env, InspectFd, "inspectFd"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("dupCloexec", Napi::Function::New(env, DupCloexec, "dupCloexec"));
  exports.Set("listenSocket", Napi::Function::New(env, ListenSocket, "listenSocket"));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit, "watchExit"));
  exports.Set("notifySend", Napi::Function::New(env, NotifySend, "notifySend"));
  exports.Set("reapPid", Napi::Function::New(env, ReapPid, "reapPid"));
  exports.Set("reexec", Napi::Function::New(env, Reexec, "reexec"));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper, "setChildSubreaper"));
  exports.Set("lookupUser", Napi::Function::New(env, LookupUser, "lookupUser"));
  exports.Set("lookupGroup", Napi::Function::New(env, LookupGroup, "lookupGroup"));
  InitNotifySocket(env, exports);
  return exports;
}

}  // namespace handover

static Napi::Object InitHandover(Napi::Env env, Napi::Object exports) { return handover::Init(env, exports); }

NODE_API_MODULE(handover, InitHandover)
