/* threads.c — the one thread pool is OpenMP's; this sets its size. */
#include <omp.h>
#include <unistd.h>

#include "ideogram4.h"

void i4_set_threads(int n) {
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    omp_set_num_threads(n);
}

int i4_get_threads(void) { return omp_get_max_threads(); }
