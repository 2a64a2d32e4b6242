#!/bin/bash
# PCR_SetAuthValue and PCR_SetAuthPolicy (Part 3, PCR commands) on the one
# PCR group that has them (PCRs 20-22), driven through the ESAPI as a
# platform would: the authValue authorises PCR_Extend with a password or an
# HMAC session until the next Startup(CLEAR) (kept across Resume); the
# platform's policy authorises it with a policy session and survives a
# restart; the PCR properties TPM_PT_PCR_AUTH / TPM_PT_PCR_POLICY report the
# group; PCRs outside the group are refused with TPM_RC_VALUE.
source "$(dirname "$0")/common.bash"
pkg-config --exists tss2-esys tss2-tctildr 2>/dev/null || { echo "no libtss2-dev" >&2; exit 77; }

cat > pcrauth.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

static ESYS_CONTEXT *ctx;
#define CHECK(x, what) do { TSS2_RC r_ = (x); if (r_ != TSS2_RC_SUCCESS) { \
    fprintf(stderr, "%s failed: 0x%x\n", what, r_); exit(1); } } while (0)
#define EXPECT(x, rc, what) do { TSS2_RC r_ = (x); if (r_ != (TSS2_RC)(rc)) { \
    fprintf(stderr, "%s: 0x%x, want 0x%x\n", what, r_, (unsigned)(rc)); exit(1); } } while (0)

static TPML_DIGEST_VALUES one_digest(void)
{
    TPML_DIGEST_VALUES v = { .count = 1 };
    v.digests[0].hashAlg = TPM2_ALG_SHA256;
    memset(v.digests[0].digest.sha256, 0x5A, 32);
    return v;
}

static TSS2_RC extend(ESYS_TR pcr, ESYS_TR sess)
{
    TPML_DIGEST_VALUES v = one_digest();
    return Esys_PCR_Extend(ctx, pcr, sess, ESYS_TR_NONE, ESYS_TR_NONE, &v);
}

static ESYS_TR start(TPM2_SE type)
{
    TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
    ESYS_TR s;
    CHECK(Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, &s), "start session");
    return s;
}

/* the digest of PolicyCommandCode(cc), from a trial session */
static TPM2B_DIGEST policy_cc(TPM2_CC cc)
{
    ESYS_TR s = start(TPM2_SE_TRIAL);
    TPM2B_DIGEST *d;
    CHECK(Esys_PolicyCommandCode(ctx, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, cc), "trial cc");
    CHECK(Esys_PolicyGetDigest(ctx, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d), "digest");
    TPM2B_DIGEST out = *d;
    Esys_Free(d);
    Esys_FlushContext(ctx, s);
    return out;
}

int main(int argc, char **argv)
{
    TSS2_TCTI_CONTEXT *tcti;
    const char *step = argv[2];
    (void)argc;
    CHECK(Tss2_TctiLdr_Initialize(argv[1], &tcti), "tcti");
    CHECK(Esys_Initialize(&ctx, tcti, NULL), "init");
    TPM2B_AUTH pw = { .size = 5, .buffer = "pcrpw" };
    TPM2B_AUTH wrong = { .size = 5, .buffer = "wrong" };
    TPM2B_AUTH empty = { 0 };

    if (strcmp(step, "caps") == 0) {
        /* TPM_PT_PCR_POLICY (0x13) and TPM_PT_PCR_AUTH (0x14): PCRs 20..22 */
        TPMS_CAPABILITY_DATA *cap;
        TPMI_YES_NO more;
        CHECK(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                 TPM2_CAP_PCR_PROPERTIES, TPM2_PT_PCR_POLICY, 2, &more, &cap),
              "GetCapability");
        TPML_TAGGED_PCR_PROPERTY *pp = &cap->data.pcrProperties;
        if (pp->count != 2 || pp->pcrProperty[0].tag != TPM2_PT_PCR_POLICY ||
            pp->pcrProperty[1].tag != TPM2_PT_PCR_AUTH) {
            fprintf(stderr, "PCR properties: count %u\n", (unsigned)pp->count);
            exit(1);
        }
        for (int i = 0; i < 2; i++) {
            const TPMS_TAGGED_PCR_SELECT *t = &pp->pcrProperty[i];
            if (t->sizeofSelect != 3 || t->pcrSelect[0] != 0 || t->pcrSelect[1] != 0 ||
                t->pcrSelect[2] != 0x70) {
                fprintf(stderr, "PCR property 0x%x: %02x %02x %02x\n", (unsigned)t->tag,
                        t->pcrSelect[0], t->pcrSelect[1], t->pcrSelect[2]);
                exit(1);
            }
        }
        Esys_Free(cap);
    } else if (strcmp(step, "set") == 0) {
        /* authValue on PCR 20 (the PCR's own authorisation, empty so far) */
        CHECK(Esys_PCR_SetAuthValue(ctx, ESYS_TR_PCR20, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                    ESYS_TR_NONE, (TPM2B_DIGEST *)&pw), "PCR_SetAuthValue");
        /* PCRs outside the group: TPM_RC_VALUE on the handle */
        EXPECT(Esys_PCR_SetAuthValue(ctx, ESYS_TR_PCR5, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, (TPM2B_DIGEST *)&pw), 0x184, "SetAuthValue PCR 5");
    } else if (strcmp(step, "setpol") == 0) {
        /* policy on PCR 21: PolicyCommandCode(PCR_Extend), set by the platform */
        TPM2B_DIGEST pol = policy_cc(TPM2_CC_PCR_Extend);
        EXPECT(Esys_PCR_SetAuthPolicy(ctx, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE, &pol, TPM2_ALG_SHA256, 5), 0x3C4,
               "SetAuthPolicy PCR 5");
        TPM2B_DIGEST shortpol = pol;
        shortpol.size = 20;
        EXPECT(Esys_PCR_SetAuthPolicy(ctx, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                      ESYS_TR_NONE, &shortpol, TPM2_ALG_SHA256, 21), 0x1D5,
               "SetAuthPolicy wrong digest size");
        CHECK(Esys_PCR_SetAuthPolicy(ctx, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &pol, TPM2_ALG_SHA256, 21), "PCR_SetAuthPolicy");
    } else if (strcmp(step, "use") == 0) {
        /* password: the wrong value is TPM_RC_BAD_AUTH (PCRs are not DA-protected) */
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &wrong), "setauth");
        EXPECT(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), 0x9A2, "extend PCR 20, wrong password");
        EXPECT(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), 0x9A2, "extend PCR 20, wrong password again");
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &pw), "setauth");
        CHECK(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), "extend PCR 20 with its password");
        /* an HMAC session keyed with the PCR's authValue */
        ESYS_TR h = start(TPM2_SE_HMAC);
        CHECK(Esys_TRSess_SetAttributes(ctx, h, TPMA_SESSION_CONTINUESESSION, 0xff), "attrs");
        CHECK(extend(ESYS_TR_PCR20, h), "extend PCR 20 in an HMAC session");
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &wrong), "setauth");
        EXPECT(extend(ESYS_TR_PCR20, h), 0x9A2, "extend PCR 20 in an HMAC session, wrong auth");
        Esys_FlushContext(ctx, h);
        /* the other members of the group share it; PCR 16 is not in it */
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR22, &pw), "setauth");
        CHECK(extend(ESYS_TR_PCR22, ESYS_TR_PASSWORD), "extend PCR 22 with the group's password");
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR16, &empty), "setauth");
        CHECK(extend(ESYS_TR_PCR16, ESYS_TR_PASSWORD), "extend PCR 16 with the empty password");
    } else if (strcmp(step, "policy") == 0) {
        ESYS_TR p = start(TPM2_SE_POLICY);
        CHECK(Esys_PolicyCommandCode(ctx, p, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CC_PCR_Extend), "PolicyCommandCode");
        CHECK(extend(ESYS_TR_PCR21, p), "extend PCR 21 in its policy session");
        Esys_FlushContext(ctx, p);
        p = start(TPM2_SE_POLICY);
        CHECK(Esys_PolicyCommandCode(ctx, p, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CC_PCR_Event), "PolicyCommandCode");
        EXPECT(extend(ESYS_TR_PCR21, p), 0x99D, "extend PCR 21 with another policy");
        Esys_FlushContext(ctx, p);
        /* PCR 5 has no policy */
        p = start(TPM2_SE_POLICY);
        CHECK(Esys_PolicyCommandCode(ctx, p, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     TPM2_CC_PCR_Extend), "PolicyCommandCode");
        EXPECT(extend(ESYS_TR_PCR5, p), 0x99D, "extend PCR 5 with a policy session");
        Esys_FlushContext(ctx, p);
        /* with a policy set, the group takes no password or HMAC session */
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &empty), "setauth");
        EXPECT(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), 0x124, "extend PCR 20 with a password");
    } else if (strcmp(step, "unpol") == 0) {
        TPM2B_DIGEST none = { 0 };
        CHECK(Esys_PCR_SetAuthPolicy(ctx, ESYS_TR_RH_PLATFORM, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &none, TPM2_ALG_NULL, 22), "remove the policy");
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR21, &empty), "setauth");
        CHECK(extend(ESYS_TR_PCR21, ESYS_TR_PASSWORD), "extend PCR 21 with a password again");
    } else if (strcmp(step, "empty") == 0) {
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &empty), "setauth");
        CHECK(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), "extend PCR 20 with the empty password");
    } else if (strcmp(step, "still") == 0) {
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &empty), "setauth");
        EXPECT(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), 0x9A2, "extend PCR 20, empty password");
        CHECK(Esys_TR_SetAuth(ctx, ESYS_TR_PCR20, &pw), "setauth");
        CHECK(extend(ESYS_TR_PCR20, ESYS_TR_PASSWORD), "extend PCR 20 with its password");
    }
    Esys_Finalize(&ctx);
    Tss2_TctiLdr_Finalize(&tcti);
    return 0;
}
C
cc -std=c11 -Wall -Werror -o pcrauth pcrauth.c $(pkg-config --cflags --libs tss2-esys tss2-tctildr) \
    || fail "compile the ESAPI program"
start_tpm
tpm2_startup -c || fail startup
run() { ./pcrauth "mssim:host=127.0.0.1,port=$PORT" "$1" || fail "ESAPI step $1"; }

run caps
run set
run use
# the authValue survives Shutdown(STATE) + Startup(STATE) ...
tpm2_shutdown || fail "shutdown(STATE)"
power_cycle
tpm2_startup || fail "startup(STATE)"
run still
# ... also across a restart of the process
tpm2_shutdown || fail "shutdown(STATE)"
PORT=$PORT
stop_tpm
start_tpm
tpm2_startup || fail "startup(STATE) after restart"
run still
# Startup(CLEAR) empties it, and so does Clear
power_cycle
tpm2_startup -c || fail "startup(CLEAR)"
run empty
run set
tpm2_clear -c p || fail clear
run empty
# the platform's policy: required for the whole group, kept across a restart
# of the process and Startup(CLEAR), removed with hashAlg NULL
run setpol
run policy
stop_tpm
start_tpm
tpm2_startup -c || fail "startup after restart"
run policy
run unpol
run empty
echo OK
