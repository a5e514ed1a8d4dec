// The reference for forkExecWithFds' cost (bench/spawn.js --reference):
// glibc's posix_spawn of the same program from a process of the same
// resident size, timed the same way — the call until the pid is known, then
// a waitpid. Two forms: plain posix_spawn, and posix_spawn asked to do what
// forkExecWithFds does besides (every signal to its default, an empty mask,
// every fd from 3 up closed: POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK,
// posix_spawn_file_actions_addclosefrom_np where glibc has it, 2.34+).
//
//   reference RSS_MB ITERATIONS FILE  ->  one JSON line per form, with every call's ms
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static long rss_mb(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE) / (1024 * 1024);
}

struct form {
  const char* name;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  double* calls;
};

static void init_form(struct form* f, const char* name, int full, int iterations) {
  f->name = name;
  f->calls = malloc(sizeof(double) * iterations);
  posix_spawnattr_init(&f->attr);
  posix_spawn_file_actions_init(&f->actions);
  if (!full) return;
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&f->attr, &all);
  posix_spawnattr_setsigmask(&f->attr, &none);
  posix_spawnattr_setflags(&f->attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  posix_spawn_file_actions_addclosefrom_np(&f->actions, 3);
#endif
}

static double spawn_once(struct form* f, char* file) {
  char* argv[] = {file, NULL};
  pid_t pid;
  double t0 = now_ms();
  int err = posix_spawn(&pid, file, &f->actions, &f->attr, argv, environ);
  double call = now_ms() - t0;
  if (err != 0) {
    fprintf(stderr, "posix_spawn: %s\n", strerror(err));
    exit(1);
  }
  waitpid(pid, NULL, 0);
  return call;
}

static void report(struct form* f, int iterations) {
  qsort(f->calls, iterations, sizeof(double), compare);
  printf("{\"form\":\"%s\",\"rssMB\":%ld,\"n\":%d,\"median\":%.4f,\"p90\":%.4f,\"calls\":[", f->name, rss_mb(), iterations,
         f->calls[iterations / 2], f->calls[(int)(iterations * 0.9)]);
  for (int i = 0; i < iterations; i++) printf("%s%.4f", i ? "," : "", f->calls[i]);
  printf("]}\n");
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s RSS_MB ITERATIONS FILE\n", argv[0]);
    return 2;
  }
  long target = atol(argv[1]);
  int iterations = atoi(argv[2]);
  // Real resident memory, touched, as bench/spawn.js's Buffers.
  size_t bytes = (size_t)target * 1024 * 1024;
  volatile char* ballast = malloc(bytes);
  if (ballast == NULL) return 1;
  for (size_t i = 0; i < bytes; i += 4096) ballast[i] = 1;
  struct form forms[2];
  init_form(&forms[0], "posix_spawn", 0, iterations);
  init_form(&forms[1], "posix_spawn, same attributes", 1, iterations);
  for (int i = 0; i < 20; i++) spawn_once(&forms[i % 2], argv[3]);  // warm-up
  // The two forms alternate, so that what slows the machine slows both.
  for (int i = 0; i < iterations; i++) {
    for (int k = 0; k < 2; k++) {
      int which = (i % 2) ? 1 - k : k;
      forms[which].calls[i] = spawn_once(&forms[which], argv[3]);
    }
  }
  report(&forms[0], iterations);
  report(&forms[1], iterations);
  ballast[bytes - 1] = 2;
  return 0;
}
