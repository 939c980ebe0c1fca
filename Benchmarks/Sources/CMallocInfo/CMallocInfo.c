// The module's one function is inline in include/CMallocInfo.h.
#include "CMallocInfo.h"
