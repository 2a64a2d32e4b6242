/*
 * Measured boot: `tessera-tpm measure` hashes files, extends each digest
 * into a PCR through the TPM command protocol (PCR_Extend, TPM 2.0 Part 3
 * §22.2) and appends a TCG PC Client crypto-agile event to an event log
 * (TCG PC Client Platform Firmware Profile §10: a TCG_PCClientPCREvent
 * carrying the TCG_EfiSpecIDEvent header, then TCG_PCR_EVENT2 records;
 * all integers little-endian), the format tpm2_eventlog replays.
 *
 *   tessera-tpm measure --port N [--address A] [--swtpm] [--pcr P]
 *                       [--type T] --log FILE FILE...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpm/ttpm.h"

#define EV_NO_ACTION 0x00000003u
#define EV_IPL 0x0000000Du
#define MAX_FILE (64u * 1024 * 1024)

typedef struct {
    int fd;
    bool mssim;
} tpm_conn;

static void put_le16(tc_buf *b, uint16_t v)
{
    uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    tc_buf_put(b, x, 2);
}

static void put_le32(tc_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    tc_buf_put(b, x, 4);
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

/* Send one command, return the response code (or a transport failure as
 * TPM_RC_FAILURE) and the response in out (max cap bytes). */
static ttpm_rc transact(tpm_conn *c, const tc_buf *cmd, uint8_t *out, size_t cap, size_t *outlen)
{
    uint8_t hdr[9];
    if (c->mssim) {
        tc_store_u32(hdr, 8);
        hdr[4] = 0;
        tc_store_u32(hdr + 5, (uint32_t)cmd->len);
        if (!io_all(c->fd, hdr, 9, true))
            return TPM_RC_FAILURE;
    }
    if (!io_all(c->fd, cmd->p, cmd->len, true))
        return TPM_RC_FAILURE;
    uint8_t rh[10];
    uint32_t len;
    if (c->mssim) {
        if (!io_all(c->fd, hdr, 4, false))
            return TPM_RC_FAILURE;
    }
    if (!io_all(c->fd, rh, 10, false))
        return TPM_RC_FAILURE;
    len = tc_load_u32(rh + 2);
    if (len < 10 || len > cap)
        return TPM_RC_FAILURE;
    memcpy(out, rh, 10);
    if (!io_all(c->fd, out + 10, len - 10, false))
        return TPM_RC_FAILURE;
    if (c->mssim && !io_all(c->fd, hdr, 4, false))
        return TPM_RC_FAILURE;
    *outlen = len;
    return tc_load_u32(rh + 6);
}

/* Allocated banks among those we can hash, from GetCapability(TPM_CAP_PCRS). */
static int get_banks(tpm_conn *c, uint16_t *algs)
{
    tc_buf cmd;
    tc_buf_init(&cmd);
    tc_buf_put_u16(&cmd, TPM_ST_NO_SESSIONS);
    tc_buf_put_u32(&cmd, 22);
    tc_buf_put_u32(&cmd, 0x17A);
    tc_buf_put_u32(&cmd, 5);
    tc_buf_put_u32(&cmd, 0);
    tc_buf_put_u32(&cmd, 1);
    uint8_t resp[1024];
    size_t rl;
    int n = -1;
    if (!cmd.failed && transact(c, &cmd, resp, sizeof(resp), &rl) == TPM_RC_SUCCESS) {
        tc_reader r;
        uint8_t more;
        uint32_t capv;
        ttpm_pcr_sel sel;
        tc_reader_init(&r, resp + 10, rl - 10);
        if (tc_read_u8(&r, &more) && tc_read_u32(&r, &capv) && ttpm_get_pcr_sel(&r, &sel) == 0) {
            n = 0;
            for (unsigned i = 0; i < sel.count; i++) {
                bool any = false;
                for (unsigned k = 0; k < sel.sel[i].size; k++)
                    any |= sel.sel[i].bits[k] != 0;
                if (any && tcrypto_tpm_hash_size(sel.sel[i].hash))
                    algs[n++] = sel.sel[i].hash;
            }
        }
    }
    tc_buf_free(&cmd);
    return n;
}

static ttpm_rc pcr_extend(tpm_conn *c, uint32_t pcr, int nb, const uint16_t *algs,
                          uint8_t d[][TTPM_MAX_DIGEST])
{
    tc_buf cmd;
    tc_buf_init(&cmd);
    tc_buf_put_u16(&cmd, TPM_ST_SESSIONS);
    tc_buf_put_u32(&cmd, 0);
    tc_buf_put_u32(&cmd, 0x182);
    tc_buf_put_u32(&cmd, pcr);
    tc_buf_put_u32(&cmd, 9); /* password session, empty PCR auth */
    tc_buf_put_u32(&cmd, TPM_RS_PW);
    tc_buf_put_u16(&cmd, 0);
    tc_buf_put_u8(&cmd, TPMA_SESSION_CONTINUE);
    tc_buf_put_u16(&cmd, 0);
    tc_buf_put_u32(&cmd, (uint32_t)nb);
    for (int i = 0; i < nb; i++) {
        tc_buf_put_u16(&cmd, algs[i]);
        tc_buf_put(&cmd, d[i], tcrypto_tpm_hash_size(algs[i]));
    }
    ttpm_rc rc = TPM_RC_FAILURE;
    if (!cmd.failed) {
        tc_store_u32(cmd.p + 2, (uint32_t)cmd.len);
        uint8_t resp[256];
        size_t rl;
        rc = transact(c, &cmd, resp, sizeof(resp), &rl);
    }
    tc_buf_free(&cmd);
    return rc;
}

static void spec_id_event(tc_buf *b, int nb, const uint16_t *algs)
{
    tc_buf ev;
    tc_buf_init(&ev);
    tc_buf_put(&ev, "Spec ID Event03", 16); /* includes the NUL */
    put_le32(&ev, 0);                        /* platformClass */
    tc_buf_put_u8(&ev, 0);                   /* specVersionMinor */
    tc_buf_put_u8(&ev, 2);                   /* specVersionMajor */
    tc_buf_put_u8(&ev, 0);                   /* specErrata */
    tc_buf_put_u8(&ev, 2);                   /* uintnSize: UINT64 */
    put_le32(&ev, (uint32_t)nb);
    for (int i = 0; i < nb; i++) {
        put_le16(&ev, algs[i]);
        put_le16(&ev, (uint16_t)tcrypto_tpm_hash_size(algs[i]));
    }
    tc_buf_put_u8(&ev, 0); /* vendorInfoSize */
    put_le32(b, 0);        /* pcrIndex */
    put_le32(b, EV_NO_ACTION);
    uint8_t zero[20] = { 0 };
    tc_buf_put(b, zero, 20);
    put_le32(b, (uint32_t)ev.len);
    tc_buf_put(b, ev.p, ev.len);
    tc_buf_free(&ev);
}

static int connect_to(const char *addr, long port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int ttpm_measure_main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *logpath = NULL;
    long port = -1, pcr = 9;
    uint32_t type = EV_IPL;
    bool swtpm = false;
    int first_file = argc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--swtpm") == 0) {
            swtpm = true;
            continue;
        }
        if (a[0] != '-' || strcmp(a, "--") == 0) {
            first_file = a[0] == '-' ? i + 1 : i;
            break;
        }
        if (v == NULL) {
            fprintf(stderr, "tessera-tpm measure: %s needs a value\n", a);
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--port") == 0)
            port = strtol(v, &end, 10);
        else if (strcmp(a, "--pcr") == 0)
            pcr = strtol(v, &end, 10);
        else if (strcmp(a, "--type") == 0)
            type = (uint32_t)strtoul(v, &end, 0);
        else if (strcmp(a, "--address") == 0)
            addr = v;
        else if (strcmp(a, "--log") == 0)
            logpath = v;
        else {
            fprintf(stderr, "tessera-tpm measure: unknown option %s\n", a);
            return 2;
        }
        if (end != NULL && *end) {
            fprintf(stderr, "tessera-tpm measure: bad number %s\n", v);
            return 2;
        }
        i++;
    }
    if (port < 1 || port > 65535 || pcr < 0 || pcr >= TTPM_NUM_PCRS || logpath == NULL ||
        first_file >= argc) {
        fprintf(stderr, "usage: tessera-tpm measure --port N [--address A] [--swtpm] [--pcr P] "
                        "[--type T] --log FILE FILE...\n");
        return 2;
    }
    tpm_conn c = { .fd = connect_to(addr, port), .mssim = !swtpm };
    if (c.fd < 0) {
        fprintf(stderr, "tessera-tpm measure: cannot connect to %s:%ld\n", addr, port);
        return 1;
    }
    int ret = 1;
    uint16_t algs[8];
    int nb = get_banks(&c, algs);
    tc_buf log;
    tc_buf_init(&log);
    uint8_t *old = NULL;
    size_t oldlen = 0;
    if (nb <= 0) {
        fprintf(stderr, "tessera-tpm measure: cannot read the PCR banks\n");
        goto out;
    }
    if (tc_read_file(logpath, MAX_FILE, &old, &oldlen) && oldlen > 0) {
        tc_buf_put(&log, old, oldlen);
    } else {
        spec_id_event(&log, nb, algs);
    }
    for (int f = first_file; f < argc; f++) {
        uint8_t *data = NULL;
        size_t dlen = 0;
        if (!tc_read_file(argv[f], MAX_FILE, &data, &dlen)) {
            fprintf(stderr, "tessera-tpm measure: cannot read %s\n", argv[f]);
            goto out;
        }
        uint8_t d[8][TTPM_MAX_DIGEST];
        bool ok = true;
        for (int i = 0; i < nb; i++) {
            tcrypto_tpm_iov v = { data, dlen };
            ok &= tcrypto_tpm_hash(algs[i], &v, 1, d[i]) == TCRYPTO_OK;
        }
        free(data);
        if (!ok)
            goto out;
        ttpm_rc rc = pcr_extend(&c, (uint32_t)pcr, nb, algs, d);
        if (rc != TPM_RC_SUCCESS) {
            fprintf(stderr, "tessera-tpm measure: PCR_Extend failed: 0x%x\n", rc);
            goto out;
        }
        /* TCG_PCR_EVENT2; the event data is the file name with its NUL */
        put_le32(&log, (uint32_t)pcr);
        put_le32(&log, type);
        put_le32(&log, (uint32_t)nb);
        for (int i = 0; i < nb; i++) {
            put_le16(&log, algs[i]);
            tc_buf_put(&log, d[i], tcrypto_tpm_hash_size(algs[i]));
        }
        size_t nl = strlen(argv[f]) + 1;
        put_le32(&log, (uint32_t)nl);
        tc_buf_put(&log, argv[f], nl);
        /* The log follows the PCR: written after each successful extend. */
        if (log.failed || !tc_write_file_atomic(logpath, log.p, log.len, 0644)) {
            fprintf(stderr, "tessera-tpm measure: cannot write %s\n", logpath);
            goto out;
        }
    }
    ret = 0;
out:
    free(old);
    tc_buf_free(&log);
    close(c.fd);
    return ret;
}
