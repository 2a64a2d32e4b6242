/*
 * The wire codec (src/proto). Every operation goes the whole way: client
 * arguments → request → server arguments in an arena → a simulated call
 * writes outputs → response → the client's arguments, whose memory is then
 * checked (lengths, bytes, two-call convention, CKR_BUFFER_TOO_SMALL,
 * C_GetAttributeValue's per-entry results, NULL pointers kept NULL). Then
 * the mechanism layouts, and the must-fail cases of every check.
 *
 * With TPROTO_SEED_DIR set, the frames of the round trips are written to
 * $TPROTO_SEED_DIR/fuzz_proto_request/ and .../fuzz_proto_response/, the
 * seed corpus of the two fuzz targets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto_int.h"

/* ---- client argument storage ------------------------------------------------------- */

enum { MODE_FULL, MODE_NULLS, MODE_SMALL };

/* The FULL mode's capacities are those of fuzz/fuzz_proto_response.c, so
 * the response seeds written from it fit that target's fixed arguments. */
#define OUT_CAP 64
#define LIST_CAP 8
#define NATTRS 4
#define ATTR_CAP 32
#define FILL 0xEE

/* What the simulated call produces. */
#define OUT_NEED 20
#define LIST_NEED 5
#define CKA_TEST_SENSITIVE 0x11UL /* CKA_LABEL's number, answered as sensitive */
#define CKA_TEST_INVALID 0x9999UL

typedef struct {
    tproto_arg a[TPROTO_MAX_ARGS];
    CK_ULONG ul[TPROTO_MAX_ARGS];
    uint8_t out[TPROTO_MAX_ARGS][OUT_CAP];
    CK_ULONG plen[TPROTO_MAX_ARGS];
    CK_ULONG list[TPROTO_MAX_ARGS][LIST_CAP];
    CK_ULONG count[TPROTO_MAX_ARGS];
    CK_ATTRIBUTE attrs[TPROTO_MAX_ARGS][NATTRS];
    uint8_t vals[TPROTO_MAX_ARGS][NATTRS][ATTR_CAP];
    CK_TOKEN_INFO ti;
    CK_SESSION_INFO si;
    CK_MECHANISM_INFO mi;
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG class_val;
    CK_GCM_PARAMS gcm;
    CK_MECHANISM mech;
} client;

static const uint8_t pin[] = "1234-pin";
static const uint8_t iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t aad[5] = {0xa, 0xa, 0xd, 0xd, 0xd};
static const CK_ATTRIBUTE_TYPE attr_types[NATTRS] = {CKA_CLASS, CKA_TEST_SENSITIVE,
                                                     CKA_TEST_INVALID, CKA_VALUE};

static void client_init(client *c, uint16_t op, int mode)
{
    const tproto_kind *k = tproto_schema(op);
    assert_non_null(k);
    memset(c, FILL, sizeof(*c));
    c->class_val = CKO_SECRET_KEY;
    c->tmpl[0] = (CK_ATTRIBUTE){CKA_CLASS, &c->class_val, sizeof(c->class_val)};
    c->tmpl[1] = (CK_ATTRIBUTE){CKA_LABEL, (void *)pin, 4};
    c->tmpl[2] = (CK_ATTRIBUTE){CKA_ID, NULL, 0};
    c->gcm = (CK_GCM_PARAMS){(CK_BYTE_PTR)iv, sizeof(iv), 96, (CK_BYTE_PTR)aad, sizeof(aad), 128};
    c->mech = (CK_MECHANISM){CKM_AES_GCM, &c->gcm, sizeof(c->gcm)};
    bool nulls = mode == MODE_NULLS;
    for (size_t i = 0; k[i] != 0; i++) {
        tproto_arg *a = &c->a[i];
        memset(a, 0, sizeof(*a));
        a->kind = k[i];
        switch (k[i]) {
        case TPROTO_ULONG:
            a->u.ul = 0x100 + i;
            break;
        case TPROTO_BYTES:
            a->u.bytes.p = nulls ? NULL : pin;
            a->u.bytes.len = nulls ? 3 : sizeof(pin) - 1 - (i & 1);
            break;
        case TPROTO_ULONG_OUT:
            c->ul[i] = 77;
            a->u.ul_out = nulls ? NULL : &c->ul[i];
            break;
        case TPROTO_OUT:
            c->plen[i] = mode == MODE_SMALL ? 4 : OUT_CAP;
            a->u.out.p = nulls ? NULL : c->out[i];
            a->u.out.plen = &c->plen[i];
            break;
        case TPROTO_ULONGS_OUT:
            c->count[i] = mode == MODE_SMALL ? 2 : LIST_CAP;
            a->u.ulongs.p = nulls ? NULL : c->list[i];
            a->u.ulongs.cap = c->count[i];
            a->u.ulongs.count = &c->count[i];
            break;
        case TPROTO_TEMPLATE:
            a->u.tmpl.p = nulls ? NULL : c->tmpl;
            a->u.tmpl.n = nulls ? 0 : 3;
            break;
        case TPROTO_ATTRS:
            for (size_t j = 0; j < NATTRS; j++) {
                c->attrs[i][j].type = attr_types[j];
                c->attrs[i][j].pValue = nulls ? NULL : c->vals[i][j];
                c->attrs[i][j].ulValueLen = mode == MODE_SMALL ? 2 : ATTR_CAP;
            }
            a->u.tmpl.p = c->attrs[i];
            a->u.tmpl.n = NATTRS;
            break;
        case TPROTO_MECH:
            a->u.mech = nulls ? NULL : &c->mech;
            break;
        case TPROTO_TOKEN_INFO:
            a->u.token_info = nulls ? NULL : &c->ti;
            break;
        case TPROTO_SESSION_INFO:
            a->u.session_info = nulls ? NULL : &c->si;
            break;
        case TPROTO_MECH_INFO:
            a->u.mech_info = nulls ? NULL : &c->mi;
            break;
        }
    }
}

/* ---- the simulated call ----------------------------------------------------------- */

static void assert_bytes(const void *a, const void *b, size_t n)
{
    if (n > 0)
        assert_memory_equal(a, b, n);
}

/* The server saw what the client sent, NULL where it was NULL. */
static void check_in(const tproto_kind *k, const tproto_arg *cl, const tproto_arg *sv)
{
    for (size_t i = 0; k[i] != 0; i++) {
        const tproto_arg *c = &cl[i], *s = &sv[i];
        assert_int_equal(s->kind, k[i]);
        switch (k[i]) {
        case TPROTO_ULONG:
            assert_int_equal(s->u.ul, c->u.ul);
            break;
        case TPROTO_BYTES:
            assert_int_equal(s->u.bytes.p == NULL, c->u.bytes.p == NULL);
            assert_int_equal(s->u.bytes.len, c->u.bytes.len);
            if (c->u.bytes.p != NULL)
                assert_bytes(s->u.bytes.p, c->u.bytes.p, c->u.bytes.len);
            break;
        case TPROTO_ULONG_OUT:
            assert_int_equal(s->u.ul_out == NULL, c->u.ul_out == NULL);
            if (c->u.ul_out != NULL)
                assert_int_equal(*s->u.ul_out, *c->u.ul_out);
            break;
        case TPROTO_OUT:
            assert_int_equal(s->u.out.p == NULL, c->u.out.p == NULL);
            assert_int_equal(s->u.out.plen == NULL, c->u.out.plen == NULL);
            if (c->u.out.plen != NULL)
                assert_int_equal(*s->u.out.plen, *c->u.out.plen);
            break;
        case TPROTO_ULONGS_OUT:
            assert_int_equal(s->u.ulongs.p == NULL, c->u.ulongs.p == NULL);
            assert_int_equal(s->u.ulongs.cap, c->u.ulongs.cap);
            assert_int_equal(s->u.ulongs.count == NULL, c->u.ulongs.count == NULL);
            if (c->u.ulongs.count != NULL)
                assert_int_equal(*s->u.ulongs.count, *c->u.ulongs.count);
            break;
        case TPROTO_TEMPLATE:
        case TPROTO_ATTRS:
            assert_int_equal(s->u.tmpl.p == NULL, c->u.tmpl.p == NULL);
            assert_int_equal(s->u.tmpl.n, c->u.tmpl.n);
            for (CK_ULONG j = 0; c->u.tmpl.p != NULL && j < c->u.tmpl.n; j++) {
                const CK_ATTRIBUTE *x = &c->u.tmpl.p[j], *y = &s->u.tmpl.p[j];
                assert_int_equal(y->type, x->type);
                assert_int_equal(y->pValue == NULL, x->pValue == NULL);
                assert_int_equal(y->ulValueLen, x->ulValueLen);
                if (k[i] == TPROTO_TEMPLATE && x->pValue != NULL)
                    assert_bytes(y->pValue, x->pValue, x->ulValueLen);
            }
            break;
        case TPROTO_MECH:
            assert_int_equal(s->u.mech == NULL, c->u.mech == NULL);
            if (c->u.mech != NULL) {
                assert_int_equal(s->u.mech->mechanism, c->u.mech->mechanism);
                assert_int_equal(s->u.mech->ulParameterLen, c->u.mech->ulParameterLen);
            }
            break;
        case TPROTO_TOKEN_INFO:
            assert_int_equal(s->u.token_info == NULL, c->u.token_info == NULL);
            break;
        case TPROTO_SESSION_INFO:
            assert_int_equal(s->u.session_info == NULL, c->u.session_info == NULL);
            break;
        case TPROTO_MECH_INFO:
            assert_int_equal(s->u.mech_info == NULL, c->u.mech_info == NULL);
            break;
        }
    }
}

static void fill_token_info(CK_TOKEN_INFO *t)
{
    memset(t, ' ', sizeof(*t));
    memcpy(t->label, "tessera token", 13);
    memcpy(t->serialNumber, "0123456789abcdef", 16);
    t->flags = CKF_RNG | CKF_TOKEN_INITIALIZED;
    t->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    t->ulSessionCount = 3;
    t->ulMaxRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    t->ulRwSessionCount = 1;
    t->ulMaxPinLen = 64;
    t->ulMinPinLen = 4;
    t->ulTotalPublicMemory = 5;
    t->ulFreePublicMemory = 6;
    t->ulTotalPrivateMemory = 7;
    t->ulFreePrivateMemory = 8;
    t->hardwareVersion = (CK_VERSION){1, 2};
    t->firmwareVersion = (CK_VERSION){3, 4};
    memcpy(t->utcTime, "2024010112000000", 16);
}

/* What a core call does with the outputs, per kind; the CK_RV it returns. */
static CK_RV simulate(const tproto_kind *k, tproto_arg *s)
{
    CK_RV rv = CKR_OK;
#define FAIL(x)                                                                          \
    do {                                                                                 \
        if (rv == CKR_OK)                                                                \
            rv = (x);                                                                    \
    } while (0)
    for (size_t i = 0; k[i] != 0; i++) {
        tproto_arg *a = &s[i];
        switch (k[i]) {
        case TPROTO_ULONG_OUT:
            if (a->u.ul_out != NULL)
                *a->u.ul_out = 0x1000 + i;
            break;
        case TPROTO_OUT:
            if (a->u.out.plen == NULL) {
                FAIL(CKR_ARGUMENTS_BAD);
            } else if (a->u.out.p == NULL) {
                *a->u.out.plen = OUT_NEED;
            } else if (*a->u.out.plen < OUT_NEED) {
                *a->u.out.plen = OUT_NEED;
                FAIL(CKR_BUFFER_TOO_SMALL);
            } else {
                for (size_t j = 0; j < OUT_NEED; j++)
                    ((uint8_t *)a->u.out.p)[j] = (uint8_t)(0x40 + j);
                *a->u.out.plen = OUT_NEED;
            }
            break;
        case TPROTO_ULONGS_OUT:
            if (a->u.ulongs.count == NULL) {
                FAIL(CKR_ARGUMENTS_BAD);
            } else if (a->u.ulongs.p == NULL) {
                *a->u.ulongs.count = LIST_NEED;
            } else if (a->u.ulongs.cap < LIST_NEED) {
                *a->u.ulongs.count = LIST_NEED;
                FAIL(CKR_BUFFER_TOO_SMALL);
            } else {
                for (size_t j = 0; j < LIST_NEED; j++)
                    a->u.ulongs.p[j] = 0x500 + j;
                *a->u.ulongs.count = LIST_NEED;
            }
            break;
        case TPROTO_ATTRS:
            /* PKCS#11 3.0 §5.7.5, entry by entry. */
            for (CK_ULONG j = 0; j < a->u.tmpl.n; j++) {
                CK_ATTRIBUTE *t = &a->u.tmpl.p[j];
                CK_ULONG need = t->type == CKA_CLASS ? sizeof(CK_ULONG) : 3;
                if (t->type == CKA_TEST_SENSITIVE) {
                    t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    FAIL(CKR_ATTRIBUTE_SENSITIVE);
                } else if (t->type == CKA_TEST_INVALID) {
                    t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    FAIL(CKR_ATTRIBUTE_TYPE_INVALID);
                } else if (t->pValue == NULL) {
                    t->ulValueLen = need;
                } else if (t->ulValueLen < need) {
                    t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    FAIL(CKR_BUFFER_TOO_SMALL);
                } else {
                    memset(t->pValue, (int)(0x60 + j), need);
                    t->ulValueLen = need;
                }
            }
            break;
        case TPROTO_TOKEN_INFO:
            if (a->u.token_info != NULL)
                fill_token_info(a->u.token_info);
            else
                FAIL(CKR_ARGUMENTS_BAD);
            break;
        case TPROTO_SESSION_INFO:
            if (a->u.session_info != NULL)
                *a->u.session_info = (CK_SESSION_INFO){7, CKS_RW_USER_FUNCTIONS,
                                                       CKF_RW_SESSION | CKF_SERIAL_SESSION, 0};
            else
                FAIL(CKR_ARGUMENTS_BAD);
            break;
        case TPROTO_MECH_INFO:
            if (a->u.mech_info != NULL)
                *a->u.mech_info = (CK_MECHANISM_INFO){16, 32, CKF_ENCRYPT | CKF_DECRYPT};
            else
                FAIL(CKR_ARGUMENTS_BAD);
            break;
        default:
            break;
        }
    }
#undef FAIL
    return rv;
}

/* The client's memory after the response, given the rv of the call. */
static void check_out(const tproto_kind *k, const client *c, int mode, CK_RV rv)
{
    CK_TOKEN_INFO ti;
    uint8_t fill[OUT_CAP];
    memset(fill, FILL, sizeof(fill));
    for (size_t i = 0; k[i] != 0; i++) {
        const tproto_arg *a = &c->a[i];
        switch (k[i]) {
        case TPROTO_ULONG_OUT:
            if (mode != MODE_NULLS)
                assert_int_equal(c->ul[i], 0x1000 + i);
            break;
        case TPROTO_OUT:
            assert_int_equal(c->plen[i], OUT_NEED);
            if (mode == MODE_FULL && rv == CKR_OK) {
                for (size_t j = 0; j < OUT_NEED; j++)
                    assert_int_equal(c->out[i][j], 0x40 + j);
                assert_memory_equal(c->out[i] + OUT_NEED, fill, OUT_CAP - OUT_NEED);
            } else {
                assert_memory_equal(c->out[i], fill, OUT_CAP);
            }
            break;
        case TPROTO_ULONGS_OUT:
            assert_int_equal(c->count[i], LIST_NEED);
            for (size_t j = 0; j < LIST_CAP; j++) {
                if (mode == MODE_FULL && j < LIST_NEED)
                    assert_int_equal(c->list[i][j], 0x500 + j);
                else
                    assert_memory_equal(&c->list[i][j], fill, sizeof(CK_ULONG));
            }
            break;
        case TPROTO_ATTRS:
            for (size_t j = 0; j < NATTRS; j++) {
                const CK_ATTRIBUTE *t = &a->u.tmpl.p[j];
                CK_ULONG need = t->type == CKA_CLASS ? sizeof(CK_ULONG) : 3;
                if (t->type == CKA_TEST_SENSITIVE || t->type == CKA_TEST_INVALID ||
                    (mode == MODE_SMALL && need > 2)) {
                    assert_int_equal(t->ulValueLen, CK_UNAVAILABLE_INFORMATION);
                    assert_memory_equal(c->vals[i][j], fill, ATTR_CAP);
                } else {
                    assert_int_equal(t->ulValueLen, need);
                    if (mode == MODE_FULL) {
                        for (size_t m = 0; m < need; m++)
                            assert_int_equal(c->vals[i][j][m], 0x60 + j);
                        assert_memory_equal(c->vals[i][j] + need, fill, ATTR_CAP - need);
                    } else {
                        assert_memory_equal(c->vals[i][j], fill, ATTR_CAP);
                    }
                }
            }
            break;
        case TPROTO_TOKEN_INFO:
            if (mode != MODE_NULLS) {
                fill_token_info(&ti);
                /* up to the end of the last field: not the tail padding */
                assert_memory_equal(&c->ti, &ti, offsetof(CK_TOKEN_INFO, utcTime) + 16);
            }
            break;
        case TPROTO_SESSION_INFO:
            if (mode != MODE_NULLS) {
                assert_int_equal(c->si.slotID, 7);
                assert_int_equal(c->si.state, CKS_RW_USER_FUNCTIONS);
                assert_int_equal(c->si.flags, CKF_RW_SESSION | CKF_SERIAL_SESSION);
                assert_int_equal(c->si.ulDeviceError, 0);
            }
            break;
        case TPROTO_MECH_INFO:
            if (mode != MODE_NULLS) {
                assert_int_equal(c->mi.ulMinKeySize, 16);
                assert_int_equal(c->mi.ulMaxKeySize, 32);
                assert_int_equal(c->mi.flags, CKF_ENCRYPT | CKF_DECRYPT);
            }
            break;
        default:
            break;
        }
    }
}

/* ---- seeds ------------------------------------------------------------------------- */

static void write_seed(const char *target, const char *name, int n, const uint8_t *p,
                       size_t len, int prefix)
{
    const char *dir = getenv("TPROTO_SEED_DIR");
    char path[1024];
    if (dir == NULL || *dir == 0)
        return;
    snprintf(path, sizeof(path), "%s/%s/%s-%d", dir, target, name, n);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (prefix >= 0)
        fputc(prefix, f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* ---- the round trip ---------------------------------------------------------------- */

static tproto_arena arena;

static int setup(void **state)
{
    (void)state;
    return tproto_arena_init(&arena, tproto_arena_size()) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tproto_arena_free(&arena);
    return 0;
}

/* Request in a frame, header parsed, body decoded on the server. */
static void request_to_server(uint16_t op, const tproto_arg *cl, tproto_arg *sv, tc_buf *req)
{
    tproto_header h;
    size_t flen;
    tc_buf_init(req);
    tproto_frame_begin(req, TPROTO_REQUEST, op, 0xabcd0000u + op);
    assert_true(tproto_request_encode(req, op, cl));
    assert_true(tproto_frame_end(req, 0));
    assert_int_equal(tproto_header_parse(req->p, req->len, &h, &flen), TPROTO_OK);
    assert_int_equal(flen, req->len);
    assert_int_equal(h.op, op);
    assert_int_equal(h.kind, TPROTO_REQUEST);
    assert_int_equal(h.id, 0xabcd0000u + op);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(req->p + TPROTO_HEADER_LEN,
                                           req->len - TPROTO_HEADER_LEN, op, &arena, sv),
                     TPROTO_OK);
}

static void round_trip(uint16_t op, int mode)
{
    static int seq;
    const tproto_kind *k = tproto_schema(op);
    client c;
    tproto_arg sv[TPROTO_MAX_ARGS];
    tc_buf req, resp;
    tproto_err err = {0}, got;
    client_init(&c, op, mode);
    request_to_server(op, c.a, sv, &req);
    check_in(k, c.a, sv);
    err.rv = simulate(k, sv);
    err.arg = err.rv == CKR_OK ? 0 : 15;
    err.index = err.rv == CKR_OK ? -1 : 2;
    err.attr = err.rv == CKR_OK ? 0 : CKA_VALUE;
    tc_buf_init(&resp);
    tproto_frame_begin(&resp, TPROTO_RESPONSE, op, 1);
    assert_true(tproto_response_encode(&resp, op, &err, sv));
    assert_true(tproto_frame_end(&resp, 0));
    tproto_arena_reset(&arena);
    memset(&got, 0, sizeof(got));
    assert_int_equal(tproto_response_decode(resp.p + TPROTO_HEADER_LEN,
                                            resp.len - TPROTO_HEADER_LEN, op, &got, c.a),
                     TPROTO_OK);
    assert_int_equal(got.rv, err.rv);
    assert_int_equal(got.arg, err.arg);
    assert_int_equal(got.index, err.index);
    assert_int_equal(got.attr, err.attr);
    check_out(k, &c, mode, err.rv);
    write_seed("fuzz_proto_request", tproto_op_name(op), seq, req.p, req.len, -1);
    write_seed("fuzz_proto_response", tproto_op_name(op), seq, resp.p + TPROTO_HEADER_LEN,
               resp.len - TPROTO_HEADER_LEN, op);
    seq++;
    tc_buf_free(&req);
    tc_buf_free(&resp);
}

static void test_every_op(void **state)
{
    (void)state;
    for (uint16_t op = TPROTO_OP_HELLO + 1; op < TPROTO_OP_END; op++) {
        assert_non_null(tproto_op_name(op));
        round_trip(op, MODE_FULL);
        round_trip(op, MODE_NULLS);
        round_trip(op, MODE_SMALL);
    }
    assert_null(tproto_schema(TPROTO_OP_HELLO));
    assert_null(tproto_schema(TPROTO_OP_END));
    assert_null(tproto_schema(0));
    assert_null(tproto_op_name(TPROTO_OP_END));
    assert_true(tproto_op_has_session(TPROTO_OP_CRYPT));
    assert_false(tproto_op_has_session(TPROTO_OP_SLOT_LIST));
    assert_false(tproto_op_has_session(TPROTO_OP_HELLO));
}

/* Two-call convention over the wire: the length, then the bytes. */
static void test_two_call(void **state)
{
    (void)state;
    client c;
    tproto_arg sv[TPROTO_MAX_ARGS];
    tc_buf req, resp;
    tproto_err err = {0}, got;
    uint16_t op = TPROTO_OP_CRYPT;
    client_init(&c, op, MODE_NULLS);
    c.a[2].u.bytes.p = pin; /* NULL data is another matter */
    c.plen[3] = 0;
    request_to_server(op, c.a, sv, &req);
    assert_null(sv[3].u.out.p);
    err.rv = simulate(tproto_schema(op), sv);
    tc_buf_init(&resp);
    assert_true(tproto_response_encode(&resp, op, &err, sv));
    assert_int_equal(tproto_response_decode(resp.p, resp.len, op, &got, c.a), TPROTO_OK);
    assert_int_equal(got.rv, CKR_OK);
    assert_int_equal(c.plen[3], OUT_NEED);
    tc_buf_free(&req);
    tc_buf_free(&resp);
    /* second call, with the length the first one gave */
    c.a[3].u.out.p = c.out[3];
    request_to_server(op, c.a, sv, &req);
    err.rv = simulate(tproto_schema(op), sv);
    tc_buf_init(&resp);
    assert_true(tproto_response_encode(&resp, op, &err, sv));
    assert_int_equal(tproto_response_decode(resp.p, resp.len, op, &got, c.a), TPROTO_OK);
    assert_int_equal(got.rv, CKR_OK);
    assert_int_equal(c.plen[3], OUT_NEED);
    assert_int_equal(c.out[3][0], 0x40);
    assert_int_equal(c.out[3][OUT_NEED - 1], 0x40 + OUT_NEED - 1);
    assert_int_equal(c.out[3][OUT_NEED], FILL);
    tc_buf_free(&req);
    tc_buf_free(&resp);
}

/* A failure other than the length ones leaves outputs as they were, even
 * where the server offered less room than the client has. */
static void test_failure_keeps_outputs(void **state)
{
    (void)state;
    static uint8_t big[TPROTO_MAX_OUT + 100];
    CK_ULONG len = sizeof(big), n = 100000, handle = 5;
    CK_ULONG list[4];
    tproto_arg cl[4] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_ULONG},
                        {.kind = TPROTO_BYTES}, {.kind = TPROTO_OUT}};
    tproto_arg sv[TPROTO_MAX_ARGS];
    tproto_err err = {CKR_SESSION_HANDLE_INVALID, 2, -1, 0}, got;
    tc_buf req, resp;
    cl[2].u.bytes.p = pin;
    cl[2].u.bytes.len = 3;
    cl[3].u.out.p = big;
    cl[3].u.out.plen = &len;
    tc_buf_init(&req);
    assert_true(tproto_request_encode(&req, TPROTO_OP_CRYPT, cl));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(req.p, req.len, TPROTO_OP_CRYPT, &arena, sv),
                     TPROTO_OK);
    assert_int_equal(*sv[3].u.out.plen, TPROTO_MAX_OUT); /* capped */
    tc_buf_init(&resp);
    assert_true(tproto_response_encode(&resp, TPROTO_OP_CRYPT, &err, sv));
    assert_int_equal(tproto_response_decode(resp.p, resp.len, TPROTO_OP_CRYPT, &got, cl),
                     TPROTO_OK);
    assert_int_equal(got.rv, CKR_SESSION_HANDLE_INVALID);
    assert_int_equal(len, sizeof(big));
    tc_buf_free(&req);
    tc_buf_free(&resp);

    /* a list count beyond what the server allocates */
    tproto_arg ls[1] = {{.kind = TPROTO_ULONGS_OUT}};
    ls[0].u.ulongs.p = list;
    ls[0].u.ulongs.cap = n;
    ls[0].u.ulongs.count = &n;
    tc_buf_init(&req);
    assert_true(tproto_request_encode(&req, TPROTO_OP_SLOT_LIST, ls));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(req.p, req.len, TPROTO_OP_SLOT_LIST, &arena, sv),
                     TPROTO_OK);
    assert_int_equal(sv[0].u.ulongs.cap, TPROTO_MAX_ULONGS);
    assert_int_equal(*sv[0].u.ulongs.count, TPROTO_MAX_ULONGS);
    err.rv = CKR_GENERAL_ERROR;
    tc_buf_init(&resp);
    assert_true(tproto_response_encode(&resp, TPROTO_OP_SLOT_LIST, &err, sv));
    assert_int_equal(tproto_response_decode(resp.p, resp.len, TPROTO_OP_SLOT_LIST, &got, ls),
                     TPROTO_OK);
    assert_int_equal(n, 100000);
    tc_buf_free(&req);
    tc_buf_free(&resp);

    /* a handle output and a template are left alone on failure too */
    tproto_arg oc[4] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_TEMPLATE},
                        {.kind = TPROTO_ULONG_OUT}};
    oc[2].u.ul_out = &handle;
    tc_buf_init(&req);
    assert_true(tproto_request_encode(&req, TPROTO_OP_OBJECT_CREATE, oc));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(req.p, req.len, TPROTO_OP_OBJECT_CREATE, &arena, sv),
                     TPROTO_OK);
    assert_null(sv[1].u.tmpl.p);
    tc_buf_init(&resp);
    assert_true(tproto_response_encode(&resp, TPROTO_OP_OBJECT_CREATE, &err, sv));
    assert_int_equal(tproto_response_decode(resp.p, resp.len, TPROTO_OP_OBJECT_CREATE, &got, oc),
                     TPROTO_OK);
    assert_int_equal(handle, 5);
    tc_buf_free(&req);
    tc_buf_free(&resp);
}

/* ---- mechanisms -------------------------------------------------------------------- */

/* CRYPT_INIT carries m; the server's rebuilt mechanism is returned. */
static const CK_MECHANISM *mech_trip(const CK_MECHANISM *m, tc_buf *req)
{
    tproto_arg cl[4] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_ULONG}, {.kind = TPROTO_MECH},
                        {.kind = TPROTO_ULONG}};
    static tproto_arg sv[TPROTO_MAX_ARGS];
    cl[2].u.mech = m;
    tc_buf_init(req);
    assert_true(tproto_request_encode(req, TPROTO_OP_CRYPT_INIT, cl));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(req->p, req->len, TPROTO_OP_CRYPT_INIT, &arena, sv),
                     TPROTO_OK);
    assert_non_null(sv[2].u.mech);
    assert_int_equal(sv[2].u.mech->mechanism, m->mechanism);
    assert_int_equal(sv[2].u.mech->ulParameterLen, m->ulParameterLen);
    assert_int_equal(sv[2].u.mech->pParameter == NULL, m->pParameter == NULL);
    /* rebuilt, never the caller's pointer */
    if (m->pParameter != NULL)
        assert_ptr_not_equal(sv[2].u.mech->pParameter, m->pParameter);
    return sv[2].u.mech;
}

static void assert_ptr_bytes(const void *got, const void *want, size_t n)
{
    assert_int_equal(got == NULL, want == NULL);
    if (want != NULL) {
        assert_ptr_not_equal(got, want);
        assert_bytes(got, want, n);
    }
}

typedef struct {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits;
} gcm240;

static void test_mech_layouts(void **state)
{
    (void)state;
    tc_buf req;
    uint8_t label[] = "oaep label", salt[] = "salty", info[] = "info", shared[] = "shared",
            pub[65] = {4, 1, 2, 3}, ctx[] = "context", cb[16] = {0xff, 1};

    CK_GCM_PARAMS g = {(CK_BYTE_PTR)iv, sizeof(iv), 96, (CK_BYTE_PTR)aad, sizeof(aad), 128};
    CK_MECHANISM m = {CKM_AES_GCM, &g, sizeof(g)};
    const CK_GCM_PARAMS *sg = mech_trip(&m, &req)->pParameter;
    assert_ptr_bytes(sg->pIv, iv, sizeof(iv));
    assert_int_equal(sg->ulIvLen, sizeof(iv));
    assert_int_equal(sg->ulIvBits, 96);
    assert_ptr_bytes(sg->pAAD, aad, sizeof(aad));
    assert_int_equal(sg->ulAADLen, sizeof(aad));
    assert_int_equal(sg->ulTagBits, 128);
    tc_buf_free(&req);

    /* no AAD: a NULL pointer stays NULL */
    g.pAAD = NULL;
    g.ulAADLen = 0;
    sg = mech_trip(&m, &req)->pParameter;
    assert_null(sg->pAAD);
    tc_buf_free(&req);

    gcm240 g2 = {(CK_BYTE_PTR)iv, sizeof(iv), (CK_BYTE_PTR)aad, sizeof(aad), 96};
    m = (CK_MECHANISM){CKM_AES_GCM, &g2, sizeof(g2)};
    const gcm240 *sg2 = mech_trip(&m, &req)->pParameter;
    assert_ptr_bytes(sg2->pIv, iv, sizeof(iv));
    assert_int_equal(sg2->ulIvLen, sizeof(iv));
    assert_ptr_bytes(sg2->pAAD, aad, sizeof(aad));
    assert_int_equal(sg2->ulAADLen, sizeof(aad));
    assert_int_equal(sg2->ulTagBits, 96);
    tc_buf_free(&req);

    CK_RSA_PKCS_OAEP_PARAMS o = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label,
                                 sizeof(label) - 1};
    m = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &o, sizeof(o)};
    const CK_RSA_PKCS_OAEP_PARAMS *so = mech_trip(&m, &req)->pParameter;
    assert_int_equal(so->hashAlg, CKM_SHA256);
    assert_int_equal(so->mgf, CKG_MGF1_SHA256);
    assert_int_equal(so->source, CKZ_DATA_SPECIFIED);
    assert_ptr_bytes(so->pSourceData, label, sizeof(label) - 1);
    assert_int_equal(so->ulSourceDataLen, sizeof(label) - 1);
    tc_buf_free(&req);

    CK_RSA_PKCS_PSS_PARAMS p = {CKM_SHA384, CKG_MGF1_SHA384, 48};
    m = (CK_MECHANISM){CKM_SHA384_RSA_PKCS_PSS, &p, sizeof(p)};
    assert_memory_equal(mech_trip(&m, &req)->pParameter, &p, sizeof(p));
    tc_buf_free(&req);

    CK_HKDF_PARAMS h = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_DATA, salt,
                        sizeof(salt) - 1, CK_INVALID_HANDLE, info, sizeof(info) - 1};
    m = (CK_MECHANISM){CKM_HKDF_DERIVE, &h, sizeof(h)};
    const CK_HKDF_PARAMS *sh = mech_trip(&m, &req)->pParameter;
    assert_int_equal(sh->bExtract, CK_TRUE);
    assert_int_equal(sh->bExpand, CK_TRUE);
    assert_int_equal(sh->prfHashMechanism, CKM_SHA256);
    assert_int_equal(sh->ulSaltType, CKF_HKDF_SALT_DATA);
    assert_ptr_bytes(sh->pSalt, salt, sizeof(salt) - 1);
    assert_int_equal(sh->ulSaltLen, sizeof(salt) - 1);
    assert_ptr_bytes(sh->pInfo, info, sizeof(info) - 1);
    assert_int_equal(sh->ulInfoLen, sizeof(info) - 1);
    tc_buf_free(&req);

    h = (CK_HKDF_PARAMS){CK_TRUE, CK_FALSE, CKM_SHA512, CKF_HKDF_SALT_KEY, NULL, 0, 0x1234,
                         NULL, 0};
    sh = mech_trip(&m, &req)->pParameter;
    assert_int_equal(sh->bExpand, CK_FALSE);
    assert_int_equal(sh->ulSaltType, CKF_HKDF_SALT_KEY);
    assert_null(sh->pSalt);
    assert_int_equal(sh->hSaltKey, 0x1234);
    assert_null(sh->pInfo);
    tc_buf_free(&req);

    CK_ECDH1_DERIVE_PARAMS e = {CKD_SHA256_KDF, sizeof(shared) - 1, shared, sizeof(pub), pub};
    m = (CK_MECHANISM){CKM_ECDH1_DERIVE, &e, sizeof(e)};
    const CK_ECDH1_DERIVE_PARAMS *se = mech_trip(&m, &req)->pParameter;
    assert_int_equal(se->kdf, CKD_SHA256_KDF);
    assert_ptr_bytes(se->pSharedData, shared, sizeof(shared) - 1);
    assert_int_equal(se->ulSharedDataLen, sizeof(shared) - 1);
    assert_ptr_bytes(se->pPublicData, pub, sizeof(pub));
    assert_int_equal(se->ulPublicDataLen, sizeof(pub));
    tc_buf_free(&req);

    CK_EDDSA_PARAMS ed = {CK_TRUE, sizeof(ctx) - 1, ctx};
    m = (CK_MECHANISM){CKM_EDDSA, &ed, sizeof(ed)};
    const CK_EDDSA_PARAMS *sed = mech_trip(&m, &req)->pParameter;
    assert_int_equal(sed->phFlag, CK_TRUE);
    assert_ptr_bytes(sed->pContextData, ctx, sizeof(ctx) - 1);
    assert_int_equal(sed->ulContextDataLen, sizeof(ctx) - 1);
    tc_buf_free(&req);

    CK_AES_CTR_PARAMS ctr = {64, {0}};
    memcpy(ctr.cb, cb, sizeof(cb));
    m = (CK_MECHANISM){CKM_AES_CTR, &ctr, sizeof(ctr)};
    const CK_AES_CTR_PARAMS *sctr = mech_trip(&m, &req)->pParameter;
    assert_int_equal(sctr->ulCounterBits, 64);
    assert_memory_equal(sctr->cb, cb, 16);
    tc_buf_free(&req);

    CK_ULONG maclen = 12;
    m = (CK_MECHANISM){CKM_SHA256_HMAC_GENERAL, &maclen, sizeof(maclen)};
    assert_memory_equal(mech_trip(&m, &req)->pParameter, &maclen, sizeof(maclen));
    tc_buf_free(&req);

    /* an IV: raw bytes */
    uint8_t cbc_iv[16] = {9, 8, 7};
    m = (CK_MECHANISM){CKM_AES_CBC_PAD, cbc_iv, sizeof(cbc_iv)};
    assert_memory_equal(mech_trip(&m, &req)->pParameter, cbc_iv, sizeof(cbc_iv));
    tc_buf_free(&req);

    /* NULL parameter with a length, and a struct of a size no layout has:
     * both reach the core as the caller gave them (it answers
     * CKR_MECHANISM_PARAM_INVALID). */
    m = (CK_MECHANISM){CKM_AES_GCM, NULL, sizeof(CK_GCM_PARAMS)};
    mech_trip(&m, &req);
    tc_buf_free(&req);
    m = (CK_MECHANISM){CKM_AES_GCM, &g, 7};
    assert_memory_equal(mech_trip(&m, &req)->pParameter, &g, 7);
    tc_buf_free(&req);
    m = (CK_MECHANISM){CKM_RSA_PKCS, NULL, 0};
    assert_null(mech_trip(&m, &req)->pParameter);
    tc_buf_free(&req);
}

/* A request body of CRYPT_INIT whose mechanism is given as bytes. */
static void crypt_init_body(tc_buf *b, CK_MECHANISM_TYPE mech, uint8_t form, const void *p,
                            size_t n)
{
    tc_buf_init(b);
    tc_buf_put_u64(b, 1); /* session */
    tc_buf_put_u64(b, 1); /* kind */
    tc_buf_put_u8(b, 1);  /* mechanism present */
    tc_buf_put_u64(b, mech);
    tc_buf_put_u8(b, form);
    tc_buf_put(b, p, n);
    tc_buf_put_u64(b, 9); /* key */
}

static void test_mech_raw_pointer_struct_refused(void **state)
{
    (void)state;
    tproto_arg sv[TPROTO_MAX_ARGS];
    tc_buf b;
    uint8_t raw[8 + sizeof(CK_HKDF_PARAMS)];
    static const struct {
        CK_MECHANISM_TYPE mech;
        size_t size;
    } cases[] = {
        {CKM_AES_GCM, sizeof(CK_GCM_PARAMS)},
        {CKM_AES_GCM, sizeof(gcm240)},
        {CKM_RSA_PKCS_OAEP, sizeof(CK_RSA_PKCS_OAEP_PARAMS)},
        {CKM_EDDSA, sizeof(CK_EDDSA_PARAMS)},
        {CKM_ECDH1_DERIVE, sizeof(CK_ECDH1_DERIVE_PARAMS)},
        {CKM_HKDF_DERIVE, sizeof(CK_HKDF_PARAMS)},
    };
    for (size_t i = 0; i < TC_ARRAY_LEN(cases); i++) {
        memset(raw, 0x41, sizeof(raw));
        tc_store_u64(raw, cases[i].size);
        crypt_init_body(&b, cases[i].mech, 1, raw, 8 + cases[i].size);
        tproto_arena_reset(&arena);
        assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_CRYPT_INIT, &arena, sv),
                         TPROTO_EMALFORMED);
        tc_buf_free(&b);
    }
    /* a flat struct as raw bytes is harmless and accepted */
    tc_store_u64(raw, sizeof(CK_RSA_PKCS_PSS_PARAMS));
    crypt_init_body(&b, CKM_RSA_PKCS_PSS, 1, raw, 8 + sizeof(CK_RSA_PKCS_PSS_PARAMS));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_CRYPT_INIT, &arena, sv),
                     TPROTO_OK);
    tc_buf_free(&b);
    /* a layout id that is not the mechanism's, and an unknown form */
    uint8_t id = 3; /* OAEP's */
    crypt_init_body(&b, CKM_AES_GCM, 2, &id, 1);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_CRYPT_INIT, &arena, sv),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);
    crypt_init_body(&b, CKM_AES_GCM, 3, raw, 8);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_CRYPT_INIT, &arena, sv),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);
}

/* Every mechanism of the core's table whose parameter is a struct has a
 * layout, pointer-bearing ones included: the table is read from
 * src/core/mech.c, so a new mechanism there fails this test until it is
 * listed here (and in mech_param.c). */
#define M(name, size, ptr) {name, #name, size, ptr}
static const struct {
    CK_MECHANISM_TYPE mech;
    const char *name;
    size_t size;
    bool ptr;
} struct_mechs[] = {
    M(CKM_AES_GCM, sizeof(CK_GCM_PARAMS), true),
    M(CKM_RSA_PKCS_OAEP, sizeof(CK_RSA_PKCS_OAEP_PARAMS), true),
    M(CKM_EDDSA, sizeof(CK_EDDSA_PARAMS), true),
    M(CKM_ECDH1_DERIVE, sizeof(CK_ECDH1_DERIVE_PARAMS), true),
    M(CKM_HKDF_DERIVE, sizeof(CK_HKDF_PARAMS), true),
    M(CKM_AES_CTR, sizeof(CK_AES_CTR_PARAMS), false),
    M(CKM_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA1_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA224_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA256_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA384_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA512_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA3_224_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA3_256_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA3_384_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_SHA3_512_RSA_PKCS_PSS, sizeof(CK_RSA_PKCS_PSS_PARAMS), false),
    M(CKM_AES_CMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_DES3_CMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA_1_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA224_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA256_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA384_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA512_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA3_224_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA3_256_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA3_384_HMAC_GENERAL, sizeof(CK_ULONG), false),
    M(CKM_SHA3_512_HMAC_GENERAL, sizeof(CK_ULONG), false),
};
#undef M

/* The core's mechanism families whose parameter is a struct. */
static const char *const struct_families[] = {"MF_RSA_OAEP", "MF_RSA_PSS", "MF_EDDSA",
                                              "MF_ECDH", "MF_HKDF", "MF_AES_CTR",
                                              "MF_AES_GCM", "MF_CMAC_GENERAL",
                                              "MF_HMAC_GENERAL"};

static void test_mech_layout_coverage(void **state)
{
    (void)state;
    for (size_t i = 0; i < TC_ARRAY_LEN(struct_mechs); i++) {
        const tproto_mech_layout *l =
            tproto_mech_layout_find(struct_mechs[i].mech, struct_mechs[i].size);
        if (l == NULL)
            fail_msg("%s has no layout", struct_mechs[i].name);
        assert_int_equal(l->has_ptr, struct_mechs[i].ptr);
    }
    assert_non_null(tproto_mech_layout_find(CKM_AES_GCM, sizeof(gcm240)));

    char path[1024];
    const char *src = getenv("TESSERA_SRC_DIR");
    if (src != NULL && *src != 0) {
        snprintf(path, sizeof(path), "%s/src/core/mech.c", src);
    } else {
        snprintf(path, sizeof(path), "%s", __FILE__);
        char *slash = strstr(path, "tests/unit/test_proto.c");
        assert_non_null(slash);
        snprintf(slash, sizeof(path) - (size_t)(slash - path), "src/core/mech.c");
    }
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    char line[512];
    int seen = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char name[128];
        if (sscanf(line, " {%127[A-Z0-9_],", name) != 1 || strncmp(name, "CKM_", 4) != 0)
            continue;
        bool is_struct = false;
        for (size_t j = 0; j < TC_ARRAY_LEN(struct_families); j++) {
            char fam[64];
            snprintf(fam, sizeof(fam), " %s,", struct_families[j]);
            is_struct |= strstr(line, fam) != NULL;
        }
        if (!is_struct)
            continue;
        bool listed = false;
        for (size_t j = 0; j < TC_ARRAY_LEN(struct_mechs); j++)
            listed |= strcmp(struct_mechs[j].name, name) == 0;
        if (!listed)
            fail_msg("%s (a struct parameter in src/core/mech.c) has no layout test", name);
        seen++;
    }
    fclose(f);
    assert_int_equal(seen, (int)TC_ARRAY_LEN(struct_mechs));
}

/* ---- must-fail --------------------------------------------------------------------- */

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    tproto_arg sv[TPROTO_MAX_ARGS];
    for (uint16_t op = TPROTO_OP_HELLO + 1; op < TPROTO_OP_END; op++) {
        client c;
        tc_buf b;
        client_init(&c, op, MODE_FULL);
        tc_buf_init(&b);
        assert_true(tproto_request_encode(&b, op, c.a));
        for (size_t n = 0; n < b.len; n++) {
            tproto_arena_reset(&arena);
            assert_int_not_equal(tproto_request_decode(b.p, n, op, &arena, sv), TPROTO_OK);
        }
        tc_buf_put_u8(&b, 0);
        tproto_arena_reset(&arena);
        assert_int_equal(tproto_request_decode(b.p, b.len, op, &arena, sv), TPROTO_EMALFORMED);
        b.len--;
        tproto_arena_reset(&arena);
        assert_int_equal(tproto_request_decode(b.p, b.len, op, &arena, sv), TPROTO_OK);

        /* the response, truncated: nothing of the client's is written */
        tproto_err err = {0}, got = {0};
        err.rv = simulate(tproto_schema(op), sv);
        tc_buf r;
        tc_buf_init(&r);
        assert_true(tproto_response_encode(&r, op, &err, sv));
        client before;
        memcpy(&before, &c, sizeof(c));
        for (size_t n = 0; n < r.len; n++) {
            assert_int_equal(tproto_response_decode(r.p, n, op, &got, c.a), TPROTO_EMALFORMED);
            assert_memory_equal(&before, &c, sizeof(c));
        }
        tc_buf_put_u8(&r, 0);
        assert_int_equal(tproto_response_decode(r.p, r.len, op, &got, c.a), TPROTO_EMALFORMED);
        assert_memory_equal(&before, &c, sizeof(c));
        tc_buf_free(&b);
        tc_buf_free(&r);
    }
}

static void test_counts_and_values(void **state)
{
    (void)state;
    tproto_arg sv[TPROTO_MAX_ARGS];
    tc_buf b;
    /* FIND_INIT whose template claims more entries than bytes follow:
     * refused before anything is allocated */
    tc_buf_init(&b);
    tc_buf_put_u64(&b, 1);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 200);
    for (int i = 0; i < 10; i++)
        tc_buf_put_u8(&b, 0);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_FIND_INIT, &arena, sv),
                     TPROTO_EMALFORMED);
    assert_int_equal(arena.used, 0);
    tc_buf_free(&b);
    /* more entries than TPROTO_MAX_ATTRS, with the bytes there */
    tc_buf_init(&b);
    tc_buf_put_u64(&b, 1);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, TPROTO_MAX_ATTRS + 1);
    for (int i = 0; i < (TPROTO_MAX_ATTRS + 1) * 17; i++)
        tc_buf_put_u8(&b, 0);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_FIND_INIT, &arena, sv),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);
    /* a byte string longer than the body */
    tc_buf_init(&b);
    tc_buf_put_u64(&b, 1);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 1000);
    tc_buf_put(&b, "abc", 3);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_SEED_RANDOM, &arena, sv),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);
    /* a presence byte other than 0/1 */
    tc_buf_init(&b);
    tc_buf_put_u64(&b, 1);
    tc_buf_put_u8(&b, 2);
    tc_buf_put_u64(&b, 0);
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_SEED_RANDOM, &arena, sv),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);
    /* unknown operations */
    assert_int_equal(tproto_request_decode(NULL, 0, TPROTO_OP_END, &arena, sv),
                     TPROTO_EUNKNOWN_OP);
    assert_int_equal(tproto_request_decode(NULL, 0, TPROTO_OP_HELLO, &arena, sv),
                     TPROTO_EUNKNOWN_OP);
    assert_int_equal(tproto_request_decode(NULL, 0, 0, &arena, sv), TPROTO_EUNKNOWN_OP);
    /* a template over the limit is not encoded by the client */
    static CK_ATTRIBUTE many[TPROTO_MAX_ATTRS + 1];
    tproto_arg cl[2] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_TEMPLATE}};
    cl[1].u.tmpl.p = many;
    cl[1].u.tmpl.n = TPROTO_MAX_ATTRS + 1;
    tc_buf_init(&b);
    assert_false(tproto_request_encode(&b, TPROTO_OP_FIND_INIT, cl));
    tc_buf_free(&b);
    /* arguments of the wrong kind */
    cl[1].kind = TPROTO_ATTRS;
    tc_buf_init(&b);
    assert_false(tproto_request_encode(&b, TPROTO_OP_FIND_INIT, cl));
    tc_buf_free(&b);
}

static void test_frames(void **state)
{
    (void)state;
    uint8_t h[TPROTO_HEADER_LEN];
    tproto_header hd;
    size_t flen;
    tc_buf b;
    tc_buf_init(&b);
    tproto_frame_begin(&b, TPROTO_REQUEST, TPROTO_OP_RANDOM, 42);
    assert_true(tproto_frame_end(&b, 0));
    memcpy(h, b.p, sizeof(h));
    assert_int_equal(tc_load_u32(h), 8);
    for (size_t n = 0; n < TPROTO_HEADER_LEN; n++)
        assert_int_equal(tproto_header_parse(h, n, &hd, &flen), TPROTO_NEED_MORE);
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_OK);
    assert_int_equal(flen, TPROTO_HEADER_LEN);
    assert_int_equal(hd.id, 42);
    assert_int_equal(hd.op, TPROTO_OP_RANDOM);
    tc_store_u32(h, TPROTO_MAX_FRAME - 4);
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_OK);
    assert_int_equal(flen, TPROTO_MAX_FRAME);
    tc_store_u32(h, TPROTO_MAX_FRAME - 3);
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_ETOOBIG);
    tc_store_u32(h, 0xffffffffu);
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_ETOOBIG);
    tc_store_u32(h, 7);
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_EMALFORMED);
    tc_store_u32(h, 8);
    h[4] = TPROTO_VERSION + 1;
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_EVERSION);
    h[4] = 0;
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_EVERSION);
    h[4] = TPROTO_VERSION;
    h[5] = 2;
    assert_int_equal(tproto_header_parse(h, sizeof(h), &hd, &flen), TPROTO_EMALFORMED);
    /* a frame beyond the limit is not closed */
    tc_buf_put(&b, NULL, 0);
    assert_true(tc_buf_reserve(&b, TPROTO_MAX_FRAME));
    memset(b.p + b.len, 0, TPROTO_MAX_FRAME - b.len + 1);
    b.len = TPROTO_MAX_FRAME + 1;
    assert_false(tproto_frame_end(&b, 0));
    b.len = TPROTO_MAX_FRAME;
    assert_true(tproto_frame_end(&b, 0));
    tc_buf_free(&b);
    for (int s = TPROTO_OK; s <= TPROTO_ENOMEM; s++)
        assert_non_null(tproto_status_name((tproto_status)s));
}

/* A response claiming more than the client's room is malformed, and the
 * client's buffers are untouched. */
static void test_response_beyond_capacity(void **state)
{
    (void)state;
    tproto_err got = {0};
    uint8_t out[8], fill[8];
    CK_ULONG len = sizeof(out);
    memset(out, FILL, sizeof(out));
    memset(fill, FILL, sizeof(fill));
    tproto_arg cl[3] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_OUT}};
    cl[1].u.out.p = out;
    cl[1].u.out.plen = &len;
    tc_buf b;
    tc_buf_init(&b);
    tc_buf_put_u64(&b, CKR_OK);
    tc_buf_put_u32(&b, 0);
    tc_buf_put_u64(&b, (uint64_t)-1);
    tc_buf_put_u64(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 20);
    for (int i = 0; i < 20; i++)
        tc_buf_put_u8(&b, 0x33);
    assert_int_equal(tproto_response_decode(b.p, b.len, TPROTO_OP_RANDOM, &got, cl),
                     TPROTO_EMALFORMED);
    assert_memory_equal(out, fill, sizeof(out));
    assert_int_equal(len, sizeof(out));
    tc_buf_free(&b);

    /* a list of more entries than the room */
    CK_ULONG list[2] = {7, 7}, count = 2;
    tproto_arg ls[1] = {{.kind = TPROTO_ULONGS_OUT}};
    ls[0].u.ulongs.p = list;
    ls[0].u.ulongs.cap = 2;
    ls[0].u.ulongs.count = &count;
    tc_buf_init(&b);
    tc_buf_put_u64(&b, CKR_OK);
    tc_buf_put_u32(&b, 0);
    tc_buf_put_u64(&b, (uint64_t)-1);
    tc_buf_put_u64(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 3);
    tc_buf_put_u32(&b, 3);
    for (int i = 0; i < 3; i++)
        tc_buf_put_u64(&b, 1);
    assert_int_equal(tproto_response_decode(b.p, b.len, TPROTO_OP_SLOT_LIST, &got, ls),
                     TPROTO_EMALFORMED);
    assert_int_equal(list[0], 7);
    assert_int_equal(count, 2);
    tc_buf_free(&b);

    /* an attribute value longer than its buffer, after a good entry */
    uint8_t v0[8], v1[4];
    memset(v0, FILL, sizeof(v0));
    memset(v1, FILL, sizeof(v1));
    CK_ATTRIBUTE t[2] = {{CKA_ID, v0, sizeof(v0)}, {CKA_LABEL, v1, sizeof(v1)}};
    tproto_arg at[3] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_ULONG}, {.kind = TPROTO_ATTRS}};
    at[2].u.tmpl.p = t;
    at[2].u.tmpl.n = 2;
    tc_buf_init(&b);
    tc_buf_put_u64(&b, CKR_OK);
    tc_buf_put_u32(&b, 0);
    tc_buf_put_u64(&b, (uint64_t)-1);
    tc_buf_put_u64(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 2);
    tc_buf_put_u8(&b, 1);
    tc_buf_put(&b, "ok", 2);
    tc_buf_put_u64(&b, 5);
    tc_buf_put_u8(&b, 1);
    tc_buf_put(&b, "toolo", 5);
    assert_int_equal(tproto_response_decode(b.p, b.len, TPROTO_OP_OBJECT_GET_ATTRS, &got, at),
                     TPROTO_EMALFORMED);
    assert_int_equal(v0[0], FILL);
    assert_int_equal(t[0].ulValueLen, sizeof(v0));
    tc_buf_free(&b);

    /* a length for a present buffer without its value */
    tc_buf_init(&b);
    tc_buf_put_u64(&b, CKR_OK);
    tc_buf_put_u32(&b, 0);
    tc_buf_put_u64(&b, (uint64_t)-1);
    tc_buf_put_u64(&b, 0);
    tc_buf_put_u8(&b, 1);
    tc_buf_put_u64(&b, 1000);
    tc_buf_put_u8(&b, 0);
    tc_buf_put_u64(&b, CK_UNAVAILABLE_INFORMATION);
    tc_buf_put_u8(&b, 0);
    assert_int_equal(tproto_response_decode(b.p, b.len, TPROTO_OP_OBJECT_GET_ATTRS, &got, at),
                     TPROTO_EMALFORMED);
    assert_int_equal(t[0].ulValueLen, sizeof(v0));
    tc_buf_free(&b);

    /* a response without outputs leaves everything alone */
    tc_buf_init(&b);
    tproto_err e = {CKR_ARGUMENTS_BAD, 0, -1, 0};
    assert_true(tproto_response_encode(&b, TPROTO_OP_OBJECT_GET_ATTRS, &e, NULL));
    assert_int_equal(tproto_response_decode(b.p, b.len, TPROTO_OP_OBJECT_GET_ATTRS, &got, at),
                     TPROTO_OK);
    assert_int_equal(got.rv, CKR_ARGUMENTS_BAD);
    assert_int_equal(t[0].ulValueLen, sizeof(v0));
    tc_buf_free(&b);
}

static void test_arena(void **state)
{
    (void)state;
    tproto_arena small;
    tproto_arg sv[TPROTO_MAX_ARGS];
    client c;
    tc_buf b;
    assert_true(tproto_arena_init(&small, 64));
    client_init(&c, TPROTO_OP_OBJECT_GET_ATTRS, MODE_FULL);
    tc_buf_init(&b);
    assert_true(tproto_request_encode(&b, TPROTO_OP_OBJECT_GET_ATTRS, c.a));
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_OBJECT_GET_ATTRS, &small, sv),
                     TPROTO_ENOMEM);
    assert_true(small.used <= small.cap);
    tproto_arena_reset(&small);
    assert_int_equal(small.used, 0);
    for (size_t i = 0; i < small.cap; i++)
        assert_int_equal(small.p[i], 0);
    tproto_arena_free(&small);
    tc_buf_free(&b);

    /* the worst requests fit tproto_arena_size(): every template entry of
     * GET_ATTRS asking for a huge value, and a key pair's two templates */
    static CK_ATTRIBUTE t[TPROTO_MAX_ATTRS], t2[TPROTO_MAX_ATTRS];
    static uint8_t dummy[1];
    for (size_t i = 0; i < TPROTO_MAX_ATTRS; i++) {
        t[i] = (CK_ATTRIBUTE){CKA_VALUE, dummy, (CK_ULONG)-2};
        t2[i] = (CK_ATTRIBUTE){CKA_LABEL, NULL, 0};
    }
    tproto_arg ga[3] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_ULONG}, {.kind = TPROTO_ATTRS}};
    ga[2].u.tmpl.p = t;
    ga[2].u.tmpl.n = TPROTO_MAX_ATTRS;
    tc_buf_init(&b);
    assert_true(tproto_request_encode(&b, TPROTO_OP_OBJECT_GET_ATTRS, ga));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_OBJECT_GET_ATTRS, &arena, sv),
                     TPROTO_OK);
    size_t total = 0;
    for (size_t i = 0; i < TPROTO_MAX_ATTRS; i++)
        total += sv[2].u.tmpl.p[i].ulValueLen;
    assert_int_equal(total, TPROTO_MAX_OUT);
    tc_buf_free(&b);

    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ULONG h1, h2;
    tproto_arg kp[6] = {{.kind = TPROTO_ULONG},    {.kind = TPROTO_MECH},
                        {.kind = TPROTO_TEMPLATE}, {.kind = TPROTO_TEMPLATE},
                        {.kind = TPROTO_ULONG_OUT}, {.kind = TPROTO_ULONG_OUT}};
    kp[1].u.mech = &m;
    kp[2].u.tmpl.p = t2;
    kp[2].u.tmpl.n = TPROTO_MAX_ATTRS;
    kp[3].u.tmpl.p = t2;
    kp[3].u.tmpl.n = TPROTO_MAX_ATTRS;
    kp[4].u.ul_out = &h1;
    kp[5].u.ul_out = &h2;
    tc_buf_init(&b);
    assert_true(tproto_request_encode(&b, TPROTO_OP_GENERATE_KEY_PAIR, kp));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_GENERATE_KEY_PAIR, &arena, sv),
                     TPROTO_OK);
    tc_buf_free(&b);

    /* the largest output buffer */
    CK_ULONG len = (CK_ULONG)-1;
    tproto_arg rn[2] = {{.kind = TPROTO_ULONG}, {.kind = TPROTO_OUT}};
    rn[1].u.out.p = dummy;
    rn[1].u.out.plen = &len;
    tc_buf_init(&b);
    assert_true(tproto_request_encode(&b, TPROTO_OP_RANDOM, rn));
    tproto_arena_reset(&arena);
    assert_int_equal(tproto_request_decode(b.p, b.len, TPROTO_OP_RANDOM, &arena, sv),
                     TPROTO_OK);
    assert_int_equal(*sv[1].u.out.plen, TPROTO_MAX_OUT);
    /* ... and its response fits a frame */
    memset(sv[1].u.out.p, 0x5a, TPROTO_MAX_OUT);
    tproto_err e = {0};
    tc_buf r;
    tc_buf_init(&r);
    tproto_frame_begin(&r, TPROTO_RESPONSE, TPROTO_OP_RANDOM, 1);
    assert_true(tproto_response_encode(&r, TPROTO_OP_RANDOM, &e, sv));
    assert_true(tproto_frame_end(&r, 0));
    tc_buf_free(&r);
    tc_buf_free(&b);
}

static void test_hello(void **state)
{
    (void)state;
    uint8_t id[TPROTO_APP_ID_LEN];
    tproto_hello h, g;
    tproto_hello_reply r, s;
    tc_buf b;
    for (size_t i = 0; i < sizeof(id); i++)
        id[i] = (uint8_t)i;
    tproto_hello_init(&h, id);
    assert_int_equal(h.ulong_size, sizeof(CK_ULONG));
    assert_int_equal(h.min_version, TPROTO_VERSION);
    tc_buf_init(&b);
    tproto_frame_begin(&b, TPROTO_REQUEST, TPROTO_OP_HELLO, 0);
    assert_true(tproto_hello_encode(&b, &h));
    assert_true(tproto_frame_end(&b, 0));
    assert_int_equal(tproto_hello_decode(b.p + TPROTO_HEADER_LEN, b.len - TPROTO_HEADER_LEN, &g),
                     TPROTO_OK);
    assert_memory_equal(&g, &h, sizeof(h));
    write_seed("fuzz_proto_request", "hello", 0, b.p, b.len, -1);
    for (size_t n = TPROTO_HEADER_LEN; n < b.len; n++)
        assert_int_equal(tproto_hello_decode(b.p + TPROTO_HEADER_LEN, n - TPROTO_HEADER_LEN, &g),
                         TPROTO_EMALFORMED);
    tc_buf_put_u8(&b, 0);
    assert_int_equal(tproto_hello_decode(b.p + TPROTO_HEADER_LEN, b.len - TPROTO_HEADER_LEN, &g),
                     TPROTO_EMALFORMED);
    tc_buf_free(&b);

    memset(&r, 0, sizeof(r));
    r.rv = CKR_OK;
    r.version = TPROTO_VERSION;
    r.max_frame = TPROTO_MAX_FRAME;
    snprintf(r.server, sizeof(r.server), "tesserad 0.1.0");
    tc_buf_init(&b);
    assert_true(tproto_hello_reply_encode(&b, &r));
    assert_int_equal(tproto_hello_reply_decode(b.p, b.len, &s), TPROTO_OK);
    assert_int_equal(s.rv, CKR_OK);
    assert_int_equal(s.version, TPROTO_VERSION);
    assert_int_equal(s.max_frame, TPROTO_MAX_FRAME);
    assert_string_equal(s.server, "tesserad 0.1.0");
    write_seed("fuzz_proto_response", "hello", 0, b.p, b.len, 0);
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(tproto_hello_reply_decode(b.p, n, &s), TPROTO_EMALFORMED);
    tc_buf_free(&b);
    /* a refusal carries its rv */
    r.rv = CKR_DEVICE_ERROR;
    tc_buf_init(&b);
    assert_true(tproto_hello_reply_encode(&b, &r));
    assert_int_equal(tproto_hello_reply_decode(b.p, b.len, &s), TPROTO_OK);
    assert_int_equal(s.rv, CKR_DEVICE_ERROR);
    tc_buf_free(&b);
    /* a name that is not NUL-terminated within its field is not sent */
    memset(r.server, 'x', sizeof(r.server));
    tc_buf_init(&b);
    assert_false(tproto_hello_reply_encode(&b, &r));
    tc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op),
        cmocka_unit_test(test_two_call),
        cmocka_unit_test(test_failure_keeps_outputs),
        cmocka_unit_test(test_mech_layouts),
        cmocka_unit_test(test_mech_raw_pointer_struct_refused),
        cmocka_unit_test(test_mech_layout_coverage),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_counts_and_values),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_response_beyond_capacity),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_hello),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
