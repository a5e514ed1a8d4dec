#include "reexec.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace handover {
namespace {

std::vector<std::string> Strings(const Napi::Array& array) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

std::vector<char*> Pointers(std::vector<std::string>* strings) {
  std::vector<char*> out;
  for (auto& s : *strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

}  // namespace

Napi::Value Reexec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> argv = Strings(info[1].As<Napi::Array>());
  std::vector<std::string> envp = Strings(info[2].As<Napi::Array>());
  Napi::Array keep = info[3].As<Napi::Array>();
  std::vector<char*> argv_ptrs = Pointers(&argv);
  std::vector<char*> envp_ptrs = Pointers(&envp);

  // Each kept fd with its flags as they were, to put back if execve fails.
  std::vector<std::pair<int, int>> cleared;
  for (uint32_t i = 0; i < keep.Length(); i++) {
    int fd = keep.Get(i).As<Napi::Number>().Int32Value();
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
      int err = errno;
      for (auto& [done, old] : cleared) fcntl(done, F_SETFD, old);
      ThrowErrno(env, err, "fcntl");
    }
    cleared.emplace_back(fd, flags);
  }
  execve(file.c_str(), argv_ptrs.data(), envp_ptrs.data());
  int err = errno;
  for (auto& [fd, flags] : cleared) fcntl(fd, F_SETFD, flags);
  ThrowErrno(env, err, "execve");
}

}  // namespace handover
