#pragma once

#include <napi.h>

namespace handover {

// inspectFd(fd) -> { type, cloexec, nonblocking, [family, socketType, listening, address, port, path] }
Napi::Value InspectFd(const Napi::CallbackInfo& info);
// setCloexec(fd, on)
Napi::Value SetCloexec(const Napi::CallbackInfo& info);
// dupCloexec(fd, minFd) -> new fd, lowest free >= minFd, close-on-exec
Napi::Value DupCloexec(const Napi::CallbackInfo& info);

}  // namespace handover
