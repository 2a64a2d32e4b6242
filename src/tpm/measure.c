/*
 * Measured boot: `tessera-tpm measure` (implemented below in later steps).
 */
#include <stdio.h>

#include "tpm/ttpm.h"

int ttpm_measure_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "tessera-tpm measure: not available in this build\n");
    return 2;
}
