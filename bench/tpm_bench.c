/*
 * tpm_bench: per-command latency of a TPM simulator over its TCP protocol,
 * with password authorisation, next to raw OpenSSL signing (through
 * tcrypto_tpm) as the baseline. Run it against tessera-tpm and, in the same
 * run, against swtpm for comparison:
 *
 *   tpm_bench --port N [--raw] [--iterations K] [--label NAME] [--startup]
 *
 * --raw speaks the swtpm socket protocol (raw TPM commands) instead of mssim.
 * Prints milliseconds per operation for GetRandom, RSA-2048 sign and ECC
 * P-256 sign, and for RSA-2048 CreatePrimary: each with a new template
 * (a fresh derivation from the seed; the unique field differs) and the same
 * template again (what tpm2_createek or clevis do at every boot).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/tcommon.h"
#include "crypto/tcrypto_tpm.h"

typedef struct {
    int fd;
    bool raw;
} conn;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool io_all(int fd, void *p, size_t n, bool wr)
{
    uint8_t *c = p;
    while (n > 0) {
        ssize_t r = wr ? send(fd, c, n, MSG_NOSIGNAL) : recv(fd, c, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

static uint32_t transact_once(conn *c, tc_buf *cmd, uint8_t *resp, size_t cap, size_t *rlen);

/* One command; returns the response code, the response in resp. A TPM that
 * answers TPM_RC_RETRY or TPM_RC_TESTING gets the command again. */
static uint32_t transact(conn *c, tc_buf *cmd, uint8_t *resp, size_t cap, size_t *rlen)
{
    uint32_t rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = transact_once(c, cmd, resp, cap, rlen);
        if (rc != 0x922 && rc != 0x90A)
            break;
    }
    return rc;
}

static uint32_t transact_once(conn *c, tc_buf *cmd, uint8_t *resp, size_t cap, size_t *rlen)
{
    tc_store_u32(cmd->p + 2, (uint32_t)cmd->len);
    uint8_t hdr[9];
    tc_buf out;
    tc_buf_init(&out);
    if (!c->raw) {
        tc_store_u32(hdr, 8);
        hdr[4] = 0;
        tc_store_u32(hdr + 5, (uint32_t)cmd->len);
        tc_buf_put(&out, hdr, 9);
    }
    tc_buf_put(&out, cmd->p, cmd->len);
    bool ok = !out.failed && io_all(c->fd, out.p, out.len, true);
    tc_buf_free(&out);
    if (!ok)
        return 0xFFFFFFFF;
    if (!c->raw && !io_all(c->fd, hdr, 4, false))
        return 0xFFFFFFFF;
    if (!io_all(c->fd, resp, 10, false))
        return 0xFFFFFFFF;
    uint32_t len = tc_load_u32(resp + 2);
    if (len < 10 || len > cap || !io_all(c->fd, resp + 10, len - 10, false))
        return 0xFFFFFFFF;
    if (!c->raw && !io_all(c->fd, hdr, 4, false))
        return 0xFFFFFFFF;
    *rlen = len;
    return tc_load_u32(resp + 6);
}

static void header(tc_buf *b, uint16_t tag, uint32_t cc)
{
    tc_buf_init(b);
    tc_buf_put_u16(b, tag);
    tc_buf_put_u32(b, 0);
    tc_buf_put_u32(b, cc);
}

static void password_auth(tc_buf *b)
{
    tc_buf_put_u32(b, 9);
    tc_buf_put_u32(b, 0x40000009); /* TPM_RS_PW */
    tc_buf_put_u16(b, 0);
    tc_buf_put_u8(b, 1);
    tc_buf_put_u16(b, 0);
}

/* An unrestricted signing primary in the owner hierarchy; for RSA, a
 * non-zero variant goes into the template's unique field. */
static uint32_t create_signer(conn *c, bool rsa, uint32_t variant, uint32_t *handle)
{
    tc_buf b, pub;
    header(&b, 0x8002, 0x131);
    tc_buf_put_u32(&b, 0x40000001);
    password_auth(&b);
    tc_buf_put_u16(&b, 4);
    tc_buf_put_u32(&b, 0);
    tc_buf_init(&pub);
    tc_buf_put_u16(&pub, rsa ? 0x0001 : 0x0023);
    tc_buf_put_u16(&pub, 0x000B);
    tc_buf_put_u32(&pub, 0x00040072); /* sign|fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth */
    tc_buf_put_u16(&pub, 0);
    tc_buf_put_u16(&pub, 0x0010);     /* symmetric NULL */
    tc_buf_put_u16(&pub, rsa ? 0x0014 : 0x0018);
    tc_buf_put_u16(&pub, 0x000B);
    if (rsa) {
        tc_buf_put_u16(&pub, 2048);
        tc_buf_put_u32(&pub, 0);
        if (variant) {
            tc_buf_put_u16(&pub, 4);
            tc_buf_put_u32(&pub, variant);
        } else {
            tc_buf_put_u16(&pub, 0);
        }
    } else {
        tc_buf_put_u16(&pub, 0x0003);
        tc_buf_put_u16(&pub, 0x0010);
        tc_buf_put_u16(&pub, 0);
        tc_buf_put_u16(&pub, 0);
    }
    tc_buf_put_u16(&b, (uint16_t)pub.len);
    tc_buf_put(&b, pub.p, pub.len);
    tc_buf_put_u16(&b, 0);
    tc_buf_put_u32(&b, 0);
    uint8_t resp[4096];
    size_t rl = 0;
    uint32_t rc = b.failed || pub.failed ? 0xFFFFFFFF : transact(c, &b, resp, sizeof(resp), &rl);
    if (rc == 0)
        *handle = tc_load_u32(resp + 10);
    tc_buf_free(&b);
    tc_buf_free(&pub);
    return rc;
}

static uint32_t sign_once(conn *c, uint32_t handle, const uint8_t digest[32])
{
    tc_buf b;
    header(&b, 0x8002, 0x15D);
    tc_buf_put_u32(&b, handle);
    password_auth(&b);
    tc_buf_put_u16(&b, 32);
    tc_buf_put(&b, digest, 32);
    tc_buf_put_u16(&b, 0x0010);     /* the key's scheme */
    tc_buf_put_u16(&b, 0x8024);     /* NULL hashcheck ticket */
    tc_buf_put_u32(&b, 0x40000007);
    tc_buf_put_u16(&b, 0);
    uint8_t resp[4096];
    size_t rl;
    uint32_t rc = transact(c, &b, resp, sizeof(resp), &rl);
    tc_buf_free(&b);
    return rc;
}

static void flush(conn *c, uint32_t handle)
{
    tc_buf b;
    header(&b, 0x8001, 0x165);
    tc_buf_put_u32(&b, handle);
    uint8_t resp[64];
    size_t rl;
    (void)transact(c, &b, resp, sizeof(resp), &rl);
    tc_buf_free(&b);
}

static tcrypto_rc baseline(unsigned iters, double *rsa_ms, double *ecc_ms)
{
    uint8_t n[256], p[128], d[32], x[32], y[32], dig[32], sig[256], s2[66];
    tcrypto_tpm_key *rk = NULL, *ek = NULL;
    tcrypto_rc rc;
    memset(dig, 0x5A, sizeof(dig));
    if ((rc = tcrypto_tpm_rsa_generate(2048, 0, NULL, NULL, n, p)) != TCRYPTO_OK ||
        (rc = tcrypto_tpm_rsa_key(n, 256, 0, p, 128, &rk)) != TCRYPTO_OK ||
        (rc = tcrypto_tpm_ecc_generate(0x0003, NULL, NULL, d, x, y)) != TCRYPTO_OK ||
        (rc = tcrypto_tpm_ecc_key(0x0003, x, 32, y, 32, d, 32, &ek)) != TCRYPTO_OK)
        goto out;
    double t0 = now_ms();
    for (unsigned i = 0; i < iters; i++) {
        size_t sl = sizeof(sig);
        if ((rc = tcrypto_tpm_sign(rk, 0x0014, 0x000B, dig, 32, sig, &sl, NULL)) != TCRYPTO_OK)
            goto out;
    }
    *rsa_ms = (now_ms() - t0) / iters;
    t0 = now_ms();
    for (unsigned i = 0; i < iters; i++) {
        size_t sl = sizeof(sig);
        if ((rc = tcrypto_tpm_sign(ek, 0x0018, 0x000B, dig, 32, sig, &sl, s2)) != TCRYPTO_OK)
            goto out;
    }
    *ecc_ms = (now_ms() - t0) / iters;
out:
    tcrypto_tpm_key_free(rk);
    tcrypto_tpm_key_free(ek);
    tc_wipe(d, sizeof(d));
    tc_wipe(p, sizeof(p));
    return rc;
}

int main(int argc, char **argv)
{
    long port = -1;
    unsigned iters = 200, primaries = 10;
    bool raw = false, startup = false;
    const char *label = "tpm";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--raw") == 0)
            raw = true;
        else if (strcmp(argv[i], "--startup") == 0)
            startup = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            iters = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--primaries") == 0 && i + 1 < argc)
            primaries = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else {
            fprintf(stderr, "usage: tpm_bench --port N [--raw] [--startup] [--iterations K] "
                            "[--primaries K] [--label NAME]\n");
            return 2;
        }
    }
    if (port < 1 || port > 65535) {
        fprintf(stderr, "tpm_bench: --port (1 to 65535) is required\n");
        return 2;
    }
    if (iters == 0 || primaries == 0) {
        fprintf(stderr, "tpm_bench: --iterations and --primaries take a count of at least 1\n");
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conn c = { socket(AF_INET, SOCK_STREAM, 0), raw };
    int one = 1;
    if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        fprintf(stderr, "tpm_bench: cannot connect to port %ld\n", port);
        return 1;
    }
    (void)setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t resp[4096];
    size_t rl;
    tc_buf b;
    if (startup) {
        header(&b, 0x8001, 0x144);
        tc_buf_put_u16(&b, 0);
        (void)transact(&c, &b, resp, sizeof(resp), &rl); /* INITIALIZE if already started */
        tc_buf_free(&b);
    }
    double t0 = now_ms();
    for (unsigned i = 0; i < iters; i++) {
        header(&b, 0x8001, 0x17B);
        tc_buf_put_u16(&b, 16);
        uint32_t rc = transact(&c, &b, resp, sizeof(resp), &rl);
        tc_buf_free(&b);
        if (rc != 0) {
            fprintf(stderr, "tpm_bench: GetRandom failed: 0x%x\n", rc);
            return 1;
        }
    }
    double get_random = (now_ms() - t0) / iters;
    uint8_t dig[32];
    memset(dig, 0x5A, sizeof(dig));
    double sign_ms[2];
    for (int k = 0; k < 2; k++) {
        uint32_t h = 0, rc = create_signer(&c, k == 0, 0, &h);
        if (rc != 0) {
            fprintf(stderr, "tpm_bench: CreatePrimary failed: 0x%x\n", rc);
            return 1;
        }
        t0 = now_ms();
        for (unsigned i = 0; i < iters; i++) {
            if ((rc = sign_once(&c, h, dig)) != 0) {
                fprintf(stderr, "tpm_bench: Sign failed: 0x%x\n", rc);
                return 1;
            }
        }
        sign_ms[k] = (now_ms() - t0) / iters;
        flush(&c, h);
    }
    /* RSA-2048 primaries: new templates (the variant makes each derivation
     * fresh, also across runs against the same state), then one template
     * repeated (timed from its second creation). */
    double prim_ms[2];
    uint32_t base = (uint32_t)time(NULL) * 1000u;
    for (int k = 0; k < 2; k++) {
        uint32_t h = 0;
        if (k == 1 && create_signer(&c, true, 0, &h) == 0)
            flush(&c, h);
        t0 = now_ms();
        for (unsigned i = 0; i < primaries; i++) {
            uint32_t rc = create_signer(&c, true, k == 0 ? base + i + 1 : 0, &h);
            if (rc != 0) {
                fprintf(stderr, "tpm_bench: CreatePrimary failed: 0x%x\n", rc);
                return 1;
            }
            flush(&c, h);
        }
        prim_ms[k] = (now_ms() - t0) / primaries;
    }
    close(c.fd);
    double base_rsa = 0, base_ecc = 0;
    if (baseline(iters, &base_rsa, &base_ecc) != TCRYPTO_OK) {
        fprintf(stderr, "tpm_bench: baseline failed\n");
        return 1;
    }
    printf("%-12s GetRandom %.3f ms  RSA-2048 sign %.3f ms  ECC P-256 sign %.3f ms\n", label,
           get_random, sign_ms[0], sign_ms[1]);
    printf("%-12s RSA-2048 CreatePrimary: new template %.1f ms  same template again %.2f ms "
           "(%u each)\n",
           label, prim_ms[0], prim_ms[1], primaries);
    printf("%-12s raw OpenSSL: RSA-2048 sign %.3f ms  ECC P-256 sign %.3f ms; "
           "RSA target %.3f ms (1.2 x (raw + round trip))\n",
           label, base_rsa, base_ecc, 1.2 * (base_rsa + get_random));
    return 0;
}
