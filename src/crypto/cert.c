/*
 * X.509 certificates for a quick start of the TLS listener (tessera cert):
 * a CA, server and client certificates issued by it, ECDSA P-256 with
 * SHA-256. Not a PKI: no CRLs, no OCSP, no intermediates.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/crypto_int.h"
#include "crypto/tcrypto_tls.h"

#define CERT_SERIAL_BYTES 16
#define CERT_MAX_DAYS 36500
#define CERT_MAX_NAMES 64
#define CERT_CN_MAX 64   /* ub-common-name, RFC 5280 appendix A */
#define CERT_DNS_MAX 253
#define CERT_PEM_MAX (64 * 1024)
#define CERT_CLOCK_SKEW_S 60


static bool cn_valid(const char *cn)
{
    size_t n = cn != NULL ? strlen(cn) : 0;
    if (n == 0 || n > CERT_CN_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)cn[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

static bool is_ip(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* A host name (RFC 1123 letters, digits, '-', '.'), optionally "*." first. */
static bool dns_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CERT_DNS_MAX)
        return false;
    const char *p = name;
    if (n > 2 && p[0] == '*' && p[1] == '.')
        p += 2;
    if (*p == '.' || *p == '-')
        return false;
    for (; *p != '\0'; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
        if (!ok || (ch == '.' && p[1] == '.'))
            return false;
    }
    return true;
}

static bool path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 || errno != ENOENT;
}

static tcrypto_rc check_req(const tcrypto_cert_req *req, const char **msg)
{
    if (req == NULL || req->cert_out == NULL || req->key_out == NULL) {
        *msg = "output paths are required";
        return TCRYPTO_ERR_ARG;
    }
    if (req->kind != TCRYPTO_CERT_CA && req->kind != TCRYPTO_CERT_SERVER &&
        req->kind != TCRYPTO_CERT_CLIENT) {
        *msg = "unknown certificate kind";
        return TCRYPTO_ERR_ARG;
    }
    if (!cn_valid(req->common_name)) {
        *msg = "common name must be 1 to 64 printable characters";
        return TCRYPTO_ERR_ARG;
    }
    if (req->days > CERT_MAX_DAYS || req->days < -CERT_MAX_DAYS) {
        *msg = "validity out of range";
        return TCRYPTO_ERR_ARG;
    }
    if (req->kind != TCRYPTO_CERT_CA && (req->ca_cert_file == NULL || req->ca_key_file == NULL)) {
        *msg = "the issuing CA's certificate and key are required";
        return TCRYPTO_ERR_ARG;
    }
    if (req->kind == TCRYPTO_CERT_SERVER) {
        size_t n = 0;
        for (; req->names != NULL && req->names[n] != NULL; n++) {
            if (!is_ip(req->names[n]) && !dns_valid(req->names[n])) {
                *msg = "a server name is neither a host name nor an IP address";
                return TCRYPTO_ERR_ARG;
            }
        }
        if (n == 0 || n > CERT_MAX_NAMES) {
            *msg = "a server certificate needs 1 to 64 names";
            return TCRYPTO_ERR_ARG;
        }
    }
    if (strcmp(req->cert_out, req->key_out) == 0) {
        *msg = "certificate and key paths are the same";
        return TCRYPTO_ERR_ARG;
    }
    if (path_exists(req->cert_out) || path_exists(req->key_out)) {
        *msg = "output file exists (not overwritten)";
        return TCRYPTO_ERR_ARG;
    }
    return TCRYPTO_OK;
}

/* The issuer's certificate and key, read through our own buffer (wiped) and
 * decoded in the layer's library context. */
static tcrypto_rc load_issuer(const tcrypto_cert_req *req, X509 **cert, EVP_PKEY **key,
                              const char **msg)
{
    uint8_t *pem = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    tcrypto_rc rc = TCRYPTO_ERR_ARG;

    if (!tc_read_file(req->ca_cert_file, CERT_PEM_MAX, &pem, &len) ||
        (bio = BIO_new_mem_buf(pem, (int)len)) == NULL || (x = X509_new_ex(tcx_libctx(), NULL)) == NULL ||
        PEM_read_bio_X509(bio, &x, tcx_no_passphrase, NULL) == NULL) {
        *msg = "CA certificate file could not be read";
        goto done;
    }
    if (X509_check_ca(x) != 1) {
        *msg = "the issuer's certificate is not a CA certificate";
        goto done;
    }
    BIO_free(bio);
    bio = NULL;
    tc_freezero(pem, len);
    pem = NULL;
    if (!tc_read_file(req->ca_key_file, CERT_PEM_MAX, &pem, &len) ||
        (bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
        (k = PEM_read_bio_PrivateKey_ex(bio, NULL, tcx_no_passphrase, NULL, tcx_libctx(), NULL)) ==
            NULL) {
        *msg = "CA key file could not be read";
        goto done;
    }
    if (X509_check_private_key(x, k) != 1) {
        *msg = "CA key does not match the CA certificate";
        goto done;
    }
    *cert = x;
    *key = k;
    x = NULL;
    k = NULL;
    rc = TCRYPTO_OK;
done:
    BIO_free(bio);
    tc_freezero(pem, len);
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}

static bool add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, v3, nid, value);
    if (ext == NULL)
        return false;
    bool ok = X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* subjectAltName built as a structure, not parsed from "DNS:a,IP:b" text,
 * so a name can never smuggle in another entry. */
static bool add_san(X509 *x, const char *const *names)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    bool ok = gens != NULL;
    for (size_t i = 0; ok && names[i] != NULL; i++) {
        GENERAL_NAME *gn = GENERAL_NAME_new();
        if (gn == NULL) {
            ok = false;
            break;
        }
        if (is_ip(names[i])) {
            ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
            if (ip != NULL)
                GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
            ok = ip != NULL;
        } else {
            ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
            ok = dns != NULL && ASN1_STRING_set(dns, names[i], -1) == 1;
            if (ok)
                GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
            else
                ASN1_IA5STRING_free(dns);
        }
        if (!ok || sk_GENERAL_NAME_push(gens, gn) == 0) {
            GENERAL_NAME_free(gn);
            ok = false;
        }
    }
    ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(gens);
    return ok;
}

static bool set_serial(X509 *x)
{
    uint8_t raw[CERT_SERIAL_BYTES];
    if (tcrypto_random(raw, sizeof(raw)) != TCRYPTO_OK)
        return false;
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    bool ok = bn != NULL && !BN_is_zero(bn) &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok;
}

/* days > 0: from a minute ago (clock skew between the hosts) for `days`
 * days. days <= 0: a certificate that expired a day ago, issued |days| + 2
 * days ago (for tests of the refusal of expired certificates). */
static bool set_validity(X509 *x, int days)
{
    if (days > 0)
        return X509_gmtime_adj(X509_getm_notBefore(x), -CERT_CLOCK_SKEW_S) != NULL &&
               X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) != NULL;
    return X509_time_adj_ex(X509_getm_notBefore(x), -(-days + 2), 0, NULL) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(x), -1, 0, NULL) != NULL;
}

static bool build_cert(X509 *x, const tcrypto_cert_req *req, EVP_PKEY *pub, X509 *issuer)
{
    X509_NAME *subject = X509_NAME_new();
    bool ok = subject != NULL &&
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                         (const unsigned char *)req->common_name, -1, -1,
                                         0) == 1 &&
              X509_set_version(x, X509_VERSION_3) == 1 && set_serial(x) &&
              X509_set_subject_name(x, subject) == 1 &&
              X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
                                                     : subject) == 1 &&
              set_validity(x, req->days) && X509_set_pubkey(x, pub) == 1;
    X509_NAME_free(subject);
    if (!ok)
        return false;

    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ok = add_ext(x, &v3, NID_subject_key_identifier, "hash");
    switch (req->kind) {
    case TCRYPTO_CERT_CA:
        ok = ok && add_ext(x, &v3, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
        break;
    case TCRYPTO_CERT_SERVER:
        ok = ok && add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") &&
             add_ext(x, &v3, NID_ext_key_usage, "serverAuth") &&
             add_ext(x, &v3, NID_authority_key_identifier, "keyid:always") &&
             add_san(x, req->names);
        break;
    case TCRYPTO_CERT_CLIENT:
        ok = ok && add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") &&
             add_ext(x, &v3, NID_ext_key_usage, "clientAuth") &&
             add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
        break;
    }
    return ok;
}

static bool sign_cert(X509 *x, EVP_PKEY *key)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    bool ok = mctx != NULL &&
              EVP_DigestSignInit_ex(mctx, NULL, "SHA2-256", tcx_libctx(), NULL, key, NULL) ==
                  1 &&
              X509_sign_ctx(x, mctx) > 0;
    EVP_MD_CTX_free(mctx);
    return ok;
}


/* Write a file whole and durably without ever replacing one: the bytes go
 * to a staging name (tc_write_file_atomic: O_EXCL|O_NOFOLLOW, fsync,
 * rename), which is then hard-linked to the final name; link(2) fails with
 * EEXIST where rename(2) would have overwritten. */
static tcrypto_rc publish(const char *path, const void *data, size_t len, unsigned mode,
                          const char **msg)
{
    char staging[4096];
    int n = snprintf(staging, sizeof(staging), "%s.new.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(staging)) {
        *msg = "output path too long";
        return TCRYPTO_ERR_ARG;
    }
    if (!tc_write_file_atomic(staging, data, len, mode)) {
        *msg = "output file could not be written";
        return TCRYPTO_ERR_INTERNAL;
    }
    int r = link(staging, path);
    int err = errno;
    unlink(staging);
    (void)tc_fsync_dir_of(path);
    if (r != 0) {
        *msg = err == EEXIST ? "output file exists (not overwritten)"
                             : "output file could not be written";
        return err == EEXIST ? TCRYPTO_ERR_ARG : TCRYPTO_ERR_INTERNAL;
    }
    return TCRYPTO_OK;
}

tcrypto_rc tcrypto_cert_make(const tcrypto_cert_req *req, const char **why)
{
    const char *msg = NULL;
    tcrypto_rc rc = check_req(req, &msg);
    tcrypto_pkey *k = NULL;
    X509 *issuer = NULL;
    EVP_PKEY *issuer_key = NULL;
    X509 *x = NULL;
    BIO *key_bio = NULL;
    BIO *cert_bio = NULL;
    char *key_pem = NULL;
    long key_len = 0;
    char *cert_pem = NULL;
    long cert_len = 0;
    bool key_written = false;

    if (rc != TCRYPTO_OK)
        goto done;
    rc = tcx_ready();
    if (rc != TCRYPTO_OK) {
        msg = "crypto module in error state";
        goto done;
    }
    if (req->kind != TCRYPTO_CERT_CA &&
        (rc = load_issuer(req, &issuer, &issuer_key, &msg)) != TCRYPTO_OK)
        goto done;
    rc = tcrypto_ec_generate(TCRYPTO_CURVE_P256, &k);
    if (rc != TCRYPTO_OK) {
        msg = "key pair could not be generated";
        goto done;
    }
    rc = TCRYPTO_ERR_INTERNAL;
    x = X509_new_ex(tcx_libctx(), NULL);
    if (x == NULL || !build_cert(x, req, k->pk, issuer)) {
        msg = "certificate could not be built";
        goto done;
    }
    if (!sign_cert(x, issuer_key != NULL ? issuer_key : k->pk)) {
        msg = "certificate could not be signed";
        goto done;
    }
    /* The key's PEM lives in the secure heap (BIO_s_secmem) and is wiped
     * when the BIO goes. PKCS#8, unencrypted: the file's mode protects it. */
    key_bio = BIO_new(BIO_s_secmem());
    cert_bio = BIO_new(BIO_s_mem());
    if (key_bio == NULL || cert_bio == NULL ||
        PEM_write_bio_PrivateKey_ex(key_bio, k->pk, NULL, NULL, 0, NULL, NULL, tcx_libctx(),
                                    NULL) != 1 ||
        PEM_write_bio_X509(cert_bio, x) != 1) {
        msg = "PEM encoding failed";
        goto done;
    }
    key_len = BIO_get_mem_data(key_bio, &key_pem);
    cert_len = BIO_get_mem_data(cert_bio, &cert_pem);
    if (key_len <= 0 || cert_len <= 0) {
        msg = "PEM encoding failed";
        goto done;
    }
    rc = publish(req->key_out, key_pem, (size_t)key_len, 0600, &msg);
    if (rc != TCRYPTO_OK)
        goto done;
    key_written = true;
    rc = publish(req->cert_out, cert_pem, (size_t)cert_len, 0644, &msg);
done:
    if (rc != TCRYPTO_OK && key_written)
        unlink(req->key_out); /* no key without its certificate */
    if (key_pem != NULL)
        OPENSSL_cleanse(key_pem, (size_t)key_len);
    BIO_free(key_bio);
    BIO_free(cert_bio);
    X509_free(x);
    X509_free(issuer);
    EVP_PKEY_free(issuer_key);
    tcrypto_pkey_free(k);
    ERR_clear_error();
    if (rc != TCRYPTO_OK && why != NULL)
        *why = msg != NULL ? msg : tcrypto_rc_str(rc);
    return rc;
}
