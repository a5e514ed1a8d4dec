#pragma once

#include <napi.h>

namespace handover {

// lookupUser(name) -> { uid, gid } | null and lookupGroup(name) -> gid | null,
// by the system's own resolver (NSS on Linux: /etc/passwd, LDAP, ...; Open
// Directory on macOS), for the owner of a Unix socket. Node has no getpwnam.
Napi::Value LookupUser(const Napi::CallbackInfo& info);
Napi::Value LookupGroup(const Napi::CallbackInfo& info);

}  // namespace handover
