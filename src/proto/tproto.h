/*
 * proto/ — the wire protocol between tesserad and its clients (the PKCS#11
 * module in remote mode, the CLI): framing and a bounded codec. No I/O, no
 * core: this layer turns bytes into call arguments and back. docs/protocol.md
 * is the description of the format for readers; this header is the contract.
 *
 * Frames. Every message is one frame:
 *
 *     u32 length        bytes after this field (header rest + body),
 *                       at most TPROTO_MAX_FRAME - 4
 *     u8  version       TPROTO_VERSION
 *     u8  kind          TPROTO_REQUEST or TPROTO_RESPONSE
 *     u16 op            tproto_op
 *     u32 id            chosen by the client; the response carries it back,
 *                       so a client may have several requests in flight
 *     ... body
 *
 * All integers are big-endian. CK_ULONG-valued arguments travel as u64.
 * Attribute values and flat mechanism parameters travel as the bytes of the
 * client's ABI; the HELLO exchange checks that client and server agree on it
 * (sizeof(CK_ULONG), byte order), so values like CKA_CLASS mean the same on
 * both ends. Mechanism parameters that hold pointers (GCM, OAEP, PSS, ECDH,
 * HKDF, EdDSA, ...) travel field by field (tproto_mech_layout).
 *
 * Arguments. An operation's arguments are an array of tproto_arg, in the
 * order of the matching core call (core/tcore.h), with the session handle
 * first for the operations that take one. tproto_schema() gives their kinds.
 * The same arrays are used in process (the embedded mode calls the service
 * dispatcher with arguments that point at the application's memory) and on
 * the wire (the codec fills them from a request, pointing into an arena), so
 * both modes run one code path on the server side.
 *
 * In/out arguments are sent with their current value and come back with the
 * value the call left, so a call behaves exactly as it does in process
 * (two-call convention, CKR_BUFFER_TOO_SMALL, C_GetAttributeValue's
 * per-entry lengths). Output bytes come back only where the call wrote them:
 * for TPROTO_OUT when rv is CKR_OK, for TPROTO_ATTRS per entry (after
 * CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID or
 * CKR_BUFFER_TOO_SMALL, the rvs after which C_GetAttributeValue has
 * processed every entry; after another failure the template stays as the
 * caller had it).
 *
 * The server offers at most TPROTO_MAX_OUT bytes of output room (shared by
 * the entries of a TPROTO_ATTRS template) and TPROTO_MAX_ULONGS list
 * entries, so that a response fits one frame; when a call fails otherwise
 * than on a length, the client keeps the caller's own capacity or count.
 */
#ifndef TESSERA_PROTO_H
#define TESSERA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"
#include "tessera/pkcs11.h"

#define TPROTO_VERSION 1
#define TPROTO_HEADER_LEN 12
/* The largest frame, header included. Outputs a client asks for are capped
 * so that their response fits (TPROTO_MAX_OUT). */
#define TPROTO_MAX_FRAME (1u << 20)
#define TPROTO_MAX_OUT (TPROTO_MAX_FRAME - 4096)
/* The most attributes in one template, entries in one list. */
#define TPROTO_MAX_ATTRS 256
#define TPROTO_MAX_ULONGS 65536

enum { TPROTO_REQUEST = 0, TPROTO_RESPONSE = 1 };

typedef enum {
    TPROTO_OP_HELLO = 1, /* handled by the daemon itself, see tproto_hello */
    TPROTO_OP_SLOT_LIST,
    TPROTO_OP_SLOT_CHECK,
    TPROTO_OP_TOKEN_INFO,
    TPROTO_OP_INIT_TOKEN,
    TPROTO_OP_MECH_LIST,
    TPROTO_OP_MECH_INFO,
    TPROTO_OP_SESSION_OPEN,
    TPROTO_OP_SESSION_CLOSE,
    TPROTO_OP_SESSION_CLOSE_ALL,
    TPROTO_OP_SESSION_INFO,
    TPROTO_OP_LOGIN,
    TPROTO_OP_LOGOUT,
    TPROTO_OP_INIT_PIN,
    TPROTO_OP_SET_PIN,
    TPROTO_OP_OBJECT_CREATE,
    TPROTO_OP_OBJECT_COPY,
    TPROTO_OP_OBJECT_DESTROY,
    TPROTO_OP_OBJECT_GET_ATTRS,
    TPROTO_OP_OBJECT_SET_ATTRS,
    TPROTO_OP_OBJECT_SIZE,
    TPROTO_OP_FIND_INIT,
    TPROTO_OP_FIND,
    TPROTO_OP_FIND_FINAL,
    TPROTO_OP_CRYPT_INIT,
    TPROTO_OP_CRYPT,
    TPROTO_OP_CRYPT_UPDATE,
    TPROTO_OP_CRYPT_FINAL,
    TPROTO_OP_VERIFY,
    TPROTO_OP_VERIFY_FINAL,
    TPROTO_OP_DIGEST_KEY,
    TPROTO_OP_CRYPT_CANCEL,
    TPROTO_OP_GENERATE_KEY,
    TPROTO_OP_GENERATE_KEY_PAIR,
    TPROTO_OP_WRAP_KEY,
    TPROTO_OP_UNWRAP_KEY,
    TPROTO_OP_DERIVE_KEY,
    TPROTO_OP_RANDOM,
    TPROTO_OP_SEED_RANDOM,
    TPROTO_OP_END /* one past the last */
} tproto_op;

/* Name of an operation for logs ("sign" is not one: "crypt"), or NULL. */
const char *tproto_op_name(uint16_t op);

/* ---- arguments --------------------------------------------------------------- */
typedef enum {
    /* in: a CK_ULONG (handle, slot, flag, kind) */
    TPROTO_ULONG = 1,
    /* in: a pointer and length; p NULL is carried as absent (not as empty) */
    TPROTO_BYTES,
    /* in/out: a CK_ULONG the call writes (object handle, size); p may be NULL */
    TPROTO_ULONG_OUT,
    /* in/out: an output buffer with the two-call convention: p NULL asks
     * for the length; *plen in: capacity, out: length. plen may be NULL. */
    TPROTO_OUT,
    /* in/out: a list of CK_ULONGs (slot ids, mechanisms, object handles):
     * p NULL asks for the count; cap the room in p; *count out: how many. */
    TPROTO_ULONGS_OUT,
    /* in: an attribute template with values (create, generate, find, set) */
    TPROTO_TEMPLATE,
    /* in/out: C_GetAttributeValue's template: types and capacities in,
     * lengths (or CK_UNAVAILABLE_INFORMATION) and values out */
    TPROTO_ATTRS,
    /* in: a mechanism (may be NULL) */
    TPROTO_MECH,
    /* out: CK_TOKEN_INFO, CK_SESSION_INFO, CK_MECHANISM_INFO (p may be NULL) */
    TPROTO_TOKEN_INFO,
    TPROTO_SESSION_INFO,
    TPROTO_MECH_INFO,
} tproto_kind;

typedef struct {
    tproto_kind kind;
    union {
        CK_ULONG ul;
        struct {
            const void *p;
            CK_ULONG len;
        } bytes;
        CK_ULONG *ul_out;
        struct {
            void *p;
            CK_ULONG *plen;
        } out;
        struct {
            CK_ULONG *p;
            CK_ULONG cap;
            CK_ULONG *count;
        } ulongs;
        struct {
            CK_ATTRIBUTE *p; /* const for TPROTO_TEMPLATE */
            CK_ULONG n;
        } tmpl;
        const CK_MECHANISM *mech;
        CK_TOKEN_INFO *token_info;
        CK_SESSION_INFO *session_info;
        CK_MECHANISM_INFO *mech_info;
    } u;
} tproto_arg;

#define TPROTO_MAX_ARGS 8

/* The argument kinds of op (terminated by 0), or NULL for an unknown op or
 * HELLO. */
const tproto_kind *tproto_schema(uint16_t op);
/* Whether the first argument of op is a session handle. */
bool tproto_op_has_session(uint16_t op);

/* What was wrong with a failed call (the core's tcore_err, carried). */
typedef struct {
    CK_RV rv;
    uint32_t arg;   /* tcore_arg */
    int64_t index;  /* template entry, or -1 */
    CK_ULONG attr;  /* its attribute type */
} tproto_err;

/* ---- mechanism parameter layouts -------------------------------------------------
 * A mechanism parameter that is a C struct travels field by field, so the
 * server rebuilds the struct itself (with pointers into the request) and
 * never takes a pointer from the wire. A layout is keyed by (mechanism,
 * struct size): GCM has two (PKCS#11 3.0 with ulIvBits, 2.40 without).
 * docs/protocol.md lists them all. */
typedef enum {
    TPROTO_F_ULONG = 1, /* a CK_ULONG at off: u64 */
    TPROTO_F_BYTE,      /* a CK_BYTE / CK_BBOOL at off: u8 */
    TPROTO_F_ARRAY,     /* n bytes at off: the n bytes */
    TPROTO_F_PTR_LEN,   /* a pointer at off, its CK_ULONG length at len_off:
                         * u8 present, u64 length, the bytes when present */
} tproto_field_kind;

typedef struct {
    uint8_t kind; /* tproto_field_kind */
    uint16_t off;
    uint16_t len_off; /* TPROTO_F_PTR_LEN */
    uint16_t n;       /* TPROTO_F_ARRAY */
} tproto_field;

#define TPROTO_MAX_FIELDS 8

typedef struct {
    uint8_t id;       /* its number on the wire */
    const char *name; /* "CK_GCM_PARAMS" */
    size_t size;      /* sizeof the struct in this ABI */
    bool has_ptr;     /* holds a pointer: never accepted as raw bytes */
    uint8_t nfields;
    tproto_field fields[TPROTO_MAX_FIELDS];
} tproto_mech_layout;

/* The layout of a parameter of size bytes for mech, or NULL (the parameter
 * then travels as raw bytes). */
const tproto_mech_layout *tproto_mech_layout_find(CK_MECHANISM_TYPE mech, size_t size);

/* ---- frames -------------------------------------------------------------------- */
typedef struct {
    uint32_t length; /* bytes after the length field */
    uint8_t version;
    uint8_t kind;
    uint16_t op;
    uint32_t id;
} tproto_header;

typedef enum {
    TPROTO_OK = 0,
    TPROTO_NEED_MORE, /* a frame is not complete yet */
    TPROTO_EMALFORMED, /* bytes that are not a valid frame/body */
    TPROTO_ETOOBIG,    /* a length beyond TPROTO_MAX_FRAME */
    TPROTO_EVERSION,   /* a version this side does not speak */
    TPROTO_EUNKNOWN_OP,
    TPROTO_ENOMEM,
} tproto_status;

const char *tproto_status_name(tproto_status st);

/* Parse the header at the start of buf. TPROTO_NEED_MORE until
 * TPROTO_HEADER_LEN bytes are there; then checks the length (ETOOBIG,
 * EMALFORMED below the header), version and kind. *frame_len: bytes of the
 * whole frame (header + body); the body is complete once len >= *frame_len. */
tproto_status tproto_header_parse(const uint8_t *buf, size_t len, tproto_header *h,
                                  size_t *frame_len);
/* Append a header whose length field is patched by tproto_frame_end. */
void tproto_frame_begin(tc_buf *b, uint8_t kind, uint16_t op, uint32_t id);
/* Patch the length of the frame begun at offset start; false if the frame
 * is larger than TPROTO_MAX_FRAME or the buffer failed. */
bool tproto_frame_end(tc_buf *b, size_t start) TC_MUST_CHECK;

/* ---- the arena a server decodes into ----------------------------------------------
 * One per worker; reset per request; wiped when reset (it holds PINs and
 * key material). Allocation fails beyond its size, so a request can never
 * make the server allocate more than the arena. */
typedef struct {
    uint8_t *p;
    size_t cap;
    size_t used;
} tproto_arena;

bool tproto_arena_init(tproto_arena *a, size_t cap) TC_MUST_CHECK;
void tproto_arena_reset(tproto_arena *a); /* wipes what was used */
void tproto_arena_free(tproto_arena *a);
/* Size an arena needs to decode any request of a TPROTO_MAX_FRAME frame
 * and hold the outputs the request may ask for. */
size_t tproto_arena_size(void);

/* ---- bodies ---------------------------------------------------------------------- */

/* Client: append the request body of op (the in direction of args). */
bool tproto_request_encode(tc_buf *b, uint16_t op, const tproto_arg *args) TC_MUST_CHECK;
/* Server: decode a request body into args (every pointer points into body
 * or the arena; output buffers are allocated in the arena, capped at
 * TPROTO_MAX_OUT). Rejects trailing bytes, counts beyond the limits above,
 * lengths beyond the body, and a pointer-bearing mechanism parameter sent
 * as raw bytes. */
tproto_status tproto_request_decode(const uint8_t *body, size_t len, uint16_t op,
                                    tproto_arena *ar, tproto_arg *args);
/* Server: append the response body: the error, then the out direction of
 * args after the call. args NULL: a response without outputs, for a request
 * that could not be decoded (the client then leaves its arguments alone). */
bool tproto_response_encode(tc_buf *b, uint16_t op, const tproto_err *err,
                            const tproto_arg *args) TC_MUST_CHECK;
/* Client: decode a response body into the caller's args (the same array
 * that was encoded): writes in/out values back, copies output bytes into
 * the caller's buffers, never beyond the capacity the caller gave (a server
 * that claims more is malformed). */
tproto_status tproto_response_decode(const uint8_t *body, size_t len, uint16_t op,
                                     tproto_err *err, tproto_arg *args);

/* ---- HELLO -----------------------------------------------------------------------
 * The first request on a connection. The client states the protocol
 * versions it speaks, its ABI and an application id: connections that carry
 * the same id (from the same peer identity) share one core application, so
 * a multi-threaded client may use one connection per thread and still have
 * one login state (PKCS#11 3.0 §5.6). An all-zero id asks for a new
 * application of this connection alone. */
#define TPROTO_APP_ID_LEN 16
typedef struct {
    uint8_t min_version, max_version;
    uint8_t ulong_size;   /* sizeof(CK_ULONG) */
    uint8_t big_endian;   /* the client's byte order */
    uint8_t app_id[TPROTO_APP_ID_LEN];
} tproto_hello;

typedef struct {
    CK_RV rv;            /* CKR_OK, or why the server refuses the client */
    uint8_t version;     /* the version the connection speaks */
    uint32_t max_frame;  /* the server's limit */
    char server[64];     /* "tesserad 0.1.0", NUL-terminated */
} tproto_hello_reply;

/* This process's ABI (for tproto_hello.ulong_size / big_endian). */
void tproto_hello_init(tproto_hello *h, const uint8_t app_id[TPROTO_APP_ID_LEN]);
bool tproto_hello_encode(tc_buf *b, const tproto_hello *h) TC_MUST_CHECK;
tproto_status tproto_hello_decode(const uint8_t *body, size_t len, tproto_hello *h);
bool tproto_hello_reply_encode(tc_buf *b, const tproto_hello_reply *r) TC_MUST_CHECK;
tproto_status tproto_hello_reply_decode(const uint8_t *body, size_t len,
                                        tproto_hello_reply *r);

#endif
