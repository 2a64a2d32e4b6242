#!/usr/bin/python3
"""A raw client of tesserad's wire protocol (src/proto/tproto.h), for the
tests that have to send what the PKCS#11 module never would.

Frame: u32 length (bytes after it), u8 version, u8 kind, u16 op, u32 id,
body; big-endian. HELLO body: u8 min, u8 max, u8 sizeof(CK_ULONG),
u8 big_endian, 16-byte application id. HELLO reply: u64 rv, u8 version,
u32 max_frame, u8 name length, name. Other responses: u64 rv, u32 arg,
i64 index, u64 attr, u8 outputs present, then the outputs.

Used as a program:
    tproto.py probe URL [CERT KEY CA]     HELLO answered with CKR_OK: exit 0
"""
import os
import socket
import ssl
import struct
import sys
import time

VERSION = 1
REQUEST, RESPONSE = 0, 1
OP_HELLO = 1
OP_SLOT_LIST = 2
OP_TOKEN_INFO = 4
OP_SESSION_OPEN = 8
OP_SESSION_CLOSE = 9
OP_RANDOM = 38
HEADER = 12
CKR_OK = 0
CKR_FUNCTION_NOT_SUPPORTED = 0x54
CKF_SERIAL_SESSION = 4


class Closed(Exception):
    """The daemon closed the connection (or the TLS layer failed)."""


def frame(op, body=b"", fid=1, version=VERSION, kind=REQUEST, length=None):
    if length is None:
        length = HEADER - 4 + len(body)
    return struct.pack(">IBBHI", length, version, kind, op, fid) + body


def hello_body(app_id=bytes(16)):
    return bytes([VERSION, VERSION, 8, 0]) + app_id


def u64(v):
    return struct.pack(">Q", v)


def tls_context(cert=None, key=None, ca=None, max_version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        ctx.load_verify_locations(ca)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


class Conn:
    """One connection: unix:///path or tls://host:port."""

    def __init__(self, url, cert=None, key=None, ca=None, timeout=60.0, ctx=None,
                 server_hostname=None):
        self.url = url
        if url.startswith("unix://"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(url[len("unix://"):])
        elif url.startswith("tls://"):
            host, port = url[len("tls://"):].rsplit(":", 1)
            raw = socket.create_connection((host, int(port)), timeout=timeout)
            if ctx is None:
                ctx = tls_context(cert, key, ca)
            s = ctx.wrap_socket(raw, server_hostname=server_hostname or host)
        else:
            raise ValueError("unknown URL " + url)
        self.sock = s
        self.next_id = 1
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                d = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionError) as e:
                raise Closed(str(e))
            if not d:
                raise Closed("end of stream")
            self.buf += d

    def recv_frame(self):
        """(version, kind, op, id, body); Closed at the end of the stream."""
        self._fill(4)
        (length,) = struct.unpack(">I", self.buf[:4])
        if length < HEADER - 4 or length > (1 << 20):
            raise ValueError("daemon sent a bad frame length %d" % length)
        self._fill(4 + length)
        f, self.buf = self.buf[:4 + length], self.buf[4 + length:]
        _, version, kind, op, fid = struct.unpack(">IBBHI", f[:HEADER])
        return version, kind, op, fid, f[HEADER:]

    def call(self, op, body):
        fid = self.next_id
        self.next_id += 1
        self.send(frame(op, body, fid))
        version, kind, rop, rid, rbody = self.recv_frame()
        if kind != RESPONSE or rop != op or rid != fid:
            raise ValueError("response kind %d op %d id %d to op %d id %d" %
                             (kind, rop, rid, op, fid))
        return rbody

    def hello(self, app_id=bytes(16)):
        body = self.call(OP_HELLO, hello_body(app_id))
        rv, version, max_frame, n = struct.unpack(">QBIB", body[:14])
        return rv, version, max_frame, body[14:14 + n].decode()

    @staticmethod
    def rv_of(body):
        rv, arg, index, attr, has = struct.unpack(">QIqQB", body[:29])
        return rv, has, body[29:]

    def slot_list(self):
        rv, has, out = self.rv_of(self.call(OP_SLOT_LIST, bytes([1]) + u64(16) + bytes([1]) + u64(0)))
        if rv != CKR_OK:
            return rv, []
        (count,) = struct.unpack(">Q", out[:8])
        (n,) = struct.unpack(">I", out[8:12])
        return rv, list(struct.unpack(">%dQ" % n, out[12:12 + 8 * n]))

    def token_info(self, slot):
        """(rv, label, ulSessionCount, ulRwSessionCount)"""
        rv, has, out = self.rv_of(self.call(OP_TOKEN_INFO, u64(slot) + bytes([1])))
        if rv != CKR_OK:
            return rv, None, None, None
        label = out[:32].decode(errors="replace").rstrip()
        v = struct.unpack(">11Q", out[96:96 + 88])
        return rv, label, v[2], v[4]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ValueError("no VmRSS for pid %d" % pid)


def main(argv):
    if len(argv) >= 3 and argv[1] == "probe":
        url = argv[2]
        cert, key, ca = (argv[3:6] + [None] * 3)[:3]
        if not url.startswith("tls://"):
            cert = key = ca = None
        try:
            c = Conn(url, cert, key, ca, timeout=5.0)
            rv, version, max_frame, name = c.hello()
            c.close()
        except (OSError, Closed, ValueError, struct.error) as e:
            print("probe %s: %s" % (url, e), file=sys.stderr)
            return 1
        print("probe %s: rv 0x%x version %d max_frame %d server %s" % (url, rv, version, max_frame, name))
        return 0 if rv == CKR_OK else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
