// The module's functions are inline in include/CHeap.h; SwiftPM needs one source file in a C target.
#include "CHeap.h"
