// Errors leave native code as errno values; lib/errors.ts gives them Node's
// shape (code, negative errno, syscall, path).
#pragma once

#include <napi.h>

namespace handover {

// Throws a JS Error carrying `errno` (negative, as Node does) and `syscall`.
// lib/ turns it into Node's own error shape.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall);

// The same error as a value, for rejecting promises.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);

}  // namespace handover
