#ifndef C_MALLOC_INFO_H
#define C_MALLOC_INFO_H

#include <malloc.h>
#include <stddef.h>

/// Bytes glibc's malloc has handed out and not had back, over all arenas (mallinfo2's uordblks and hblkhd).
static inline size_t c_malloc_bytes_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

#endif
