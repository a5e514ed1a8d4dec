// Linked into the glibc prebuilds whose floor is older than glibc 2.33.
//
// Before 2.33, glibc exported no fstat: <sys/stat.h> turned it into a call of
// __fxstat(), through a stub in libc_nonshared.a. zig 0.11's stub makes the
// system call itself and stores a failure in an errno of its own, linked into
// the addon as thread-local storage: fstat() returned -1 and left the errno
// that the addon reads untouched, so inspectFd() of a closed fd threw
// "Unknown system error" instead of EBADF (ziglang/zig#17034, fixed in zig
// 0.12). Defined here, fstat keeps that stub and its errno out of the link;
// syscall() is glibc's own and sets glibc's errno. On x86_64 and aarch64 the
// kernel's struct stat is glibc's, so no conversion is needed.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "glibc-fstat.c: struct stat is the kernel's only on x86_64 and aarch64"
#endif

int fstat(int fd, struct stat *buf) {
  return (int)syscall(SYS_fstat, fd, buf);
}

int fstat64(int fd, struct stat64 *buf) {
  return (int)syscall(SYS_fstat, fd, buf);
}
