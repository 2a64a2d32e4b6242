/*
 * Transports: the Microsoft simulator protocol (mssim) and the swtpm socket
 * protocol, both on the same pair of ports. Data port N: mssim messages
 * start with a 32-bit command (TPM_SEND_COMMAND = 8 ...), raw swtpm TPM
 * commands with a tag 0x8001/0x8002, so the first byte tells them apart.
 * Control port N+1: mssim platform signals or swtpm CMD_* requests.
 *
 * One poll() loop serves every connection. Sockets are non-blocking: each
 * response is queued in the connection's output buffer and sent as far as
 * the peer reads, so a client that pipelines commands without reading its
 * answers stalls only itself: once its queue passes a high-water mark the
 * server stops reading its commands until the queue drains (and drops it if
 * it drains nothing for a while). A message must arrive whole within the
 * read timeout; a connection silent for the idle timeout is closed; when the
 * table is full a new client evicts the idlest connection rather than being
 * refused. The I/O buffers are wiped after every message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tpm/ttpm.h"

/* mssim (TPM simulator "platform" and "TPM" commands) */
#define MS_SIGNAL_POWER_ON 1
#define MS_SIGNAL_POWER_OFF 2
#define MS_SIGNAL_HASH_START 5
#define MS_SIGNAL_HASH_DATA 6
#define MS_SIGNAL_HASH_END 7
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
#define SW_HASH_START 6
#define SW_HASH_DATA 7
#define SW_HASH_END 8
#define SW_CANCEL_TPM_CMD 9
#define SW_STORE_VOLATILE 10
#define SW_RESET_TPMESTABLISHED 11
#define SW_STOP 14
#define SW_SET_DATAFD 16
#define SW_SET_BUFFERSIZE 17
#define SW_TPM_FAIL 9 /* the control channel's result for a failure */

/* swtpm control channel capability bits (swtpm_ioctls(3), PTM_CAP_*) */
#define CAP_INIT 0x1
#define CAP_SHUTDOWN 0x2
#define CAP_GET_TPMESTABLISHED 0x4
#define CAP_SET_LOCALITY 0x8
#define CAP_HASHING 0x10
#define CAP_CANCEL_TPM_CMD 0x20
#define CAP_STORE_VOLATILE 0x40
#define CAP_RESET_TPMESTABLISHED 0x80
#define CAP_STOP 0x400
#define CAP_SET_DATAFD 0x1000
#define CAP_SET_BUFFERSIZE 0x2000

#define BUF_CAP (TTPM_MAX_COMMAND + 16)
/* Output queue: commands of a connection are run only while less than
 * OUT_HIGH bytes wait for it, so the queue never exceeds OUT_HIGH plus one
 * framed response. */
#define OUT_HIGH (2 * BUF_CAP)
#define OUT_CAP (OUT_HIGH + TTPM_MAX_COMMAND + 64)

enum { PROTO_UNKNOWN = 0, PROTO_MSSIM, PROTO_RAW };

typedef struct {
    int fd;
    bool control;
    int proto; /* control connections: decided by the first message */
    bool closing; /* close once the output queue is sent */
    bool eof;     /* the peer will send nothing more */
    /* the Unix control channel and the data channel it handed over (QEMU):
     * local by file permission, so never evicted nor closed when idle */
    bool local;
    bool unix_ctrl;
    int passed_fd; /* a descriptor received with SCM_RIGHTS, or -1 */
    uint64_t last_io;    /* ms: last byte received or sent */
    uint64_t msg_start;  /* ms: first byte of the incomplete message in buf */
    uint64_t out_since;  /* ms: last time the output queue shrank (or began) */
    uint8_t buf[BUF_CAP];
    size_t len;
    uint8_t out[OUT_CAP];
    size_t out_len;
} conn;

typedef struct {
    ttpm *t;
    const ttpm_server_limits *lim;
    int last_proto; /* of the data port, to read ambiguous control codes */
    bool stop;
    conn **conns;
    unsigned max;
} server;

static conn *add_conn(server *s, int fd, bool control);

const ttpm_server_limits ttpm_server_defaults = {
    .max_conns = 32,
    /* Off by default: a resource manager (tpm2-abrmd) opens one connection
     * at boot and may stay silent for days; eviction of the idlest
     * connection already keeps idle clients from filling the table. */
    .idle_timeout_ms = 0,
    .read_timeout_ms = 10 * 1000,
    .write_timeout_ms = 10 * 1000,
    .ctrl_unix = NULL,
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_sockopts(int fd)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_QUICKACK
    (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
}

/* Queue bytes for the peer; false (close the connection) if the queue
 * cannot hold them, which the high-water mark makes impossible for
 * well-formed traffic. */
static bool queue(conn *c, const uint8_t *p, size_t n)
{
    if (OUT_CAP - c->out_len < n)
        return false;
    if (c->out_len == 0)
        c->out_since = now_ms();
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    return true;
}

static bool queue_u32s(conn *c, const uint32_t *v, size_t n)
{
    uint8_t b[32];
    for (size_t i = 0; i < n; i++)
        tc_store_u32(b + 4 * i, v[i]);
    return queue(c, b, 4 * n);
}

/* Send what the socket takes now; false on a broken connection. */
static bool flush(conn *c)
{
    size_t sent = 0;
    while (sent < c->out_len) {
        ssize_t w = send(c->fd, c->out + sent, c->out_len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return false;
        }
        sent += (size_t)w;
    }
    if (sent > 0) {
        memmove(c->out, c->out + sent, c->out_len - sent);
        c->out_len -= sent;
        tc_wipe(c->out + c->out_len, sent);
        c->out_since = c->last_io = now_ms();
    }
    return true;
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
    bool ok = !out.failed && queue(c, out.p, out.len);
    tc_buf_free(&out);
    return ok;
}

/* Returns false to close the connection. *progress: a message was consumed. */
static bool data_step(server *s, conn *c, bool *progress)
{
    *progress = false;
    if (c->len < 4)
        return true;
    if (c->proto == PROTO_RAW || c->buf[0] != 0x00) {
        /* raw TPM command (swtpm socket data channel): a tag 0x80xx, or
         * garbage that earns a TPM_RC_BAD_TAG; mssim codes start with 0.
         * A data channel handed over by CMD_SET_DATAFD is raw only (QEMU
         * probes it with a TPM 1.2 command, tag 0x00C1). */
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
            (void)queue(c, e, sizeof(e));
            c->closing = true;
            return true;
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
        return queue_u32s(c, r, 3);
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
    TC_DEBUG("tpm", "control message %u (%s), %zu bytes buffered", code,
             swtpm ? "swtpm" : "mssim", c->len);
    /* DRTM data (mssim HASH_DATA, swtpm CMD_HASH_DATA): a length and the
     * bytes, at most the 4096 of swtpm's ptm_hdata */
    if ((code == MS_SIGNAL_HASH_DATA && !swtpm) || (code == SW_HASH_DATA && swtpm)) {
        if (c->len < 8)
            return true;
        uint32_t n = tc_load_u32(c->buf + 4);
        if (n > 4096)
            return false;
        if (c->len < 8 + (size_t)n)
            return true;
        bool ok = ttpm_hash_data(t, c->buf + 8, n);
        consume(c, 8 + n);
        *progress = true;
        return queue_u32s(c, (const uint32_t[]){ ok ? 0 : SW_TPM_FAIL }, 1);
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
        case MS_SIGNAL_HASH_START:
            (void)ttpm_hash_start(t);
            break;
        case MS_SIGNAL_HASH_END:
            (void)ttpm_hash_end(t);
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
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    }
    switch (code) {
    case SW_GET_CAPABILITY: {
        consume(c, 4);
        *progress = true;
        /* ptm_cap, a 64-bit value. No state blobs (migration). */
        uint32_t caps = CAP_INIT | CAP_SHUTDOWN | CAP_GET_TPMESTABLISHED | CAP_SET_LOCALITY |
                        CAP_HASHING |
                        CAP_CANCEL_TPM_CMD | CAP_STORE_VOLATILE | CAP_RESET_TPMESTABLISHED |
                        CAP_STOP | CAP_SET_BUFFERSIZE | (c->unix_ctrl ? CAP_SET_DATAFD : 0);
        const uint32_t r[2] = { 0, caps };
        return queue_u32s(c, r, 2);
    }
    case SW_INIT:
        if (c->len < 8)
            return true;
        consume(c, 8);
        *progress = true;
        ttpm_power_off(t);
        ttpm_power_on(t);
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    case SW_SHUTDOWN:
        consume(c, 4);
        *progress = true;
        ttpm_power_off(t);
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    case SW_GET_TPMESTABLISHED: {
        consume(c, 4);
        *progress = true;
        uint8_t r[8] = { 0 };
        return queue(c, r, sizeof(r));
    }
    case SW_SET_LOCALITY:
    case SW_RESET_TPMESTABLISHED: {
        /* The locality is one byte; QEMU sends the whole request union
         * (ptm_loc, ptm_reset_est: 4 bytes), the tpm2-tss TCTI the byte. */
        size_t n = c->unix_ctrl ? 8 : 5;
        if (c->len < n)
            return true;
        if (code == SW_SET_LOCALITY)
            t->locality = c->buf[4] <= 4 ? c->buf[4] : t->locality;
        consume(c, n);
        *progress = true;
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    }
    case SW_STOP:
        /* halted until CMD_INIT, the process stays */
        consume(c, 4);
        *progress = true;
        ttpm_power_off(t);
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    case SW_CANCEL_TPM_CMD:
    case SW_STORE_VOLATILE:
        consume(c, 4);
        *progress = true;
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    case SW_HASH_START:
    case SW_HASH_END: {
        consume(c, 4);
        *progress = true;
        bool ok = code == SW_HASH_START ? ttpm_hash_start(t) : ttpm_hash_end(t);
        return queue_u32s(c, (const uint32_t[]){ ok ? 0 : SW_TPM_FAIL }, 1);
    }
    case SW_SET_DATAFD: {
        /* The TPM command channel arrives as a socket passed with the
         * message (QEMU's tpm-emulator backend); it speaks raw TPM
         * commands like the swtpm data port. */
        consume(c, 4);
        *progress = true;
        int fd = c->passed_fd;
        c->passed_fd = -1;
        conn *d = fd >= 0 ? add_conn(s, fd, false) : NULL;
        if (d == NULL) {
            if (fd >= 0)
                close(fd);
            return queue_u32s(c, (const uint32_t[]){ SW_TPM_FAIL }, 1);
        }
        d->local = true;
        d->proto = PROTO_RAW;
        return queue_u32s(c, (const uint32_t[]){ 0 }, 1);
    }
    case SW_SET_BUFFERSIZE: {
        if (c->len < 8)
            return true;
        consume(c, 8);
        *progress = true;
        const uint32_t r[4] = { 0, TTPM_MAX_COMMAND, TTPM_MAX_COMMAND, TTPM_MAX_COMMAND };
        return queue_u32s(c, r, 4);
    }
    default:
        consume(c, 4);
        *progress = true;
        return queue_u32s(c, (const uint32_t[]){ 0xA /* TPM_BAD_ORDINAL */ }, 1);
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
    if (c->passed_fd >= 0)
        close(c->passed_fd);
    close(c->fd);
    tc_wipe(c, sizeof(*c));
    free(c);
    *slot = NULL;
}

/* Run the complete messages in c's input while its output queue is below
 * the high-water mark; false to close the connection now. */
static bool serve(server *s, conn *c)
{
    bool keep = true, progress = true, any = false;
    for (;;) {
        while (keep && progress && !c->closing && c->len > 0 && c->out_len < OUT_HIGH) {
            keep = c->control ? control_step(s, c, &progress) : data_step(s, c, &progress);
            any |= progress;
        }
        if (!keep)
            return false;
        /* Stopped by the high-water mark: if the peer takes the answers
         * right away, go on with the commands already received (no poll
         * event would bring us back to them). */
        if (!progress || c->closing || c->len == 0 || c->out_len < OUT_HIGH)
            break;
        if (!flush(c))
            return false;
        if (c->out_len >= OUT_HIGH)
            break;
    }
    if (c->eof && c->out_len < OUT_HIGH)
        c->closing = true; /* what remains can never complete */
    if (c->closing)
        c->len = 0;
    if (c->len == sizeof(c->buf) && c->out_len < OUT_HIGH)
        return false; /* a full buffer and no complete message: too large */
    if (any)
        c->msg_start = now_ms();
    return flush(c);
}

/* Receive what is there; false when the connection failed. At the end of
 * the peer's stream the commands already received are still answered. */
static bool receive(conn *c)
{
    for (;;) {
        struct iovec iov = { c->buf + c->len, sizeof(c->buf) - c->len };
        union {
            struct cmsghdr h;
            uint8_t b[CMSG_SPACE(4 * sizeof(int))];
        } cm;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (c->unix_ctrl) {
            mh.msg_control = cm.b;
            mh.msg_controllen = sizeof(cm.b);
        }
        ssize_t got = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        /* keep the newest descriptor passed, close any other */
        for (struct cmsghdr *h = c->unix_ctrl ? CMSG_FIRSTHDR(&mh) : NULL; h != NULL;
             h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
                continue;
            size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < nfd; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
                if (c->passed_fd >= 0)
                    close(c->passed_fd);
                c->passed_fd = fd;
            }
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (got < 0)
            return false;
        if (got == 0) {
            c->eof = true;
            return true;
        }
        if (c->len == 0)
            c->msg_start = now_ms();
        c->len += (size_t)got;
        c->last_io = now_ms();
#ifdef TCP_QUICKACK
        /* Linux resets quick-ack mode after use: keep it on. */
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
        return true;
    }
}

/* Why a connection has outstayed its welcome, or NULL. */
static const char *expired(const server *s, const conn *c, uint64_t now)
{
    const ttpm_server_limits *l = s->lim;
    if (c->len > 0 && c->out_len == 0 && l->read_timeout_ms &&
        now - c->msg_start > l->read_timeout_ms)
        return "incomplete message";
    if (c->out_len > 0 && l->write_timeout_ms && now - c->out_since > l->write_timeout_ms)
        return "responses not read";
    if (l->idle_timeout_ms && !c->local && now - c->last_io > l->idle_timeout_ms)
        return "idle";
    return NULL;
}

/* A new connection in the table; when it is full the idlest connection
 * that is not local makes room. NULL (fd left open) if none can. */
static conn *add_conn(server *s, int fd, bool control)
{
    conn **conns = s->conns;
    int slot = -1, idlest = -1;
    for (unsigned i = 0; i < s->max; i++) {
        if (conns[i] == NULL) {
            slot = (int)i;
            break;
        }
        if (!conns[i]->local && (idlest < 0 || conns[i]->last_io < conns[idlest]->last_io))
            idlest = (int)i;
    }
    if (slot < 0 && idlest >= 0) {
        /* Full: the connection that has been quiet longest makes room, so
         * idle clients cannot lock everybody out. */
        TC_INFO("tpm", "connection limit (%u) reached: closing the idlest connection", s->max);
        close_conn(&conns[idlest]);
        slot = idlest;
    }
    conn *c = slot >= 0 ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL)
        return NULL;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        free(c);
        return NULL;
    }
    set_sockopts(fd);
    c->fd = fd;
    c->passed_fd = -1;
    c->control = control;
    c->last_io = c->msg_start = c->out_since = now_ms();
    conns[slot] = c;
    return c;
}

static void accept_one(server *s, int lfd, bool control, bool unix_ctrl)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    conn *c = add_conn(s, fd, control);
    if (c == NULL) {
        close(fd);
        return;
    }
    if (unix_ctrl) {
        c->unix_ctrl = c->local = true;
        c->proto = PROTO_RAW; /* only the swtpm control protocol */
    }
}

/* A Unix socket at path for the swtpm control channel; a stale socket
 * left there is replaced, any other file is not. */
static int listen_unix(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            errno = EEXIST;
            return -1;
        }
        (void)unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    mode_t old = umask(0177); /* the socket file: owner only */
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, 4) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int ttpm_server_run(ttpm *t, const char *addr, uint16_t port, const ttpm_server_limits *lim,
                    volatile int *stop)
{
    if (lim == NULL)
        lim = &ttpm_server_defaults;
    server s = { .t = t, .lim = lim, .last_proto = PROTO_UNKNOWN };
    unsigned max = lim->max_conns ? lim->max_conns : 1;
    /* listeners: TPM port, platform/control port, Unix control socket */
    int lfd[3] = { -1, -1, -1 };
    bool listening = true;
    if (port != 0) {
        lfd[0] = listen_on(addr, port);
        lfd[1] = listen_on(addr, (uint16_t)(port + 1));
        listening = lfd[0] >= 0 && lfd[1] >= 0;
        if (!listening)
            TC_ERROR("tpm", "cannot listen on %s:%u/%u: %s", addr, port, port + 1,
                     strerror(errno));
    }
    if (listening && lim->ctrl_unix != NULL) {
        lfd[2] = listen_unix(lim->ctrl_unix);
        listening = lfd[2] >= 0;
        if (!listening)
            TC_ERROR("tpm", "cannot listen on %s: %s", lim->ctrl_unix, strerror(errno));
    }
    s.max = max;
    s.conns = calloc(max, sizeof(*s.conns));
    conn **conns = s.conns;
    struct pollfd *pfd = calloc(3 + (size_t)max, sizeof(*pfd));
    int *map = calloc(3 + (size_t)max, sizeof(*map));
    if (!listening || conns == NULL || pfd == NULL || map == NULL) {
        for (int i = 0; i < 3; i++)
            if (lfd[i] >= 0)
                close(lfd[i]);
        free(conns);
        free(pfd);
        free(map);
        return -1;
    }
    if (port != 0)
        TC_INFO("tpm", "listening on %s port %u (TPM) and %u (platform/control)", addr, port,
                port + 1);
    if (lim->ctrl_unix != NULL)
        TC_INFO("tpm", "swtpm control channel on %s", lim->ctrl_unix);
    while (!*stop && !s.stop) {
        nfds_t n = 0;
        for (int i = 0; i < 3; i++) {
            if (lfd[i] < 0)
                continue;
            pfd[n] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
            map[n++] = -1 - i;
        }
        for (unsigned i = 0; i < max; i++) {
            conn *c = conns[i];
            if (c == NULL)
                continue;
            short ev = 0;
            /* Read only what we are ready to answer: a peer that does not
             * read its responses is not read from either. */
            if (!c->closing && !c->eof && c->out_len < OUT_HIGH && c->len < sizeof(c->buf))
                ev |= POLLIN;
            if (c->out_len > 0)
                ev |= POLLOUT;
            pfd[n] = (struct pollfd){ .fd = c->fd, .events = ev };
            map[n++] = (int)i;
        }
        int r = poll(pfd, n, 200);
        if (r < 0 && errno != EINTR)
            break;
        for (nfds_t k = 0; r > 0 && k < n; k++) {
            if (!pfd[k].revents)
                continue;
            if (map[k] < 0) {
                accept_one(&s, pfd[k].fd, map[k] != -1, map[k] == -3);
                continue;
            }
            conn **slot = &conns[map[k]];
            conn *c = *slot;
            if (c == NULL || c->fd != pfd[k].fd)
                continue; /* evicted by an accept in this round */
            bool ok = true;
            if (pfd[k].revents & POLLOUT)
                ok = flush(c);
            if (ok && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) && (pfd[k].events & POLLIN))
                ok = receive(c);
            else if (ok && (pfd[k].revents & POLLERR))
                ok = false;
            /* Run what has arrived, also what waited while the queue was full. */
            if (ok)
                ok = serve(&s, c);
            if (ok && c->closing && c->out_len == 0)
                ok = false;
            if (!ok)
                close_conn(slot);
        }
        uint64_t now = now_ms();
        for (unsigned i = 0; i < max; i++) {
            if (conns[i] == NULL)
                continue;
            const char *why = expired(&s, conns[i], now);
            if (why != NULL) {
                TC_INFO("tpm", "closing a connection: %s", why);
                close_conn(&conns[i]);
            }
        }
    }
    for (unsigned i = 0; i < max; i++)
        if (conns[i])
            close_conn(&conns[i]);
    free(conns);
    free(pfd);
    free(map);
    for (int i = 0; i < 3; i++)
        if (lfd[i] >= 0)
            close(lfd[i]);
    if (lim->ctrl_unix != NULL)
        (void)unlink(lim->ctrl_unix);
    return 0;
}
