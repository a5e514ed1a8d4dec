// reexec(file, argv, envp, keepFds): replaces this process's image with
// execve(2), keeping its pid, its children and the fds in keepFds (their
// FD_CLOEXEC cleared first). Returns only on failure: the fds get their
// FD_CLOEXEC back and it throws the errno ("execve").
#pragma once

#include <napi.h>

namespace handover {

Napi::Value Reexec(const Napi::CallbackInfo& info);

}  // namespace handover
