/*
 * Transports: the Microsoft simulator protocol (mssim) and the swtpm socket
 * protocol, both on the same pair of ports. Data port N: mssim messages
 * start with a 32-bit command (TPM_SEND_COMMAND = 8 ...), raw swtpm TPM
 * commands with a tag 0x8001/0x8002, so the first byte tells them apart.
 * Control port N+1: mssim platform signals or swtpm CMD_* requests.
 *
 * One poll() loop serves every connection; each response goes out in one
 * send(); the I/O buffers are wiped after every message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tpm/ttpm.h"

/* mssim (TPM simulator "platform" and "TPM" commands) */
#define MS_SIGNAL_POWER_ON 1
#define MS_SIGNAL_POWER_OFF 2
#define MS_SIGNAL_HASH_START 5
#define MS_SIGNAL_HASH_DATA 6
#define MS_SEND_COMMAND 8
#define MS_REMOTE_HANDSHAKE 15
#define MS_SIGNAL_RESET 17
#define MS_SIGNAL_RESTART 18
#define MS_SESSION_END 20
#define MS_STOP 21

/* swtpm control channel */
#define SW_GET_CAPABILITY 1
#define SW_INIT 2
#define SW_SHUTDOWN 3
#define SW_GET_TPMESTABLISHED 4
#define SW_SET_LOCALITY 5
#define SW_CANCEL_TPM_CMD 9
#define SW_STORE_VOLATILE 10
#define SW_RESET_TPMESTABLISHED 11
#define SW_STOP 14
#define SW_SET_BUFFERSIZE 17

#define MAX_CONNS 32
#define BUF_CAP (TTPM_MAX_COMMAND + 16)

enum { PROTO_UNKNOWN = 0, PROTO_MSSIM, PROTO_RAW };

typedef struct {
    int fd;
    bool control;
    int proto; /* control connections: decided by the first message */
    uint8_t buf[BUF_CAP];
    size_t len;
} conn;

typedef struct {
    ttpm *t;
    int last_proto; /* of the data port, to read ambiguous control codes */
    bool stop;
} server;

static void set_sockopts(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_QUICKACK
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
}

static bool send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_u32s(int fd, const uint32_t *v, size_t n)
{
    uint8_t b[32];
    for (size_t i = 0; i < n; i++)
        tc_store_u32(b + 4 * i, v[i]);
    return send_all(fd, b, 4 * n);
}

static void consume(conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    tc_wipe(c->buf + c->len, n);
}

/* Run one TPM command and send the response in the framing of proto. */
static bool run_command(server *s, conn *c, const uint8_t *cmd, size_t len, int proto)
{
    tc_buf out;
    tc_buf_init(&out);
    if (proto == PROTO_MSSIM)
        tc_buf_put_u32(&out, 0);
    size_t start = out.len;
    if (s->t->powered)
        ttpm_execute(s->t, cmd, len, &out);
    else {
        /* No power: the simulator answers with a failure code. */
        tc_buf_put_u16(&out, TPM_ST_NO_SESSIONS);
        tc_buf_put_u32(&out, 10);
        tc_buf_put_u32(&out, TPM_RC_FAILURE);
    }
    if (proto == PROTO_MSSIM) {
        if (!out.failed)
            tc_store_u32(out.p, (uint32_t)(out.len - start));
        tc_buf_put_u32(&out, 0);
    }
    bool ok = !out.failed && send_all(c->fd, out.p, out.len);
    tc_buf_free(&out);
    return ok;
}

/* Returns false to close the connection. *progress: a message was consumed. */
static bool data_step(server *s, conn *c, bool *progress)
{
    *progress = false;
    if (c->len < 4)
        return true;
    if (c->buf[0] != 0x00) {
        /* raw TPM command (swtpm socket data channel): a tag 0x80xx, or
         * garbage that earns a TPM_RC_BAD_TAG; mssim codes start with 0. */
        if (c->len < 10)
            return true;
        uint32_t size = tc_load_u32(c->buf + 2);
        if (size < 10 || size > TTPM_MAX_COMMAND) {
            /* Answer the framing error, then drop the stream: we cannot
             * find the next command boundary. */
            uint8_t e[10];
            tc_store_u16(e, TPM_ST_NO_SESSIONS);
            tc_store_u32(e + 2, 10);
            tc_store_u32(e + 6, TPM_RC_COMMAND_SIZE);
            (void)send_all(c->fd, e, sizeof(e));
            return false;
        }
        if (c->len < size)
            return true;
        s->last_proto = PROTO_RAW;
        bool ok = run_command(s, c, c->buf, size, PROTO_RAW);
        consume(c, size);
        *progress = true;
        return ok;
    }
    uint32_t code = tc_load_u32(c->buf);
    switch (code) {
    case MS_SEND_COMMAND: {
        if (c->len < 9)
            return true;
        uint32_t size = tc_load_u32(c->buf + 5);
        if (size > TTPM_MAX_COMMAND)
            return false;
        if (c->len < 9 + (size_t)size)
            return true;
        s->last_proto = PROTO_MSSIM;
        s->t->locality = c->buf[4] <= 4 ? c->buf[4] : 0;
        bool ok = run_command(s, c, c->buf + 9, size, PROTO_MSSIM);
        consume(c, 9 + size);
        *progress = true;
        return ok;
    }
    case MS_REMOTE_HANDSHAKE: {
        if (c->len < 8)
            return true;
        consume(c, 8);
        *progress = true;
        /* server version 1; endpoint: platform available | TPM uses TBS? no | in RAM */
        const uint32_t r[3] = { 1, 0x01 | 0x04, 0 };
        return send_u32s(c->fd, r, 3);
    }
    case MS_SESSION_END:
    case MS_STOP:
        return false;
    default:
        return false;
    }
}

static bool control_step(server *s, conn *c, bool *progress)
{
    *progress = false;
    if (c->len < 4)
        return true;
    uint32_t code = tc_load_u32(c->buf);
    ttpm *t = s->t;
    /* The first message of a control connection decides its protocol:
     * the swtpm TCTI opens with SET_LOCALITY (code 5 + one byte), the mssim
     * TCTI with POWER_ON (code 1 alone). Codes overlap, lengths do not. */
    if (c->proto == PROTO_UNKNOWN) {
        bool sw = (code == SW_SET_LOCALITY && c->len == 5) || (code == SW_INIT && c->len == 8) ||
                  (code == SW_SET_BUFFERSIZE && c->len == 8) ||
                  (code == SW_RESET_TPMESTABLISHED && c->len == 5) || code == SW_STOP ||
                  code == SW_GET_TPMESTABLISHED;
        c->proto = sw ? PROTO_RAW : PROTO_MSSIM;
    }
    bool swtpm = c->proto == PROTO_RAW;
    if (code == MS_SIGNAL_HASH_DATA && !swtpm) {
        if (c->len < 8)
            return true;
        uint32_t n = tc_load_u32(c->buf + 4);
        if (n > TTPM_MAX_COMMAND)
            return false;
        if (c->len < 8 + (size_t)n)
            return true;
        consume(c, 8 + n);
        *progress = true;
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    }
    if (!swtpm) {
        consume(c, 4);
        *progress = true;
        switch (code) {
        case MS_SIGNAL_POWER_ON:
            /* Power on while on is a no-op, as with the reference simulator. */
            if (!t->powered)
                ttpm_power_on(t);
            break;
        case MS_SIGNAL_POWER_OFF:
            ttpm_power_off(t);
            break;
        case MS_SIGNAL_RESET:
        case MS_SIGNAL_RESTART:
            ttpm_power_off(t);
            ttpm_power_on(t);
            break;
        case MS_SESSION_END:
        case MS_STOP:
            return false;
        default:
            break; /* physical presence, NV on/off, cancel, key cache: acknowledged */
        }
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    }
    switch (code) {
    case SW_GET_CAPABILITY: {
        consume(c, 4);
        *progress = true;
        /* INIT|SHUTDOWN|GET_TPMESTABLISHED|SET_LOCALITY|CANCEL|STORE_VOLATILE|
         * RESET_TPMESTABLISHED|STOP|SET_BUFFERSIZE */
        uint32_t caps = 0x1 | 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200 | 0x1000 | 0x10000;
        const uint32_t r[2] = { 0, caps };
        return send_u32s(c->fd, r, 2);
    }
    case SW_INIT:
        if (c->len < 8)
            return true;
        consume(c, 8);
        *progress = true;
        ttpm_power_off(t);
        ttpm_power_on(t);
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    case SW_SHUTDOWN:
        consume(c, 4);
        *progress = true;
        ttpm_power_off(t);
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    case SW_GET_TPMESTABLISHED: {
        consume(c, 4);
        *progress = true;
        uint8_t r[8] = { 0 };
        return send_all(c->fd, r, sizeof(r));
    }
    case SW_SET_LOCALITY:
    case SW_RESET_TPMESTABLISHED:
        if (c->len < 5)
            return true;
        if (code == SW_SET_LOCALITY)
            t->locality = c->buf[4] <= 4 ? c->buf[4] : t->locality;
        consume(c, 5);
        *progress = true;
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    case SW_CANCEL_TPM_CMD:
    case SW_STORE_VOLATILE:
    case SW_STOP:
        consume(c, 4);
        *progress = true;
        return send_u32s(c->fd, (const uint32_t[]){ 0 }, 1);
    case SW_SET_BUFFERSIZE: {
        if (c->len < 8)
            return true;
        consume(c, 8);
        *progress = true;
        const uint32_t r[4] = { 0, TTPM_MAX_COMMAND, TTPM_MAX_COMMAND, TTPM_MAX_COMMAND };
        return send_u32s(c->fd, r, 4);
    }
    default:
        consume(c, 4);
        *progress = true;
        return send_u32s(c->fd, (const uint32_t[]){ 0xA /* TPM_BAD_ORDINAL */ }, 1);
    }
}

static int listen_on(const char *addr, uint16_t port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void close_conn(conn **slot)
{
    conn *c = *slot;
    close(c->fd);
    tc_wipe(c, sizeof(*c));
    free(c);
    *slot = NULL;
}

int ttpm_server_run(ttpm *t, const char *addr, uint16_t port, volatile int *stop)
{
    server s = { .t = t, .last_proto = PROTO_UNKNOWN };
    int lfd[2];
    lfd[0] = listen_on(addr, port);
    lfd[1] = listen_on(addr, (uint16_t)(port + 1));
    if (lfd[0] < 0 || lfd[1] < 0) {
        TC_ERROR("tpm", "cannot listen on %s:%u/%u: %s", addr, port, port + 1, strerror(errno));
        if (lfd[0] >= 0)
            close(lfd[0]);
        if (lfd[1] >= 0)
            close(lfd[1]);
        return -1;
    }
    TC_INFO("tpm", "listening on %s port %u (TPM) and %u (platform/control)", addr, port,
            port + 1);
    conn *conns[MAX_CONNS] = { 0 };
    while (!*stop && !s.stop) {
        struct pollfd pfd[2 + MAX_CONNS];
        int map[2 + MAX_CONNS];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++) {
            pfd[n] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
            map[n++] = -1 - i;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            if (conns[i]) {
                pfd[n] = (struct pollfd){ .fd = conns[i]->fd, .events = POLLIN };
                map[n++] = i;
            }
        }
        int r = poll(pfd, n, 500);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (nfds_t k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map[k] < 0) {
                int fd = accept4(pfd[k].fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < MAX_CONNS; i++)
                    if (conns[i] == NULL) {
                        slot = i;
                        break;
                    }
                conn *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
                if (c == NULL) {
                    close(fd);
                    continue;
                }
                set_sockopts(fd);
                c->fd = fd;
                c->control = map[k] == -2;
                conns[slot] = c;
                continue;
            }
            conn *c = conns[map[k]];
            ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
            if (got <= 0) {
                if (got < 0 && errno == EINTR)
                    continue;
                close_conn(&conns[map[k]]);
                continue;
            }
            c->len += (size_t)got;
#ifdef TCP_QUICKACK
            /* Linux resets quick-ack mode after use: keep it on. */
            int one = 1;
            (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
            bool keep = true, progress = true;
            while (keep && progress && c->len > 0)
                keep = c->control ? control_step(&s, c, &progress) : data_step(&s, c, &progress);
            if (keep && c->len == sizeof(c->buf))
                keep = false; /* a message larger than any we accept */
            if (!keep)
                close_conn(&conns[map[k]]);
        }
    }
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i])
            close_conn(&conns[i]);
    close(lfd[0]);
    close(lfd[1]);
    return 0;
}
