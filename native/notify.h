#pragma once

#include <napi.h>

namespace handover {

// notifySend(path, message, fds?): one sd_notify datagram to an AF_UNIX
// socket ('@name' is Linux's abstract namespace, as in NOTIFY_SOCKET), with
// `fds` passed as SCM_RIGHTS when given (FDSTORE=1).
Napi::Value NotifySend(const Napi::CallbackInfo& info);

// class NotifySocket(path, onMessage(message: string, senderPid: number)):
// a bound datagram socket that reports each message with the sender's pid as
// the kernel attests it. close() is idempotent.
void InitNotifySocket(Napi::Env env, Napi::Object exports);

}  // namespace handover
