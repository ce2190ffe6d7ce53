/*
 * How late this machine wakes a thread that sleeps 1 ms at a time: the scheduler's part of a tail
 * (docs/performance.md). Prints "<unix ms> <ms late>" for every wake more than 2 ms late, for SECONDS.
 * Run beside a benchmark: cc -O2 -o /tmp/wake-probe bench/sidecar/wake-probe.c && /tmp/wake-probe 80
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double ms(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  double start = ms(CLOCK_MONOTONIC), next = start + 1;
  while (ms(CLOCK_MONOTONIC) - start < seconds * 1000) {
    struct timespec due = {(time_t)(next / 1e3), (long)((next - (time_t)(next / 1e3) * 1e3) * 1e6)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
    double late = ms(CLOCK_MONOTONIC) - next;
    if (late > 2) printf("%.1f %.2f\n", ms(CLOCK_REALTIME), late), fflush(stdout);
    next += 1;
    if (ms(CLOCK_MONOTONIC) > next) next = ms(CLOCK_MONOTONIC) + 1; /* a late wake does not fire a burst */
  }
  return 0;
}
