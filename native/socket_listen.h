#pragma once

#include <napi.h>

namespace handover {

// listenSocket({ family: 'IPv4'|'IPv6'|'unix', type: 'stream'|'dgram', address?, port?, path?,
//                backlog, ipv6Only, reusePort?, mode?, uid?, gid? })
//   -> fd (close-on-exec, non-blocking, bound; listening if stream). mode, uid
//   and gid (a Unix socket's file) are set after bind() and before listen().
// Sockets are made here rather than by net.Server so that the process that
// binds a Unix path never owns it in libuv's eyes (libuv unlinks the path of
// a pipe it bound when the handle closes), and so the upgrader holds its own fd.
Napi::Value ListenSocket(const Napi::CallbackInfo& info);

}  // namespace handover
