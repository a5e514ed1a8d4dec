#include <dlfcn.h>
#include <pthread.h>

#include "detached_thread.h"

namespace handover {
namespace {

pthread_once_t pinned = PTHREAD_ONCE_INIT;

// ld64 has no -z nodelete: take one more reference to our own image, with
// RTLD_NODELETE, and never release it.
void PinOwnImage() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&KeepModuleLoaded), &info) == 0 || info.dli_fname == nullptr) return;
  dlopen(info.dli_fname, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
}

}  // namespace

void KeepModuleLoaded() { pthread_once(&pinned, PinOwnImage); }

}  // namespace handover
