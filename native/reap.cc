#include "reap.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "errors.h"

namespace handover {

Napi::Value ReapPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  // A pid <= 0 would mean "any child" or a process group: never here.
  if (pid <= 0) ThrowErrno(env, EINVAL, "waitpid");
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) ThrowErrno(env, errno, "waitpid");
  if (r == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("code", WIFEXITED(status) ? Napi::Number::New(env, WEXITSTATUS(status)) : env.Null());
  result.Set("signal", WIFSIGNALED(status) ? Napi::Number::New(env, WTERMSIG(status)) : env.Null());
  return result;
}

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = SetSubreaper(info[0].As<Napi::Boolean>().Value());
  if (err != 0) ThrowErrno(env, err, "prctl");
  return env.Undefined();
}

}  // namespace handover
