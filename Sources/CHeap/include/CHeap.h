#ifndef C_HEAP_H
#define C_HEAP_H

#if defined(__GLIBC__) || (defined(__has_include) && __has_include(<malloc.h>) && defined(__linux__))
#include <malloc.h>
#endif

/// Returns free memory at the top of the heap and free whole pages inside glibc's arenas to the
/// system (glibc's malloc_trim(0)); does nothing on other C libraries.
static inline void c_heap_trim(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

#endif
