/*
 * tpm/ — tessera-tpm, a TPM 2.0 in software. Internal header shared by the
 * files of the tessera_tpm library. Constants follow the TPM 2.0 Library
 * specification Part 2 (structures); behaviour Part 1 and Part 3.
 *
 * Layout: marshal.c (bounded TPM codec), dispatch.c (command table, handle
 * and auth areas, response building), session.c (HMAC/policy sessions and
 * parameter encryption), object.c (object slots, names, sensitive
 * protection), state.c (the versioned state file), tpm.c (instance, power,
 * clock), cmd_*.c
 * (pure command handlers), server.c (mssim + swtpm transports).
 */
#ifndef TESSERA_TPM_H
#define TESSERA_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/tcommon.h"
#include "crypto/tcrypto_tpm.h"

typedef uint32_t ttpm_rc;

/* ---- constants (Part 2) ------------------------------------------------ */
#define TPM_ST_RSP_COMMAND 0x00C4
#define TPM_ST_NULL 0x8000
#define TPM_ST_NO_SESSIONS 0x8001
#define TPM_ST_SESSIONS 0x8002
#define TPM_ST_ATTEST_CERTIFY 0x8017
#define TPM_ST_ATTEST_QUOTE 0x8018
#define TPM_ST_ATTEST_TIME 0x8019
#define TPM_ST_CREATION 0x8021
#define TPM_ST_VERIFIED 0x8022
#define TPM_ST_AUTH_SECRET 0x8023
#define TPM_ST_HASHCHECK 0x8024
#define TPM_ST_AUTH_SIGNED 0x8025

#define TPM_RC_SUCCESS 0x000
#define TPM_RC_BAD_TAG 0x01E
#define TPM_RC_INITIALIZE 0x100
#define TPM_RC_FAILURE 0x101
#define TPM_RC_SEQUENCE 0x103
#define TPM_RC_DISABLED 0x120
#define TPM_RC_EXCLUSIVE 0x121
#define TPM_RC_AUTH_TYPE 0x124
#define TPM_RC_AUTH_MISSING 0x125
#define TPM_RC_POLICY 0x126
#define TPM_RC_PCR 0x127
#define TPM_RC_PCR_CHANGED 0x128
#define TPM_RC_UPGRADE 0x12D
#define TPM_RC_TOO_MANY_CONTEXTS 0x12E
#define TPM_RC_AUTH_UNAVAILABLE 0x12F
#define TPM_RC_REBOOT 0x130
#define TPM_RC_UNBALANCED 0x131
#define TPM_RC_COMMAND_SIZE 0x142
#define TPM_RC_COMMAND_CODE 0x143
#define TPM_RC_AUTHSIZE 0x144
#define TPM_RC_AUTH_CONTEXT 0x145
#define TPM_RC_NV_RANGE 0x146
#define TPM_RC_NV_SIZE 0x147
#define TPM_RC_NV_LOCKED 0x148
#define TPM_RC_NV_AUTHORIZATION 0x149
#define TPM_RC_NV_UNINITIALIZED 0x14A
#define TPM_RC_NV_SPACE 0x14B
#define TPM_RC_NV_DEFINED 0x14C
#define TPM_RC_BAD_CONTEXT 0x150
#define TPM_RC_CPHASH 0x151
#define TPM_RC_PARENT 0x152
#define TPM_RC_NO_RESULT 0x154
#define TPM_RC_SENSITIVE 0x155
/* format 1: parameter/handle/session number goes in bits 6..11 */
#define TPM_RC_ASYMMETRIC 0x081
#define TPM_RC_ATTRIBUTES 0x082
#define TPM_RC_HASH 0x083
#define TPM_RC_VALUE 0x084
#define TPM_RC_HIERARCHY 0x085
#define TPM_RC_KEY_SIZE 0x087
#define TPM_RC_MGF 0x088
#define TPM_RC_MODE 0x089
#define TPM_RC_TYPE 0x08A
#define TPM_RC_HANDLE 0x08B
#define TPM_RC_KDF 0x08C
#define TPM_RC_RANGE 0x08D
#define TPM_RC_AUTH_FAIL 0x08E
#define TPM_RC_NONCE 0x08F
#define TPM_RC_SCHEME 0x092
#define TPM_RC_SIZE 0x095
#define TPM_RC_SYMMETRIC 0x096
#define TPM_RC_TAG 0x097
#define TPM_RC_SELECTOR 0x098
#define TPM_RC_INSUFFICIENT 0x09A
#define TPM_RC_SIGNATURE 0x09B
#define TPM_RC_KEY 0x09C
#define TPM_RC_POLICY_FAIL 0x09D
#define TPM_RC_INTEGRITY 0x09F
#define TPM_RC_TICKET 0x0A0
#define TPM_RC_RESERVED_BITS 0x0A1
#define TPM_RC_BAD_AUTH 0x0A2
#define TPM_RC_EXPIRED 0x0A3
#define TPM_RC_POLICY_CC 0x0A4
#define TPM_RC_BINDING 0x0A5
#define TPM_RC_CURVE 0x0A6
#define TPM_RC_ECC_POINT 0x0A7
/* warnings */
#define TPM_RC_CONTEXT_GAP 0x901
#define TPM_RC_OBJECT_MEMORY 0x902
#define TPM_RC_SESSION_MEMORY 0x903
#define TPM_RC_MEMORY 0x904
#define TPM_RC_SESSION_HANDLES 0x905
#define TPM_RC_OBJECT_HANDLES 0x906
#define TPM_RC_LOCALITY 0x907
#define TPM_RC_REFERENCE_H0 0x910
#define TPM_RC_REFERENCE_S0 0x918
#define TPM_RC_NV_RATE 0x920
#define TPM_RC_LOCKOUT 0x921
#define TPM_RC_RETRY 0x922
#define TPM_RC_NV_UNAVAILABLE 0x923

/* Format-1 qualifiers: handle n (1..7), parameter n (1..15), session n (1..7). */
#define TTPM_RC_H(n) ((ttpm_rc)((n) << 8))
#define TTPM_RC_P(n) ((ttpm_rc)(0x040 | ((n) << 8)))
#define TTPM_RC_S(n) ((ttpm_rc)(0x800 | ((n) << 8)))
static inline bool ttpm_rc_is_fmt1(ttpm_rc rc) { return (rc & 0x080) != 0; }
/* Attach a parameter number to a format-1 code (format-0 codes pass unchanged). */
static inline ttpm_rc ttpm_rc_param(ttpm_rc rc, unsigned n)
{
    return (ttpm_rc_is_fmt1(rc) && (rc & 0xFC0) == 0x080) ? rc | TTPM_RC_P(n) : rc;
}
static inline ttpm_rc ttpm_rc_handle(ttpm_rc rc, unsigned n)
{
    return (ttpm_rc_is_fmt1(rc) && (rc & 0xFC0) == 0x080) ? rc | TTPM_RC_H(n) : rc;
}
static inline ttpm_rc ttpm_rc_session(ttpm_rc rc, unsigned n)
{
    return (ttpm_rc_is_fmt1(rc) && (rc & 0xFC0) == 0x080) ? rc | TTPM_RC_S(n) : rc;
}

/* algorithms */
#define TPM_ALG_RSA 0x0001
#define TPM_ALG_SHA1 0x0004
#define TPM_ALG_HMAC 0x0005
#define TPM_ALG_AES 0x0006
#define TPM_ALG_MGF1 0x0007
#define TPM_ALG_KEYEDHASH 0x0008
#define TPM_ALG_XOR 0x000A
#define TPM_ALG_SHA256 0x000B
#define TPM_ALG_SHA384 0x000C
#define TPM_ALG_SHA512 0x000D
#define TPM_ALG_NULL 0x0010
#define TPM_ALG_RSASSA 0x0014
#define TPM_ALG_RSAES 0x0015
#define TPM_ALG_RSAPSS 0x0016
#define TPM_ALG_OAEP 0x0017
#define TPM_ALG_ECDSA 0x0018
#define TPM_ALG_ECDH 0x0019
#define TPM_ALG_ECDAA 0x001A
#define TPM_ALG_ECMQV 0x001D
#define TPM_ALG_KDF1_SP800_56A 0x0020
#define TPM_ALG_KDF2 0x0021
#define TPM_ALG_KDF1_SP800_108 0x0022
#define TPM_ALG_ECC 0x0023
#define TPM_ALG_SYMCIPHER 0x0025
#define TPM_ALG_CTR 0x0040
#define TPM_ALG_OFB 0x0041
#define TPM_ALG_CBC 0x0042
#define TPM_ALG_CFB 0x0043
#define TPM_ALG_ECB 0x0044

#define TPM_ECC_NIST_P256 0x0003
#define TPM_ECC_NIST_P384 0x0004
#define TPM_ECC_NIST_P521 0x0005

/* handles (Part 2 §7) */
#define TPM_HT_PCR 0x00
#define TPM_HT_NV_INDEX 0x01
#define TPM_HT_HMAC_SESSION 0x02
#define TPM_HT_POLICY_SESSION 0x03
#define TPM_HT_PERMANENT 0x40
#define TPM_HT_TRANSIENT 0x80
#define TPM_HT_PERSISTENT 0x81
#define TPM_RH_OWNER 0x40000001u
#define TPM_RH_NULL 0x40000007u
#define TPM_RS_PW 0x40000009u
#define TPM_RH_LOCKOUT 0x4000000Au
#define TPM_RH_ENDORSEMENT 0x4000000Bu
#define TPM_RH_PLATFORM 0x4000000Cu
#define TPM_RH_PLATFORM_NV 0x4000000Du
#define TTPM_TRANSIENT_FIRST 0x80000000u
#define TTPM_PERSISTENT_FIRST 0x81000000u
#define TTPM_HMAC_FIRST 0x02000000u
#define TTPM_POLICY_FIRST 0x03000000u
static inline uint8_t ttpm_handle_type(uint32_t h) { return (uint8_t)(h >> 24); }

/* TPMA_OBJECT */
#define TPMA_OBJECT_FIXEDTPM 0x00000002u
#define TPMA_OBJECT_STCLEAR 0x00000004u
#define TPMA_OBJECT_FIXEDPARENT 0x00000010u
#define TPMA_OBJECT_SENSITIVEDATAORIGIN 0x00000020u
#define TPMA_OBJECT_USERWITHAUTH 0x00000040u
#define TPMA_OBJECT_ADMINWITHPOLICY 0x00000080u
#define TPMA_OBJECT_NODA 0x00000400u
#define TPMA_OBJECT_ENCRYPTEDDUPLICATION 0x00000800u
#define TPMA_OBJECT_RESTRICTED 0x00010000u
#define TPMA_OBJECT_DECRYPT 0x00020000u
#define TPMA_OBJECT_SIGN 0x00040000u
#define TPMA_OBJECT_RESERVED 0xFFF0F309u

/* TPMA_SESSION */
#define TPMA_SESSION_CONTINUE 0x01
#define TPMA_SESSION_AUDITEXCLUSIVE 0x02
#define TPMA_SESSION_AUDITRESET 0x04
#define TPMA_SESSION_DECRYPT 0x20
#define TPMA_SESSION_ENCRYPT 0x40
#define TPMA_SESSION_AUDIT 0x80

#define TPM_SE_HMAC 0x00
#define TPM_SE_POLICY 0x01
#define TPM_SE_TRIAL 0x03

#define TPM_SU_CLEAR 0x0000
#define TPM_SU_STATE 0x0001

/* command codes used by name in the code (the full table is in dispatch.c) */
#define TPM_CC_Startup 0x144
#define TPM_CC_PolicyAuthValue 0x16B
#define TPM_CC_PolicyCommandCode 0x16C
#define TPM_CC_PolicyOR 0x171
#define TPM_CC_PolicyPCR 0x17F
#define TPM_CC_PolicyPassword 0x18C
#define TPM_CC_PolicySecret 0x151
#define TPM_CC_PolicySigned 0x160
#define TPM_CC_PolicyAuthorize 0x16A
#define TPM_CC_PolicyCpHash 0x16E
#define TPM_CC_PolicyNameHash 0x170
#define TPM_CC_PolicyLocality 0x16F
#define TPM_CC_PolicyNV 0x149

/* ---- sizes ----------------------------------------------------------- */
#define TTPM_MAX_COMMAND 4096
#define TTPM_MAX_OBJECTS 32      /* loaded transient objects (TPM_PT_HR_TRANSIENT_MIN) */
#define TTPM_MAX_SESSIONS 64     /* loaded + saved sessions (TPM_PT_ACTIVE_SESSIONS_MAX) */
#define TTPM_MAX_PERSISTENT 64
#define TTPM_MAX_NV 64
#define TTPM_NV_MAX_SIZE 2048
#define TTPM_NUM_PCRS 24
#define TTPM_NUM_BANKS 3         /* SHA-1, SHA-256, SHA-384 */
#define TTPM_MAX_DIGEST 64
#define TTPM_MAX_RSA_BYTES 512
#define TTPM_MAX_ECC_BYTES 66
#define TTPM_MAX_SENS 256
#define TTPM_SEED_SIZE 64

/* ---- marshalling ------------------------------------------------------ */

/* A TPM2B held by reference into the command buffer. */
typedef struct {
    const uint8_t *b;
    uint16_t size;
} ttpm_ref;

/* Reads: return TPM_RC_SUCCESS or a format-1 code without a parameter number
 * (the caller adds it with ttpm_rc_param). TPM_RC_INSUFFICIENT for a
 * truncated input, TPM_RC_SIZE for a TPM2B larger than max. */
ttpm_rc ttpm_get_u8(tc_reader *r, uint8_t *v);
ttpm_rc ttpm_get_u16(tc_reader *r, uint16_t *v);
ttpm_rc ttpm_get_u32(tc_reader *r, uint32_t *v);
ttpm_rc ttpm_get_u64(tc_reader *r, uint64_t *v);
ttpm_rc ttpm_get_2b(tc_reader *r, uint16_t max, ttpm_ref *out);
/* TPM2B copied into a buffer of capacity max. */
ttpm_rc ttpm_get_2b_copy(tc_reader *r, uint8_t *buf, uint16_t max, uint16_t *len);
void ttpm_put_2b(tc_buf *b, const void *p, uint16_t n);

/* Hash algorithm check: TPM_RC_HASH for unsupported; null_ok allows ALG_NULL. */
ttpm_rc ttpm_check_hash(uint16_t alg, bool null_ok);

/* TPML_PCR_SELECTION as a bitmap per bank (SHA1, SHA256, SHA384). */
typedef struct {
    uint16_t count;
    struct {
        uint16_t hash;
        uint8_t size;
        uint8_t bits[4];
    } sel[8];
} ttpm_pcr_sel;
ttpm_rc ttpm_get_pcr_sel(tc_reader *r, ttpm_pcr_sel *out);
void ttpm_put_pcr_sel(tc_buf *b, const ttpm_pcr_sel *s);

/* TPMT_PUBLIC, decoded. */
typedef struct {
    uint16_t type, name_alg;
    uint32_t attrs;
    uint16_t policy_len;
    uint8_t policy[TTPM_MAX_DIGEST];
    /* TPMT_SYM_DEF_OBJECT (asymmetric storage keys), or the SYMCIPHER key */
    uint16_t sym_alg, sym_bits, sym_mode;
    /* asymmetric scheme or keyedhash scheme, and its hash */
    uint16_t scheme, scheme_hash;
    /* ECC KDF, or the XOR keyedhash KDF */
    uint16_t kdf, kdf_hash;
    uint16_t key_bits; /* RSA modulus bits */
    uint32_t exponent;
    uint16_t curve;
    uint16_t x_len, y_len; /* unique: RSA n / ECC x,y / keyedhash-symcipher digest */
    uint8_t x[TTPM_MAX_RSA_BYTES];
    uint8_t y[TTPM_MAX_ECC_BYTES];
} ttpm_public;

/* Decode and validate a TPMT_PUBLIC (the TPM2B wrapper is read by the
 * caller). Returns a format-1 code; *bad_field is not reported. */
ttpm_rc ttpm_get_public(tc_reader *r, ttpm_public *p);
/* TPMU_PUBLIC_PARMS for p->type (used by TPMT_PUBLIC and TestParms). */
ttpm_rc ttpm_get_public_parms(tc_reader *r, ttpm_public *p);
/* TPM2B_PUBLIC: size + TPMT_PUBLIC, the size must match exactly. */
ttpm_rc ttpm_get_public_2b(tc_reader *r, ttpm_public *p);
/* TPM2B_TEMPLATE whose unique is TPMS_DERIVE (CreateLoaded under a
 * derivation parent): label and context, each at most TTPM_LABEL_MAX
 * bytes, point into r's buffer; p's unique is left empty. */
#define TTPM_LABEL_MAX 32
ttpm_rc ttpm_get_derive_template(tc_reader *r, ttpm_public *p, ttpm_ref *label,
                                 ttpm_ref *context);
void ttpm_put_public(tc_buf *b, const ttpm_public *p);
void ttpm_put_public_2b(tc_buf *b, const ttpm_public *p);

/* TPMT_SENSITIVE, decoded. */
typedef struct {
    uint16_t type;
    uint16_t auth_len, seed_len, sens_len;
    uint8_t auth[TTPM_MAX_DIGEST];
    uint8_t seed[TTPM_MAX_DIGEST];
    uint8_t sens[TTPM_MAX_SENS];
} ttpm_sensitive;
ttpm_rc ttpm_get_sensitive(tc_reader *r, ttpm_sensitive *s);
void ttpm_put_sensitive(tc_buf *b, const ttpm_sensitive *s);

/* TPMT_SIGNATURE */
typedef struct {
    uint16_t alg, hash;
    uint16_t a_len, b_len;
    uint8_t a[TTPM_MAX_RSA_BYTES]; /* RSA signature or ECDSA r */
    uint8_t b[TTPM_MAX_ECC_BYTES]; /* ECDSA s */
} ttpm_signature;
ttpm_rc ttpm_get_signature(tc_reader *r, ttpm_signature *s);
void ttpm_put_signature(tc_buf *b, const ttpm_signature *s);

/* TPMT_SYM_DEF (sessions) / TPMT_SYM_DEF_OBJECT: alg, bits, mode. */
ttpm_rc ttpm_get_sym_def(tc_reader *r, bool object, uint16_t *alg, uint16_t *bits, uint16_t *mode);

/* ---- objects ----------------------------------------------------------- */

enum { TTPM_OBJ_KEY = 0, TTPM_OBJ_HASH_SEQ, TTPM_OBJ_HMAC_SEQ, TTPM_OBJ_EVENT_SEQ };

typedef struct {
    bool used;
    uint8_t kind;
    bool has_sens;  /* LoadExternal of a public key: false */
    bool primary;   /* derived from a hierarchy seed */
    uint32_t handle;
    uint32_t hierarchy; /* TPM_RH_OWNER / ENDORSEMENT / PLATFORM / NULL */
    ttpm_public pub;
    ttpm_sensitive sens;
    uint16_t name_len;
    uint8_t name[2 + TTPM_MAX_DIGEST];
    uint16_t qname_len;
    uint8_t qname[2 + TTPM_MAX_DIGEST];
    tcrypto_tpm_key *key; /* cached asymmetric key, built on first use */
    /* sequences */
    uint16_t seq_hash;
    tcrypto_tpm_md *md[TTPM_NUM_BANKS];
    uint64_t age;   /* for ContextSave ordering */
} ttpm_object;

/* ---- sessions ----------------------------------------------------------- */

typedef struct {
    bool used;
    bool loaded;     /* false: context saved, only the slot remains (Part 1 §30) */
    uint8_t type;    /* TPM_SE_HMAC / POLICY / TRIAL */
    uint32_t handle;
    uint16_t hash;   /* authHash */
    uint16_t sym_alg, sym_bits, sym_mode;
    uint16_t nonce_tpm_len;
    uint8_t nonce_tpm[TTPM_MAX_DIGEST];
    uint16_t nonce_caller_len;
    uint8_t nonce_caller[TTPM_MAX_DIGEST];
    uint16_t key_len;
    uint8_t session_key[TTPM_MAX_DIGEST];
    bool bound;
    uint8_t bind_name[2 + TTPM_MAX_DIGEST];
    uint16_t bind_name_len;
    /* policy */
    uint8_t policy[TTPM_MAX_DIGEST];
    bool need_auth_value, need_password;
    uint32_t command_code; /* 0 = not set */
    uint16_t cp_hash_len, name_hash_len;
    uint8_t cp_hash[TTPM_MAX_DIGEST];
    uint8_t name_hash[TTPM_MAX_DIGEST];
    uint8_t locality; /* 0 = not set, else TPMA_LOCALITY */
    uint32_t pcr_counter;
    bool pcr_checked;
    uint8_t nv_written;    /* PolicyNvWritten: 0 unset, 1 must be written, 2 must not */
    uint16_t template_len;
    uint8_t template_hash[TTPM_MAX_DIGEST]; /* PolicyTemplate */
    bool is_trial;
    uint64_t context_seq;   /* sequence of the saved context that owns it */
    bool audit_started;
    uint8_t audit_digest[TTPM_MAX_DIGEST];
    uint64_t age;            /* last use, for eviction when the table is full */
    uint64_t start_time;     /* TPM time at StartAuthSession (ms) */
    uint64_t timeout;        /* policy expiry in TPM time, 0 = none */
} ttpm_session;

/* ---- NV indices ---------------------------------------------------------- */
#define TPMA_NV_PPWRITE 0x00000001u
#define TPMA_NV_OWNERWRITE 0x00000002u
#define TPMA_NV_AUTHWRITE 0x00000004u
#define TPMA_NV_POLICYWRITE 0x00000008u
#define TPMA_NV_TPM_NT_MASK 0x000000F0u
#define TPMA_NV_POLICY_DELETE 0x00000400u
#define TPMA_NV_WRITELOCKED 0x00000800u
#define TPMA_NV_WRITEALL 0x00001000u
#define TPMA_NV_WRITEDEFINE 0x00002000u
#define TPMA_NV_WRITE_STCLEAR 0x00004000u
#define TPMA_NV_GLOBALLOCK 0x00008000u
#define TPMA_NV_PPREAD 0x00010000u
#define TPMA_NV_OWNERREAD 0x00020000u
#define TPMA_NV_AUTHREAD 0x00040000u
#define TPMA_NV_POLICYREAD 0x00080000u
#define TPMA_NV_NO_DA 0x02000000u
#define TPMA_NV_ORDERLY 0x04000000u
#define TPMA_NV_CLEAR_STCLEAR 0x08000000u
#define TPMA_NV_READLOCKED 0x10000000u
#define TPMA_NV_WRITTEN 0x20000000u
#define TPMA_NV_PLATFORMCREATE 0x40000000u
#define TPMA_NV_READ_STCLEAR 0x80000000u
#define TPM_NT_ORDINARY 0
#define TPM_NT_COUNTER 1
#define TPM_NT_BITS 2
#define TPM_NT_EXTEND 4
#define TPM_NT_PIN_FAIL 8
#define TPM_NT_PIN_PASS 9

typedef struct {
    bool used;
    uint32_t index;
    uint16_t name_alg;
    uint32_t attrs;
    uint16_t policy_len;
    uint8_t policy[TTPM_MAX_DIGEST];
    uint16_t size;
    uint16_t auth_len;
    uint8_t auth[TTPM_MAX_DIGEST];
    uint8_t data[TTPM_NV_MAX_SIZE];
} ttpm_nv;

typedef struct {
    bool used;
    uint32_t handle;
    uint32_t hierarchy;
    ttpm_public pub;
    ttpm_sensitive sens;
    uint16_t qname_len;
    uint8_t qname[2 + TTPM_MAX_DIGEST];
} ttpm_persistent;

/* ---- the TPM ------------------------------------------------------------- */

/* Permanent state: written to DIR/tpm-state on every change. */
typedef struct {
    uint8_t eps[TTPM_SEED_SIZE], sps[TTPM_SEED_SIZE], pps[TTPM_SEED_SIZE];
    uint8_t null_proof[TTPM_SEED_SIZE]; /* context integrity key base */
    uint16_t owner_auth_len, endorsement_auth_len, lockout_auth_len, platform_auth_len;
    uint8_t owner_auth[TTPM_MAX_DIGEST], endorsement_auth[TTPM_MAX_DIGEST];
    uint8_t lockout_auth[TTPM_MAX_DIGEST], platform_auth[TTPM_MAX_DIGEST];
    uint16_t owner_policy_alg, endorsement_policy_alg, lockout_policy_alg, platform_policy_alg;
    uint16_t owner_policy_len, endorsement_policy_len, lockout_policy_len, platform_policy_len;
    uint8_t owner_policy[TTPM_MAX_DIGEST], endorsement_policy[TTPM_MAX_DIGEST];
    uint8_t lockout_policy[TTPM_MAX_DIGEST], platform_policy[TTPM_MAX_DIGEST];
    bool disable_clear;
    bool in_lockout;
    bool lockout_auth_failed; /* lockoutAuth blocked until lockoutRecovery passes */
    uint64_t lockout_fail_clock;
    uint64_t last_da_decrement; /* clock of the last failedTries decrement */
    uint32_t failed_tries, max_tries, recovery_time, lockout_recovery;
    uint64_t clock;        /* ms, advanced from the host clock */
    uint32_t reset_count, restart_count;
    bool orderly;          /* last shutdown was orderly */
    uint8_t pcr_banks;     /* bit i: bank i allocated */
    uint64_t audit_counter;
    uint16_t audit_hash;
    uint8_t audit_cc[64];  /* bitmap over command codes 0x11F.. */
    ttpm_nv nv[TTPM_MAX_NV];
    /* highest value any NV counter index has held, also deleted ones: a new
     * counter starts above it (Part 1, Counter Index) */
    uint64_t nv_counter_max;
    /* the authPolicy of the PCR policy group (TPM2_PCR_SetAuthPolicy);
     * pcr_policy_len 0: none */
    uint16_t pcr_policy_alg, pcr_policy_len;
    uint8_t pcr_policy[TTPM_MAX_DIGEST];
    ttpm_persistent persist[TTPM_MAX_PERSISTENT];
    /* Shutdown(STATE) save area */
    bool saved_valid;
    uint8_t saved_pcr[TTPM_NUM_BANKS][TTPM_NUM_PCRS][TTPM_MAX_DIGEST];
    uint32_t saved_pcr_counter;
    uint16_t saved_pcr_auth_len; /* authValue of the PCR auth group */
    uint8_t saved_pcr_auth[TTPM_MAX_DIGEST];
    /* saved session contexts and the key that protects them, kept across a
     * process restart for TPM Resume (Part 1 §30.5) */
    uint8_t saved_context_key[32];
    uint64_t saved_context_seq;
    ttpm_session saved_sess[TTPM_MAX_SESSIONS];
} ttpm_perm;


typedef struct ttpm {
    char *state_path;  /* NULL: memory only (tests, fuzzing) */
    bool started;
    bool powered;
    uint8_t locality;
    bool sh_enable, eh_enable, ph_enable, ph_enable_nv;
    ttpm_perm perm;
    bool dirty;        /* perm changed by the current command */
    uint8_t pcr[TTPM_NUM_BANKS][TTPM_NUM_PCRS][TTPM_MAX_DIGEST];
    uint32_t pcr_counter;
    /* authValue of the PCR auth group (TPM2_PCR_SetAuthValue): kept until
     * the next TPM Reset or Restart (Part 1, PCR authorization) */
    uint16_t pcr_auth_len;
    uint8_t pcr_auth[TTPM_MAX_DIGEST];
    ttpm_object obj[TTPM_MAX_OBJECTS];
    ttpm_object pobj[TTPM_MAX_PERSISTENT]; /* persistent objects, mirrored from perm */
    ttpm_session sess[TTPM_MAX_SESSIONS];
    uint64_t obj_age;
    uint64_t context_seq;      /* ContextSave sequence */
    uint8_t context_key[32];   /* per-boot key for saved contexts (Part 1 §30.3) */
    uint64_t clock_base_host;  /* host ms at which perm.clock was last updated */
    uint64_t clock_saved;      /* perm.clock at the last state commit */
    uint64_t time_ms;          /* since Startup */
    bool in_failure;
    bool state_refused;        /* the state file was refused: never overwrite it */
    bool global_lock;          /* NV_GlobalWriteLock until the next Startup */
    bool audit_started;        /* command audit digest extended since last reset */
    uint8_t audit_digest[TTPM_MAX_DIGEST];
    /* Commit / EC_Ephemeral (cmd_ecc.c): the one-time random values r come
     * from a per-boot key and a counter; a bit per outstanding counter in a
     * window of 128 (Part 1 §C.4, Part 3 §19.2) */
    bool commit_ready;
    uint8_t commit_key[32];
    uint64_t commit_counter;
    uint8_t commit_bits[16];
    /* Capacity profile (ttpm_set_profile): transient object slots and
     * loaded sessions offered, and whether a full table answers
     * TPM_RC_OBJECT_MEMORY / SESSION_MEMORY / SESSION_HANDLES as a chip
     * does (strict) or makes room by evicting the least recently used. */
    unsigned max_objects, max_loaded_sessions;
    bool strict_capacity;
    struct ttpm_pcache *pcache; /* recently derived RSA primaries (object.c) */
    tcrypto_tpm_md *drtm[TTPM_NUM_BANKS]; /* _TPM_Hash_Start..End in progress */
} ttpm;

/* Create a TPM whose state lives in dir (created if missing; seeds made on
 * first start). dir NULL: volatile TPM for tests. NULL on failure. */
ttpm *ttpm_new(const char *dir);
void ttpm_free(ttpm *t);
/* "default": 32 objects, 64 sessions, least recently used evicted when
 * full; "small": 3 objects and 3 loaded sessions like a small chip, full
 * tables answer the chip's error codes. false for an unknown name. */
bool ttpm_set_profile(ttpm *t, const char *name);
/* The platform's DRTM hash interface (Part 1 §34, _TPM_Hash_Start, _Data,
 * _End; swtpm CMD_HASH_*, mssim signals 5-7): Start resets PCR 17-22 to
 * zero and begins a digest in every allocated bank, Data adds to it, End
 * extends PCR 17 with it. false when out of order or on a crypto failure. */
bool ttpm_hash_start(ttpm *t);
bool ttpm_hash_data(ttpm *t, const void *p, size_t n);
bool ttpm_hash_end(ttpm *t);
/* Room for one more loaded session (new_slot: also a new session slot):
 * TPM_RC_SUCCESS, or under the strict profile TPM_RC_SESSION_MEMORY /
 * TPM_RC_SESSION_HANDLES. */
ttpm_rc ttpm_sess_room(ttpm *t, bool new_slot);
/* Power events (mssim platform port / swtpm control channel). */
void ttpm_power_on(ttpm *t);
void ttpm_power_off(ttpm *t);
/* Run one command: cmd/len in, response appended to out (always a valid
 * TPM response, an error code when something failed). */
void ttpm_execute(ttpm *t, const uint8_t *cmd, size_t len, tc_buf *out);
/* Persist perm if dirty (called once per command). */
ttpm_rc ttpm_state_commit(ttpm *t);
/* Read the state file into t->perm. false: there is no file (manufacture a
 * new TPM). true with t->in_failure set: the file exists but was refused (it
 * is then never overwritten). */
bool ttpm_state_load(ttpm *t);

/* The state file format (state.c): why a file was refused. */
typedef enum {
    TTPM_STATE_OK = 0,
    TTPM_STATE_MEMORY,
    TTPM_STATE_MAGIC,          /* not a state file */
    TTPM_STATE_OLD_FORMAT,     /* the earlier raw-image format */
    TTPM_STATE_TRUNCATED,
    TTPM_STATE_CHECKSUM,
    TTPM_STATE_VERSION,        /* another major, or a newer minor version */
    TTPM_STATE_UNKNOWN_RECORD, /* a record this version does not know */
    TTPM_STATE_MISSING,        /* a required record is absent */
    TTPM_STATE_FIELD,          /* a field out of range, or bytes left in a record */
    TTPM_STATE_FORMAT,         /* records out of order or repeated */
    TTPM_STATE_UNREADABLE,     /* the file exists but cannot be read */
} ttpm_state_err;
/* Encode perm as a complete state file (checksum included) into *out (a
 * tc_buf the caller frees; written only on success). */
bool ttpm_state_encode(const ttpm_perm *p, tc_buf *out) TC_MUST_CHECK;
/* Decode an untrusted state file; *out is written only on TTPM_STATE_OK. */
ttpm_state_err ttpm_state_decode(const uint8_t *buf, size_t len, ttpm_perm *out);
const char *ttpm_state_err_str(ttpm_state_err e);
/* Rebuild t->pobj from t->perm.persist. */
void ttpm_persist_sync(ttpm *t);

/* Limits of the server: connections at once (a new client evicts the
 * idlest when full); a connection closes when silent for idle_timeout_ms,
 * when a message stays incomplete for read_timeout_ms, or when queued
 * responses go unread for write_timeout_ms (0: no such timeout). */
typedef struct {
    unsigned max_conns;
    uint32_t idle_timeout_ms, read_timeout_ms, write_timeout_ms;
    /* also the swtpm control channel on this Unix socket (QEMU's
     * tpm-emulator backend hands the data channel over with
     * CMD_SET_DATAFD), or NULL */
    const char *ctrl_unix;
} ttpm_server_limits;
extern const ttpm_server_limits ttpm_server_defaults;

/* Serve the mssim and swtpm protocols on addr:port (TPM) and port+1
 * (platform/control; port 0: no TCP), and the control channel on
 * lim->ctrl_unix, until *stop becomes non-zero; lim NULL = defaults.
 * -1 if it cannot listen. */
int ttpm_server_run(ttpm *t, const char *addr, uint16_t port, const ttpm_server_limits *lim,
                    volatile int *stop);

/* `tessera-tpm measure`: measured boot into a PCR and a TCG event log. */
int ttpm_measure_main(int argc, char **argv);

/* PCRs 20-22 form the one group whose authValue (PCR_SetAuthValue) and
 * authPolicy (PCR_SetAuthPolicy) can be set, as in the reference's PC
 * Client layout; the other PCRs keep the Empty Buffer and no policy. */
static inline bool ttpm_pcr_in_auth_group(uint32_t h) { return h >= 20 && h <= 22; }

/* bank index of a hash alg, -1 if not a PCR bank */
int ttpm_bank_index(uint16_t alg);
uint16_t ttpm_bank_alg(int i);

/* ---- command context --------------------------------------------------- */

#define TTPM_MAX_HANDLES 3
#define TTPM_MAX_AUTHS 3

typedef struct {
    uint32_t handle;
    uint16_t nonce_len;
    uint8_t nonce[TTPM_MAX_DIGEST];
    uint8_t attrs;
    uint16_t hmac_len;
    uint8_t hmac[TTPM_MAX_DIGEST];
    ttpm_session *s;  /* NULL for the password session */
    bool is_auth;     /* authorises a handle (not only encrypt/audit) */
    bool with_auth;   /* the entity's authValue is part of the HMAC key */
    uint32_t entity;  /* the authorised handle (0 for encrypt/audit-only sessions) */
    /* the HMAC key for the response: sessionKey || authValue (if included) */
    uint16_t key_len;
    uint8_t key[2 * TTPM_MAX_DIGEST];
} ttpm_auth;

typedef struct ttpm_cmd {
    ttpm *t;
    uint32_t cc;
    uint16_t tag;
    unsigned nh;
    uint32_t h[TTPM_MAX_HANDLES];
    unsigned na;
    ttpm_auth auth[TTPM_MAX_AUTHS];
    tc_reader in;       /* parameters */
    const uint8_t *cp;  /* parameter area, for cpHash */
    size_t cp_len;
    /* output */
    bool has_out_handle;
    uint32_t out_handle;
    tc_buf *out;        /* response parameters */
    bool flush_auth[TTPM_MAX_AUTHS]; /* a handler may ask to drop a session (PolicySecret etc) */
    /* audit: cpHash per audited session and for command audit */
    bool cmd_audit;
    uint8_t audit_cp[TTPM_MAX_DIGEST];
    uint8_t sess_cp[TTPM_MAX_AUTHS][TTPM_MAX_DIGEST];
} ttpm_cmd;

typedef ttpm_rc (*ttpm_handler)(ttpm_cmd *c);

/* Part 3 §5.2: octets left after the last parameter are TPM_RC_SIZE.
 * Handlers check it after parsing and before they change anything. */
static inline bool ttpm_params_end(const ttpm_cmd *c) { return tc_reader_left(&c->in) == 0; }

typedef struct {
    uint32_t cc;
    uint8_t handles;      /* handles in the handle area */
    uint8_t auths;        /* how many of them (from the first) need authorisation */
    uint8_t auth_role[3]; /* per auth handle: 0 USER, 1 ADMIN, 2 DUP */
    bool out_handle;      /* a handle in the response */
    bool enc_in, enc_out; /* first parameter is a TPM2B (may be encrypted) */
    ttpm_handler fn;
} ttpm_cmd_info;

const ttpm_cmd_info *ttpm_cmd_lookup(uint32_t cc);
/* The table, for GetCapability(TPM_CAP_COMMANDS). */
const ttpm_cmd_info *ttpm_cmd_table(size_t *n);

/* ---- entities --------------------------------------------------------- */

/* Object lookup (transient or persistent, loaded into a slot on demand for
 * persistent ones: returns a slot that the caller must not free). */
ttpm_object *ttpm_obj_get(ttpm *t, uint32_t handle);
ttpm_object *ttpm_obj_alloc(ttpm *t);
void ttpm_obj_free(ttpm_object *o);
/* Compute o->name from o->pub. */
ttpm_rc ttpm_obj_set_name(ttpm_object *o);
/* Name of any entity handle (Part 1 §16): objects/NV names, else the handle. */
ttpm_rc ttpm_entity_name(ttpm *t, uint32_t h, uint8_t *name, uint16_t *len);
/* authValue of an entity (hierarchy, object, NV); false if none. */
bool ttpm_entity_auth(ttpm *t, uint32_t h, const uint8_t **auth, uint16_t *len);
/* authPolicy of an entity. */
bool ttpm_entity_policy(ttpm *t, uint32_t h, const uint8_t **pol, uint16_t *len, uint16_t *alg);
/* Asymmetric key of an object (built and cached). */
ttpm_rc ttpm_obj_key(ttpm_object *o, tcrypto_tpm_key **k);
/* Secret sharing with an asymmetric key (Part 1 §24, Annex B.10.3, C.6.4),
 * for credentials, duplication seeds and session salts: make a fresh seed of
 * nameAlg size and its encrypted form (a TPM2B appended to secret), or recover
 * the seed from the encrypted form. Errors carry no parameter number. */
ttpm_rc ttpm_secret_make(ttpm_object *k, const char *label, uint8_t *seed, size_t *seed_len,
                         tc_buf *secret);
ttpm_rc ttpm_secret_recover(ttpm_object *k, const char *label, const ttpm_ref *secret,
                            uint8_t *seed, size_t *seed_len);

/* Marshalled TPMT_PUBLIC into buf (returns false if too large). */
bool ttpm_public_bytes(const ttpm_public *p, uint8_t *buf, size_t cap, size_t *len);

/* Wrap/unwrap a sensitive area under a parent (Part 1 §23: TPM2B_PRIVATE). */
ttpm_rc ttpm_wrap_sensitive(ttpm_object *parent, const ttpm_sensitive *s, const uint8_t *name,
                            uint16_t name_len, tc_buf *out_private);
ttpm_rc ttpm_unwrap_sensitive(ttpm_object *parent, const uint8_t *priv, uint16_t priv_len,
                              const uint8_t *name, uint16_t name_len, ttpm_sensitive *s);
/* Generate the key material for a public template: fills p->unique and s.
 * stream NULL: random. */
ttpm_rc ttpm_generate(ttpm_public *p, ttpm_sensitive *s, tcrypto_tpm_stream stream, void *sctx,
                      const uint8_t *sens_data, uint16_t sens_data_len);
/* Recently derived RSA primaries, keyed by the hierarchy seed and the
 * digest of the template and sensitive data (the KDFa context of the
 * derivation): the same inputs give the same key (Part 1 §27.5), so a hit
 * returns what ttpm_generate would. Entries live on the secure heap; those
 * of a seed that is no longer a hierarchy seed (Clear, ChangeEPS/PPS, a TPM
 * Reset for the NULL hierarchy) are wiped at the next state commit or
 * lookup. */
bool ttpm_pcache_get(ttpm *t, const uint8_t *seed, const uint8_t ctx[32], ttpm_public *p,
                     ttpm_sensitive *s);
void ttpm_pcache_put(ttpm *t, const uint8_t *seed, const uint8_t ctx[32], const ttpm_public *p,
                     const ttpm_sensitive *s);
void ttpm_pcache_prune(ttpm *t);
void ttpm_pcache_free(ttpm *t);
/* Check the public area's attributes and parameters for an object creation. */
ttpm_rc ttpm_check_template(const ttpm_public *p, bool primary, bool has_data);

/* The proof value of a hierarchy (tickets, saved contexts): 32 bytes. */
ttpm_rc ttpm_proof(ttpm *t, uint32_t hierarchy, uint8_t out[32]);
/* A ticket digest: HMAC-SHA256(proof(hierarchy), tag || parts...) (Part 1 §10.6.5 shape). */
ttpm_rc ttpm_ticket(ttpm *t, uint16_t tag, uint32_t hierarchy, const tcrypto_tpm_iov *v, size_t nv,
                    uint8_t out[32]);
/* Hierarchy handle checks */
bool ttpm_hierarchy_enabled(ttpm *t, uint32_t h);

/* sessions (session.c) */
ttpm_session *ttpm_sess_get(ttpm *t, uint32_t handle);
/* Check authorisation i of a command: DA lockout, the session's role and
 * policy, the HMAC or password; a PIN index's authValue only while its
 * pinCount allows, each use counted. */
ttpm_rc ttpm_sess_authorize(ttpm_cmd *c, unsigned i, const ttpm_cmd_info *ci);
/* New nonceTPM for every session of a successful command (before encryption). */
ttpm_rc ttpm_sess_next_nonces(ttpm_cmd *c);
ttpm_rc ttpm_sess_param_crypt(ttpm_cmd *c, bool response, uint8_t *p, size_t n);
ttpm_rc ttpm_sess_response_hmac(ttpm_cmd *c, unsigned i, const uint8_t *rp, size_t rplen,
                                tc_buf *out);
ttpm_rc ttpm_cphash(uint16_t alg, ttpm_cmd *c, uint8_t *out);
void ttpm_sess_flush(ttpm_session *s);
void ttpm_policy_update(ttpm_session *s, uint32_t cc, const uint8_t *arg1, size_t l1,
                        const uint8_t *arg2, size_t l2);

/* Attestation helpers (cmd_attest.c): TPMT_SIG_SCHEME, the signing key of
 * handle hidx (TPM_RH_NULL: unsigned) with the scheme chosen per Part 1 §C.4,
 * TPMS_ATTEST header, and the final TPM2B_ATTEST + TPMT_SIGNATURE. */
typedef struct {
    ttpm_object *key; /* NULL: unsigned */
    uint16_t scheme, hash;
} ttpm_signer;
ttpm_rc ttpm_get_sig_scheme(tc_reader *r, uint16_t *scheme, uint16_t *hash);
ttpm_rc ttpm_signer_setup(ttpm_cmd *c, unsigned hidx, uint16_t scheme, uint16_t hash,
                          unsigned pscheme, ttpm_signer *s);
void ttpm_attest_header(ttpm_cmd *c, tc_buf *a, uint16_t type, const ttpm_signer *s,
                        const ttpm_ref *extra);
ttpm_rc ttpm_attest_finish(ttpm_cmd *c, tc_buf *a, const ttpm_signer *s);
/* Parameters qualifyingData (1) and inScheme (2), nothing after them, and
 * the signer: the key of handle 2 (GetTime, Certify, GetCommandAuditDigest,
 * GetSessionAuditDigest; Part 3 §18.7, §18.2, §21.5, §21.4). */
ttpm_rc ttpm_attest_simple_params(ttpm_cmd *c, ttpm_ref *extra, ttpm_signer *s);

/* NV PIN indices (cmd_nv.c): is h one; TPM_RC_AUTH_UNAVAILABLE when its
 * authValue may not be used (not written, or pinCount >= pinLimit); count
 * one authorisation with its authValue. */
bool ttpm_nv_pin_index(ttpm *t, uint32_t h);
bool ttpm_nv_pin_pass_index(ttpm *t, uint32_t h);
ttpm_rc ttpm_nv_pin_available(ttpm *t, uint32_t h);
void ttpm_nv_pin_record(ttpm *t, uint32_t h, bool ok);

/* ECDAA signing of a digest with key o and the r of Commit's counter
 * (cmd_ecc.c): the signature's R is the nonce, S = r + H(nonce || digest) * d
 * mod n. */
ttpm_rc ttpm_ecdaa_sign(ttpm *t, ttpm_object *o, uint16_t hash, uint16_t count,
                        const uint8_t *digest, size_t dlen, ttpm_signature *sig);

/* The comparison of PolicyNV and PolicyCounterTimer (Part 2 TPM_EO): A is
 * the TPM's operand, B the caller's, both n octets big-endian. */
bool ttpm_policy_compare(uint16_t operation, const uint8_t *a, const uint8_t *b, size_t n);

/* Is cc in the command audit list? */
bool ttpm_cc_audited(const ttpm *t, uint32_t cc);

/* DA (Part 1 §19.8) */
bool ttpm_da_protected(ttpm *t, uint32_t h);
void ttpm_da_failure(ttpm *t);

/* clock */
void ttpm_clock_update(ttpm *t);

/* handlers (cmd_*.c) */
#define TTPM_HANDLER(name) ttpm_rc ttpm_cmd_##name(ttpm_cmd *c)
TTPM_HANDLER(Startup);
TTPM_HANDLER(Shutdown);
TTPM_HANDLER(SelfTest);
TTPM_HANDLER(IncrementalSelfTest);
TTPM_HANDLER(GetTestResult);
TTPM_HANDLER(GetRandom);
TTPM_HANDLER(StirRandom);
TTPM_HANDLER(GetCapability);
TTPM_HANDLER(TestParms);
TTPM_HANDLER(PCR_Read);
TTPM_HANDLER(PCR_Extend);
TTPM_HANDLER(PCR_Event);
TTPM_HANDLER(PCR_Reset);
TTPM_HANDLER(PCR_Allocate);
TTPM_HANDLER(PCR_SetAuthPolicy);
TTPM_HANDLER(PCR_SetAuthValue);
TTPM_HANDLER(Hash);
TTPM_HANDLER(HMAC);
TTPM_HANDLER(HashSequenceStart);
TTPM_HANDLER(HMAC_Start);
TTPM_HANDLER(SequenceUpdate);
TTPM_HANDLER(SequenceComplete);
TTPM_HANDLER(EventSequenceComplete);
TTPM_HANDLER(CreatePrimary);
TTPM_HANDLER(Create);
TTPM_HANDLER(CreateLoaded);
TTPM_HANDLER(Load);
TTPM_HANDLER(LoadExternal);
TTPM_HANDLER(ReadPublic);
TTPM_HANDLER(FlushContext);
TTPM_HANDLER(ContextSave);
TTPM_HANDLER(ContextLoad);
TTPM_HANDLER(EvictControl);
TTPM_HANDLER(ObjectChangeAuth);
TTPM_HANDLER(Unseal);
TTPM_HANDLER(Sign);
TTPM_HANDLER(VerifySignature);
TTPM_HANDLER(RSA_Encrypt);
TTPM_HANDLER(RSA_Decrypt);
TTPM_HANDLER(EncryptDecrypt);
TTPM_HANDLER(EncryptDecrypt2);
TTPM_HANDLER(StartAuthSession);
TTPM_HANDLER(PolicyRestart);
TTPM_HANDLER(PolicyGetDigest);
TTPM_HANDLER(PolicyPCR);
TTPM_HANDLER(PolicyPassword);
TTPM_HANDLER(PolicyAuthValue);
TTPM_HANDLER(PolicyCommandCode);
TTPM_HANDLER(PolicyOR);
TTPM_HANDLER(PolicySecret);
TTPM_HANDLER(PolicyAuthorize);
TTPM_HANDLER(PolicyCpHash);
TTPM_HANDLER(PolicyNameHash);
TTPM_HANDLER(PolicyLocality);
TTPM_HANDLER(NV_DefineSpace);
TTPM_HANDLER(NV_UndefineSpace);
TTPM_HANDLER(NV_ReadPublic);
TTPM_HANDLER(NV_Write);
TTPM_HANDLER(NV_Read);
TTPM_HANDLER(NV_Increment);
TTPM_HANDLER(NV_Extend);
TTPM_HANDLER(NV_SetBits);
TTPM_HANDLER(NV_WriteLock);
TTPM_HANDLER(NV_ReadLock);
TTPM_HANDLER(NV_ChangeAuth);
TTPM_HANDLER(HierarchyChangeAuth);
TTPM_HANDLER(HierarchyControl);
TTPM_HANDLER(SetPrimaryPolicy);
TTPM_HANDLER(Clear);
TTPM_HANDLER(ClearControl);
TTPM_HANDLER(DictionaryAttackLockReset);
TTPM_HANDLER(DictionaryAttackParameters);
TTPM_HANDLER(ReadClock);
TTPM_HANDLER(Quote);
TTPM_HANDLER(GetTime);
TTPM_HANDLER(Certify);
TTPM_HANDLER(CertifyCreation);
TTPM_HANDLER(MakeCredential);
TTPM_HANDLER(ActivateCredential);
TTPM_HANDLER(ECDH_KeyGen);
TTPM_HANDLER(ECDH_ZGen);
TTPM_HANDLER(ECC_Parameters);
TTPM_HANDLER(Duplicate);
TTPM_HANDLER(Import);
TTPM_HANDLER(PolicyDuplicationSelect);
TTPM_HANDLER(PolicyNV);
TTPM_HANDLER(PolicySigned);
TTPM_HANDLER(NV_Certify);
TTPM_HANDLER(ChangeEPS);
TTPM_HANDLER(ChangePPS);
TTPM_HANDLER(SetCommandCodeAuditStatus);
TTPM_HANDLER(GetCommandAuditDigest);
TTPM_HANDLER(GetSessionAuditDigest);
TTPM_HANDLER(PolicyNvWritten);
TTPM_HANDLER(PolicyTemplate);
TTPM_HANDLER(PolicyAuthorizeNV);
TTPM_HANDLER(PolicyCounterTimer);
TTPM_HANDLER(PolicyPhysicalPresence);
TTPM_HANDLER(ClockRateAdjust);
TTPM_HANDLER(NV_GlobalWriteLock);
TTPM_HANDLER(PolicyTicket);
TTPM_HANDLER(ClockSet);
TTPM_HANDLER(EC_Ephemeral);
TTPM_HANDLER(Commit);
TTPM_HANDLER(ZGen_2Phase);

#endif
