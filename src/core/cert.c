/*
 * Certificates for the TLS listener's quick start: the core's face of
 * tcrypto_cert_make, so that front ends (the CLI) need only core/tcore.h.
 */
#include "core/tcore.h"
#include "crypto/tcrypto_tls.h"

static bool kind_to_crypto(tcore_cert_kind kind, tcrypto_cert_kind *out)
{
    switch (kind) {
    case TCORE_CERT_CA: *out = TCRYPTO_CERT_CA; return true;
    case TCORE_CERT_SERVER: *out = TCRYPTO_CERT_SERVER; return true;
    case TCORE_CERT_CLIENT: *out = TCRYPTO_CERT_CLIENT; return true;
    }
    return false;
}

CK_RV tcore_cert_make(const tcore_cert_req *req, const char **why)
{
    tcrypto_cert_kind kind;
    if (req == NULL || !kind_to_crypto(req->kind, &kind)) {
        if (why != NULL)
            *why = "unknown certificate kind";
        return CKR_ARGUMENTS_BAD;
    }
    tcrypto_cert_req creq = {
        .kind = kind,
        .common_name = req->common_name,
        .names = req->names,
        .days = req->days,
        .ca_cert_file = req->ca_cert_file,
        .ca_key_file = req->ca_key_file,
        .cert_out = req->cert_out,
        .key_out = req->key_out,
    };
    tcrypto_rc rc = tcrypto_cert_make(&creq, why);
    if (rc == TCRYPTO_OK)
        return CKR_OK;
    return rc == TCRYPTO_ERR_ARG ? CKR_ARGUMENTS_BAD : CKR_FUNCTION_FAILED;
}
