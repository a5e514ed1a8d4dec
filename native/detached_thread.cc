#include "detached_thread.h"

#include <pthread.h>
#include <signal.h>

namespace handover {

// pthread_create rather than std::thread: a failure is an errno for the
// caller to report, never an exception that would abort the process.
int StartDetachedThread(void* (*fn)(void*), void* arg) {
  KeepModuleLoaded();
  pthread_attr_t attr;
  int err = pthread_attr_init(&attr);
  if (err != 0) return err;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The new thread inherits the mask in force at pthread_create.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  err = pthread_create(&thread, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return err;
}

}  // namespace handover
