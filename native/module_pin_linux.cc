#include "detached_thread.h"

namespace handover {

// binding.gyp links the addon with -z nodelete (DF_1_NODELETE): the dynamic
// loader never unmaps it, whoever calls dlclose. A link flag rather than a
// dlopen of our own path here, which would make the addon need glibc 2.34's
// libc-resident dlopen/dladdr.
void KeepModuleLoaded() {}

}  // namespace handover
