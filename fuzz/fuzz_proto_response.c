/*
 * The client's side of the wire: a response body decoded into the caller's
 * arguments. The first byte picks the operation (0: a HELLO reply); the
 * arguments are a fixed array with modest capacities in exactly sized heap
 * buffers, so a write beyond any of them is caught by ASan. After a
 * successful decode every returned length must be within its buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tproto.h"

/* The capacities tests/unit/test_proto.c uses for the seeds it writes. */
#define OUT_CAP 64
#define LIST_CAP 8
#define NATTRS 4
#define ATTR_CAP 32

static const CK_ATTRIBUTE_TYPE attr_types[NATTRS] = {CKA_CLASS, 0x11, 0x9999, CKA_VALUE};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t op = data[0];
    data++;
    size--;
    if (op == 0) {
        tproto_hello_reply r;
        if (tproto_hello_reply_decode(data, size, &r) == TPROTO_OK &&
            strnlen(r.server, sizeof(r.server)) >= sizeof(r.server))
            abort();
        return 0;
    }
    const tproto_kind *k = tproto_schema(op);
    if (k == NULL)
        return 0;
    static const uint8_t in[] = "input";
    static CK_ULONG class_val = CKO_DATA;
    static CK_ATTRIBUTE tmpl[1] = {{CKA_CLASS, &class_val, sizeof(class_val)}};
    static CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    tproto_arg a[TPROTO_MAX_ARGS];
    void *heap[TPROTO_MAX_ARGS * (NATTRS + 2)];
    size_t nheap = 0;
    CK_ULONG caps[TPROTO_MAX_ARGS][NATTRS];
    memset(a, 0, sizeof(a));
#define ALLOC(n) (heap[nheap++] = malloc(n))
    for (size_t i = 0; k[i] != 0; i++) {
        a[i].kind = k[i];
        switch (k[i]) {
        case TPROTO_ULONG:
            a[i].u.ul = 1;
            break;
        case TPROTO_BYTES:
            a[i].u.bytes.p = in;
            a[i].u.bytes.len = sizeof(in) - 1;
            break;
        case TPROTO_ULONG_OUT:
            a[i].u.ul_out = ALLOC(sizeof(CK_ULONG));
            *a[i].u.ul_out = 0;
            break;
        case TPROTO_OUT:
            a[i].u.out.p = ALLOC(OUT_CAP);
            a[i].u.out.plen = ALLOC(sizeof(CK_ULONG));
            *a[i].u.out.plen = OUT_CAP;
            break;
        case TPROTO_ULONGS_OUT:
            a[i].u.ulongs.p = ALLOC(LIST_CAP * sizeof(CK_ULONG));
            a[i].u.ulongs.cap = LIST_CAP;
            a[i].u.ulongs.count = ALLOC(sizeof(CK_ULONG));
            *a[i].u.ulongs.count = LIST_CAP;
            break;
        case TPROTO_TEMPLATE:
            a[i].u.tmpl.p = tmpl;
            a[i].u.tmpl.n = 1;
            break;
        case TPROTO_ATTRS:
            a[i].u.tmpl.p = ALLOC(NATTRS * sizeof(CK_ATTRIBUTE));
            a[i].u.tmpl.n = NATTRS;
            for (size_t j = 0; j < NATTRS; j++) {
                a[i].u.tmpl.p[j].type = attr_types[j];
                /* the third entry asks for its length only */
                a[i].u.tmpl.p[j].pValue = j == 2 ? NULL : ALLOC(ATTR_CAP);
                a[i].u.tmpl.p[j].ulValueLen = caps[i][j] = ATTR_CAP;
            }
            break;
        case TPROTO_MECH:
            a[i].u.mech = &mech;
            break;
        case TPROTO_TOKEN_INFO:
            a[i].u.token_info = ALLOC(sizeof(CK_TOKEN_INFO));
            break;
        case TPROTO_SESSION_INFO:
            a[i].u.session_info = ALLOC(sizeof(CK_SESSION_INFO));
            break;
        case TPROTO_MECH_INFO:
            a[i].u.mech_info = ALLOC(sizeof(CK_MECHANISM_INFO));
            break;
        }
    }
#undef ALLOC
    for (size_t i = 0; i < nheap; i++)
        if (heap[i] == NULL)
            abort();
    tproto_err err;
    if (tproto_response_decode(data, size, op, &err, a) == TPROTO_OK) {
        for (size_t i = 0; k[i] != 0; i++) {
            /* what was copied fits what was given */
            if (k[i] == TPROTO_OUT && err.rv == CKR_OK && *a[i].u.out.plen > OUT_CAP)
                abort();
            if (k[i] == TPROTO_ATTRS)
                for (size_t j = 0; j < NATTRS; j++) {
                    const CK_ATTRIBUTE *t = &a[i].u.tmpl.p[j];
                    if (t->pValue != NULL && t->ulValueLen != CK_UNAVAILABLE_INFORMATION &&
                        t->ulValueLen > caps[i][j] && err.rv == CKR_OK)
                        abort();
                }
        }
    }
    for (size_t i = 0; i < nheap; i++)
        free(heap[i]);
    return 0;
}
