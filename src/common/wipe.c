#include "common/tcommon.h"

#include <stdlib.h>
#include <string.h>

void tc_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        explicit_bzero(p, n);
}

void tc_freezero(void *p, size_t n)
{
    if (p == NULL)
        return;
    tc_wipe(p, n);
    free(p);
}
