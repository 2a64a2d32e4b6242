/*
 * Request and response bodies: the arguments of an operation, in the order
 * of its schema (frame.c), each encoded by its kind. docs/protocol.md
 * describes the bytes.
 */
#include <string.h>

#include "proto/proto_int.h"

/* A template entry on the wire is at least a type, a presence byte and a
 * length; a response's ATTRS entry at least a length and a flag. Counts
 * are checked against the bytes left divided by these before anything is
 * allocated for them. */
#define MIN_TMPL_ENTRY (8 + 1 + 8)
#define MIN_ATTRS_ENTRY (8 + 1 + 8)
#define MIN_ATTRS_OUT_ENTRY (8 + 1)

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* The CK_RVs after which C_GetAttributeValue has processed every entry
 * (PKCS#11 3.0 §5.7.5): only then are per-entry results sent. After any
 * other failure the template is left as the caller had it. */
static bool attrs_filled(CK_RV rv)
{
    return rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
           rv == CKR_BUFFER_TOO_SMALL;
}

/* ---- client: request --------------------------------------------------------------- */

/* The caller's bytes, len of them: a length no frame could carry is
 * refused before the memory is read. */
static bool put_bytes(tc_buf *b, const void *p, CK_ULONG len)
{
    tc_buf_put_u8(b, p != NULL);
    tc_buf_put_u64(b, len);
    if (p == NULL)
        return true;
    if (len > TPROTO_MAX_FRAME)
        return false;
    tc_buf_put(b, p, len);
    return true;
}

static bool encode_template(tc_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n, bool values)
{
    tc_buf_put_u8(b, t != NULL);
    tc_buf_put_u64(b, n);
    if (t == NULL)
        return true;
    if (n > TPROTO_MAX_ATTRS)
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        tc_buf_put_u64(b, t[i].type);
        if (values) {
            if (!put_bytes(b, t[i].pValue, t[i].ulValueLen))
                return false;
        } else {
            tc_buf_put_u8(b, t[i].pValue != NULL);
            tc_buf_put_u64(b, t[i].ulValueLen);
        }
    }
    return true;
}

static bool encode_in(tc_buf *b, tproto_kind k, const tproto_arg *a)
{
    switch (k) {
    case TPROTO_ULONG:
        tc_buf_put_u64(b, a->u.ul);
        return true;
    case TPROTO_BYTES:
        return put_bytes(b, a->u.bytes.p, a->u.bytes.len);
    case TPROTO_ULONG_OUT:
        tc_buf_put_u8(b, a->u.ul_out != NULL);
        tc_buf_put_u64(b, a->u.ul_out != NULL ? *a->u.ul_out : 0);
        return true;
    case TPROTO_OUT:
        tc_buf_put_u8(b, a->u.out.p != NULL);
        tc_buf_put_u8(b, a->u.out.plen != NULL);
        tc_buf_put_u64(b, a->u.out.plen != NULL ? *a->u.out.plen : 0);
        return true;
    case TPROTO_ULONGS_OUT:
        tc_buf_put_u8(b, a->u.ulongs.p != NULL);
        tc_buf_put_u64(b, a->u.ulongs.cap);
        tc_buf_put_u8(b, a->u.ulongs.count != NULL);
        tc_buf_put_u64(b, a->u.ulongs.count != NULL ? *a->u.ulongs.count : 0);
        return true;
    case TPROTO_TEMPLATE:
        return encode_template(b, a->u.tmpl.p, a->u.tmpl.n, true);
    case TPROTO_ATTRS:
        return encode_template(b, a->u.tmpl.p, a->u.tmpl.n, false);
    case TPROTO_MECH:
        return tproto_mech_encode(b, a->u.mech);
    case TPROTO_TOKEN_INFO:
        tc_buf_put_u8(b, a->u.token_info != NULL);
        return true;
    case TPROTO_SESSION_INFO:
        tc_buf_put_u8(b, a->u.session_info != NULL);
        return true;
    case TPROTO_MECH_INFO:
        tc_buf_put_u8(b, a->u.mech_info != NULL);
        return true;
    }
    return false;
}

bool tproto_request_encode(tc_buf *b, uint16_t op, const tproto_arg *args)
{
    const tproto_kind *kinds = tproto_schema(op);
    if (b == NULL || kinds == NULL || args == NULL)
        return false;
    for (size_t i = 0; kinds[i] != 0; i++) {
        if (args[i].kind != kinds[i] || !encode_in(b, kinds[i], &args[i]))
            return false;
    }
    return !b->failed;
}

/* ---- server: request --------------------------------------------------------------- */

static tproto_status decode_template(tc_reader *r, tproto_arena *ar, tproto_arg *a, bool values)
{
    bool present;
    CK_ULONG n;
    if (!tproto_read_flag(r, &present) || !tproto_read_ulong(r, &n))
        return TPROTO_EMALFORMED;
    a->u.tmpl.n = n;
    a->u.tmpl.p = NULL;
    if (!present)
        return TPROTO_OK;
    if (n > TPROTO_MAX_ATTRS || n > tc_reader_left(r) / MIN_TMPL_ENTRY)
        return TPROTO_EMALFORMED;
    CK_ATTRIBUTE *t = tproto_arena_alloc(ar, n * sizeof(*t));
    if (t == NULL)
        return TPROTO_ENOMEM;
    /* Output room for C_GetAttributeValue: TPROTO_MAX_OUT over all
     * entries, so that the values fit one response. */
    size_t budget = TPROTO_MAX_OUT;
    for (CK_ULONG i = 0; i < n; i++) {
        bool has;
        CK_ULONG len;
        const uint8_t *v = NULL;
        if (!tproto_read_ulong(r, &t[i].type) || !tproto_read_flag(r, &has) ||
            !tproto_read_ulong(r, &len))
            return TPROTO_EMALFORMED;
        if (values) {
            if (has && !tc_read_ref(r, len, &v))
                return TPROTO_EMALFORMED;
            t[i].pValue = (void *)v;
        } else if (has) {
            len = min_size(len, budget);
            budget -= len;
            t[i].pValue = tproto_arena_alloc(ar, len);
            if (t[i].pValue == NULL)
                return TPROTO_ENOMEM;
        } else {
            t[i].pValue = NULL;
        }
        t[i].ulValueLen = len;
    }
    a->u.tmpl.p = t;
    return TPROTO_OK;
}

static tproto_status decode_in(tc_reader *r, tproto_arena *ar, tproto_kind k, tproto_arg *a)
{
    bool p, q;
    CK_ULONG v, w;
    switch (k) {
    case TPROTO_ULONG:
        return tproto_read_ulong(r, &a->u.ul) ? TPROTO_OK : TPROTO_EMALFORMED;
    case TPROTO_BYTES: {
        const uint8_t *bytes = NULL;
        if (!tproto_read_flag(r, &p) || !tproto_read_ulong(r, &v))
            return TPROTO_EMALFORMED;
        if (p && !tc_read_ref(r, v, &bytes))
            return TPROTO_EMALFORMED;
        a->u.bytes.p = bytes;
        a->u.bytes.len = v;
        return TPROTO_OK;
    }
    case TPROTO_ULONG_OUT:
        if (!tproto_read_flag(r, &p) || !tproto_read_ulong(r, &v))
            return TPROTO_EMALFORMED;
        a->u.ul_out = NULL;
        if (p) {
            if ((a->u.ul_out = tproto_arena_alloc(ar, sizeof(CK_ULONG))) == NULL)
                return TPROTO_ENOMEM;
            *a->u.ul_out = v;
        }
        return TPROTO_OK;
    case TPROTO_OUT:
        if (!tproto_read_flag(r, &p) || !tproto_read_flag(r, &q) || !tproto_read_ulong(r, &v))
            return TPROTO_EMALFORMED;
        a->u.out.p = NULL;
        a->u.out.plen = NULL;
        /* The server offers the room it allocated: no more than a
         * response can carry. */
        if (p && q)
            v = min_size(v, TPROTO_MAX_OUT);
        if (q) {
            if ((a->u.out.plen = tproto_arena_alloc(ar, sizeof(CK_ULONG))) == NULL)
                return TPROTO_ENOMEM;
            *a->u.out.plen = v;
        }
        if (p && (a->u.out.p = tproto_arena_alloc(ar, q ? v : 0)) == NULL)
            return TPROTO_ENOMEM;
        return TPROTO_OK;
    case TPROTO_ULONGS_OUT:
        if (!tproto_read_flag(r, &p) || !tproto_read_ulong(r, &v) || !tproto_read_flag(r, &q) ||
            !tproto_read_ulong(r, &w))
            return TPROTO_EMALFORMED;
        a->u.ulongs.p = NULL;
        a->u.ulongs.count = NULL;
        if (p) {
            /* The core may take *count as the room (slot and mechanism
             * lists): neither may exceed what is allocated. */
            v = min_size(v, TPROTO_MAX_ULONGS);
            w = min_size(w, v);
            if ((a->u.ulongs.p = tproto_arena_alloc(ar, v * sizeof(CK_ULONG))) == NULL)
                return TPROTO_ENOMEM;
        }
        a->u.ulongs.cap = v;
        if (q) {
            if ((a->u.ulongs.count = tproto_arena_alloc(ar, sizeof(CK_ULONG))) == NULL)
                return TPROTO_ENOMEM;
            *a->u.ulongs.count = w;
        }
        return TPROTO_OK;
    case TPROTO_TEMPLATE:
        return decode_template(r, ar, a, true);
    case TPROTO_ATTRS:
        return decode_template(r, ar, a, false);
    case TPROTO_MECH:
        return tproto_mech_decode(r, ar, &a->u.mech);
    case TPROTO_TOKEN_INFO:
    case TPROTO_SESSION_INFO:
    case TPROTO_MECH_INFO: {
        size_t size = k == TPROTO_TOKEN_INFO     ? sizeof(CK_TOKEN_INFO)
                      : k == TPROTO_SESSION_INFO ? sizeof(CK_SESSION_INFO)
                                                 : sizeof(CK_MECHANISM_INFO);
        void *s = NULL;
        if (!tproto_read_flag(r, &p))
            return TPROTO_EMALFORMED;
        if (p && (s = tproto_arena_alloc(ar, size)) == NULL)
            return TPROTO_ENOMEM;
        if (k == TPROTO_TOKEN_INFO)
            a->u.token_info = s;
        else if (k == TPROTO_SESSION_INFO)
            a->u.session_info = s;
        else
            a->u.mech_info = s;
        return TPROTO_OK;
    }
    }
    return TPROTO_EMALFORMED;
}

tproto_status tproto_request_decode(const uint8_t *body, size_t len, uint16_t op,
                                    tproto_arena *ar, tproto_arg *args)
{
    const tproto_kind *kinds = tproto_schema(op);
    tc_reader r;
    if (kinds == NULL)
        return TPROTO_EUNKNOWN_OP;
    if (args == NULL || ar == NULL || (body == NULL && len != 0))
        return TPROTO_EMALFORMED;
    tc_reader_init(&r, body, len);
    for (size_t i = 0; kinds[i] != 0; i++) {
        memset(&args[i], 0, sizeof(args[i]));
        args[i].kind = kinds[i];
        tproto_status st = decode_in(&r, ar, kinds[i], &args[i]);
        if (st != TPROTO_OK)
            return st;
    }
    return tc_reader_left(&r) == 0 ? TPROTO_OK : TPROTO_EMALFORMED;
}

/* ---- server: response -------------------------------------------------------------- */

static void put_token_info(tc_buf *b, const CK_TOKEN_INFO *t)
{
    tc_buf_put(b, t->label, sizeof(t->label));
    tc_buf_put(b, t->manufacturerID, sizeof(t->manufacturerID));
    tc_buf_put(b, t->model, sizeof(t->model));
    tc_buf_put(b, t->serialNumber, sizeof(t->serialNumber));
    const CK_ULONG v[] = {t->flags,
                          t->ulMaxSessionCount,
                          t->ulSessionCount,
                          t->ulMaxRwSessionCount,
                          t->ulRwSessionCount,
                          t->ulMaxPinLen,
                          t->ulMinPinLen,
                          t->ulTotalPublicMemory,
                          t->ulFreePublicMemory,
                          t->ulTotalPrivateMemory,
                          t->ulFreePrivateMemory};
    for (size_t i = 0; i < TC_ARRAY_LEN(v); i++)
        tc_buf_put_u64(b, v[i]);
    tc_buf_put_u8(b, t->hardwareVersion.major);
    tc_buf_put_u8(b, t->hardwareVersion.minor);
    tc_buf_put_u8(b, t->firmwareVersion.major);
    tc_buf_put_u8(b, t->firmwareVersion.minor);
    tc_buf_put(b, t->utcTime, sizeof(t->utcTime));
}

static bool encode_out(tc_buf *b, tproto_kind k, CK_RV rv, const tproto_arg *a)
{
    switch (k) {
    case TPROTO_ULONG:
    case TPROTO_BYTES:
    case TPROTO_TEMPLATE:
    case TPROTO_MECH:
        return true;
    case TPROTO_ULONG_OUT:
        if (a->u.ul_out != NULL)
            tc_buf_put_u64(b, *a->u.ul_out);
        return true;
    case TPROTO_OUT:
        if (a->u.out.plen == NULL)
            return true;
        tc_buf_put_u64(b, *a->u.out.plen);
        if (a->u.out.p != NULL && rv == CKR_OK) {
            if (*a->u.out.plen > TPROTO_MAX_OUT)
                return false;
            tc_buf_put(b, a->u.out.p, *a->u.out.plen);
        }
        return true;
    case TPROTO_ULONGS_OUT:
        if (a->u.ulongs.count == NULL)
            return true;
        tc_buf_put_u64(b, *a->u.ulongs.count);
        if (a->u.ulongs.p != NULL && rv == CKR_OK) {
            CK_ULONG n = min_size(*a->u.ulongs.count, a->u.ulongs.cap);
            if (n > TPROTO_MAX_ULONGS)
                return false;
            tc_buf_put_u32(b, (uint32_t)n);
            for (CK_ULONG i = 0; i < n; i++)
                tc_buf_put_u64(b, a->u.ulongs.p[i]);
        }
        return true;
    case TPROTO_ATTRS: {
        const CK_ATTRIBUTE *t = a->u.tmpl.p;
        if (t == NULL || !attrs_filled(rv))
            return true;
        if (a->u.tmpl.n > TPROTO_MAX_ATTRS)
            return false;
        for (CK_ULONG i = 0; i < a->u.tmpl.n; i++) {
            /* The call wrote a value where it gave a length for a
             * present buffer (§5.7.5: else CK_UNAVAILABLE_INFORMATION). */
            bool has = t[i].pValue != NULL && t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION;
            tc_buf_put_u64(b, t[i].ulValueLen);
            tc_buf_put_u8(b, has);
            if (has) {
                if (t[i].ulValueLen > TPROTO_MAX_OUT)
                    return false;
                tc_buf_put(b, t[i].pValue, t[i].ulValueLen);
            }
        }
        return true;
    }
    case TPROTO_TOKEN_INFO:
        if (a->u.token_info != NULL && rv == CKR_OK)
            put_token_info(b, a->u.token_info);
        return true;
    case TPROTO_SESSION_INFO:
        if (a->u.session_info != NULL && rv == CKR_OK) {
            tc_buf_put_u64(b, a->u.session_info->slotID);
            tc_buf_put_u64(b, a->u.session_info->state);
            tc_buf_put_u64(b, a->u.session_info->flags);
            tc_buf_put_u64(b, a->u.session_info->ulDeviceError);
        }
        return true;
    case TPROTO_MECH_INFO:
        if (a->u.mech_info != NULL && rv == CKR_OK) {
            tc_buf_put_u64(b, a->u.mech_info->ulMinKeySize);
            tc_buf_put_u64(b, a->u.mech_info->ulMaxKeySize);
            tc_buf_put_u64(b, a->u.mech_info->flags);
        }
        return true;
    }
    return false;
}

bool tproto_response_encode(tc_buf *b, uint16_t op, const tproto_err *err,
                            const tproto_arg *args)
{
    const tproto_kind *kinds = tproto_schema(op);
    if (b == NULL || err == NULL)
        return false;
    tc_buf_put_u64(b, err->rv);
    tc_buf_put_u32(b, err->arg);
    tc_buf_put_u64(b, (uint64_t)err->index);
    tc_buf_put_u64(b, err->attr);
    /* An unknown operation is answered without outputs too. */
    if (kinds == NULL || args == NULL) {
        tc_buf_put_u8(b, 0);
        return !b->failed;
    }
    tc_buf_put_u8(b, 1);
    for (size_t i = 0; kinds[i] != 0; i++) {
        if (args[i].kind != kinds[i] || !encode_out(b, kinds[i], err->rv, &args[i]))
            return false;
    }
    return !b->failed;
}

/* ---- client: response -------------------------------------------------------------- */

static bool read_token_info(tc_reader *r, CK_TOKEN_INFO *t)
{
    CK_ULONG v[11];
    if (!tc_read_copy(r, t->label, sizeof(t->label)) ||
        !tc_read_copy(r, t->manufacturerID, sizeof(t->manufacturerID)) ||
        !tc_read_copy(r, t->model, sizeof(t->model)) ||
        !tc_read_copy(r, t->serialNumber, sizeof(t->serialNumber)))
        return false;
    for (size_t i = 0; i < TC_ARRAY_LEN(v); i++)
        if (!tproto_read_ulong(r, &v[i]))
            return false;
    t->flags = v[0];
    t->ulMaxSessionCount = v[1];
    t->ulSessionCount = v[2];
    t->ulMaxRwSessionCount = v[3];
    t->ulRwSessionCount = v[4];
    t->ulMaxPinLen = v[5];
    t->ulMinPinLen = v[6];
    t->ulTotalPublicMemory = v[7];
    t->ulFreePublicMemory = v[8];
    t->ulTotalPrivateMemory = v[9];
    t->ulFreePrivateMemory = v[10];
    return tc_read_u8(r, &t->hardwareVersion.major) && tc_read_u8(r, &t->hardwareVersion.minor) &&
           tc_read_u8(r, &t->firmwareVersion.major) && tc_read_u8(r, &t->firmwareVersion.minor) &&
           tc_read_copy(r, t->utcTime, sizeof(t->utcTime));
}

/* The server offers at most TPROTO_MAX_OUT (TPROTO_MAX_ULONGS) of room.
 * When the call failed and the value that came back is the room the server
 * offered, the call left it alone: the caller gets its own value back, as
 * in process. */
static CK_ULONG restored(CK_RV rv, bool capped, CK_ULONG sent, CK_ULONG offered, CK_ULONG back)
{
    return rv != CKR_OK && capped && back == offered ? sent : back;
}

/* One pass over the outputs: with write false it only checks (so that a
 * malformed response writes nothing), with write true it copies. */
static bool decode_out(tc_reader *r, tproto_kind k, CK_RV rv, tproto_arg *a, bool write)
{
    CK_ULONG v;
    switch (k) {
    case TPROTO_ULONG:
    case TPROTO_BYTES:
    case TPROTO_TEMPLATE:
    case TPROTO_MECH:
        return true;
    case TPROTO_ULONG_OUT:
        if (a->u.ul_out == NULL)
            return true;
        if (!tproto_read_ulong(r, &v))
            return false;
        if (write)
            *a->u.ul_out = v;
        return true;
    case TPROTO_OUT: {
        const uint8_t *bytes = NULL;
        if (a->u.out.plen == NULL)
            return true;
        CK_ULONG sent = *a->u.out.plen;
        if (!tproto_read_ulong(r, &v))
            return false;
        bool has = a->u.out.p != NULL && rv == CKR_OK;
        if (has && (v > sent || !tc_read_ref(r, v, &bytes)))
            return false;
        if (write) {
            if (has && v > 0)
                memcpy(a->u.out.p, bytes, v);
            bool capped = a->u.out.p != NULL && sent > TPROTO_MAX_OUT;
            *a->u.out.plen = restored(rv, capped, sent, TPROTO_MAX_OUT, v);
        }
        return true;
    }
    case TPROTO_ULONGS_OUT: {
        if (a->u.ulongs.count == NULL)
            return true;
        CK_ULONG sent = *a->u.ulongs.count;
        uint32_t n = 0;
        if (!tproto_read_ulong(r, &v))
            return false;
        bool has = a->u.ulongs.p != NULL && rv == CKR_OK;
        if (has) {
            if (!tc_read_u32(r, &n) || n > a->u.ulongs.cap || n > v ||
                n > tc_reader_left(r) / 8)
                return false;
            for (uint32_t i = 0; i < n; i++) {
                CK_ULONG e;
                if (!tproto_read_ulong(r, &e))
                    return false;
                if (write)
                    a->u.ulongs.p[i] = e;
            }
        }
        if (write) {
            CK_ULONG room = min_size(a->u.ulongs.cap, TPROTO_MAX_ULONGS);
            CK_ULONG offered = min_size(sent, room);
            bool capped = a->u.ulongs.p != NULL && offered != sent;
            *a->u.ulongs.count = restored(rv, capped, sent, offered, v);
        }
        return true;
    }
    case TPROTO_ATTRS: {
        CK_ATTRIBUTE *t = a->u.tmpl.p;
        if (t == NULL || !attrs_filled(rv))
            return true;
        if (a->u.tmpl.n > tc_reader_left(r) / MIN_ATTRS_OUT_ENTRY)
            return false;
        for (CK_ULONG i = 0; i < a->u.tmpl.n; i++) {
            bool has;
            const uint8_t *bytes = NULL;
            if (!tproto_read_ulong(r, &v) || !tproto_read_flag(r, &has))
                return false;
            /* A value comes exactly where the call wrote one (as the
             * server decides it), and fits the caller's buffer. */
            if (has != (t[i].pValue != NULL && v != CK_UNAVAILABLE_INFORMATION))
                return false;
            if (has && (v > t[i].ulValueLen || !tc_read_ref(r, v, &bytes)))
                return false;
            if (write) {
                if (has && v > 0)
                    memcpy(t[i].pValue, bytes, v);
                t[i].ulValueLen = v;
            }
        }
        return true;
    }
    case TPROTO_TOKEN_INFO: {
        CK_TOKEN_INFO ti;
        if (a->u.token_info == NULL || rv != CKR_OK)
            return true;
        memset(&ti, 0, sizeof(ti));
        if (!read_token_info(r, &ti))
            return false;
        if (write)
            *a->u.token_info = ti;
        return true;
    }
    case TPROTO_SESSION_INFO: {
        CK_SESSION_INFO si;
        if (a->u.session_info == NULL || rv != CKR_OK)
            return true;
        if (!tproto_read_ulong(r, &si.slotID) || !tproto_read_ulong(r, &si.state) ||
            !tproto_read_ulong(r, &si.flags) || !tproto_read_ulong(r, &si.ulDeviceError))
            return false;
        if (write)
            *a->u.session_info = si;
        return true;
    }
    case TPROTO_MECH_INFO: {
        CK_MECHANISM_INFO mi;
        if (a->u.mech_info == NULL || rv != CKR_OK)
            return true;
        if (!tproto_read_ulong(r, &mi.ulMinKeySize) || !tproto_read_ulong(r, &mi.ulMaxKeySize) ||
            !tproto_read_ulong(r, &mi.flags))
            return false;
        if (write)
            *a->u.mech_info = mi;
        return true;
    }
    }
    return false;
}

static bool decode_outs(tc_reader *r, const tproto_kind *kinds, CK_RV rv, tproto_arg *args,
                        bool write)
{
    for (size_t i = 0; kinds[i] != 0; i++) {
        if (args[i].kind != kinds[i] || !decode_out(r, kinds[i], rv, &args[i], write))
            return false;
    }
    return tc_reader_left(r) == 0;
}

tproto_status tproto_response_decode(const uint8_t *body, size_t len, uint16_t op,
                                     tproto_err *err, tproto_arg *args)
{
    const tproto_kind *kinds = tproto_schema(op);
    tc_reader r;
    tproto_err e;
    uint64_t index;
    bool outputs;
    if (kinds == NULL)
        return TPROTO_EUNKNOWN_OP;
    if (err == NULL || args == NULL || (body == NULL && len != 0))
        return TPROTO_EMALFORMED;
    tc_reader_init(&r, body, len);
    if (!tproto_read_ulong(&r, &e.rv) || !tc_read_u32(&r, &e.arg) || !tc_read_u64(&r, &index) ||
        !tproto_read_ulong(&r, &e.attr) || !tproto_read_flag(&r, &outputs))
        return TPROTO_EMALFORMED;
    e.index = (int64_t)index;
    if (outputs) {
        size_t start = r.off;
        /* Check everything first: a malformed response writes nothing. */
        if (!decode_outs(&r, kinds, e.rv, args, false))
            return TPROTO_EMALFORMED;
        r.off = start;
        if (!decode_outs(&r, kinds, e.rv, args, true))
            return TPROTO_EMALFORMED;
    } else if (tc_reader_left(&r) != 0) {
        return TPROTO_EMALFORMED;
    }
    *err = e;
    return TPROTO_OK;
}
