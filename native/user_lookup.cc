#include "user_lookup.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errors.h"

namespace handover {
namespace {

// The *_r functions take a caller's buffer; ERANGE asks for a larger one.
constexpr size_t kMaxBuffer = 1 << 20;

size_t FirstBufferSize(int name) {
  long n = sysconf(name);
  return n > 0 ? static_cast<size_t>(n) : 16384;
}

// POSIX lets "no such entry" be 0 with no result or one of these errnos.
bool NotFound(int err) { return err == 0 || err == ENOENT || err == ESRCH || err == EBADF || err == EPERM; }

}  // namespace

Napi::Value LookupUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buffer(FirstBufferSize(_SC_GETPW_R_SIZE_MAX));
  passwd entry;
  passwd* found = nullptr;
  int err;
  while ((err = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE && buffer.size() < kMaxBuffer) {
    buffer.resize(buffer.size() * 2);
  }
  if (found == nullptr) {
    if (NotFound(err)) return env.Null();
    ThrowErrno(env, err, "getpwnam_r");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("uid", Napi::Number::New(env, static_cast<double>(entry.pw_uid)));
  result.Set("gid", Napi::Number::New(env, static_cast<double>(entry.pw_gid)));
  return result;
}

Napi::Value LookupGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::vector<char> buffer(FirstBufferSize(_SC_GETGR_R_SIZE_MAX));
  group entry;
  group* found = nullptr;
  int err;
  while ((err = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found)) == ERANGE && buffer.size() < kMaxBuffer) {
    buffer.resize(buffer.size() * 2);
  }
  if (found == nullptr) {
    if (NotFound(err)) return env.Null();
    ThrowErrno(env, err, "getgrnam_r");
  }
  return Napi::Number::New(env, static_cast<double>(entry.gr_gid));
}

}  // namespace handover
