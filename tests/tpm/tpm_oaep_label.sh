#!/bin/bash
# OAEP labels (Part 1 §B.4): a label is a zero-terminated string, used as
# sent; RSA_Encrypt and RSA_Decrypt refuse a label whose last byte is not
# zero with TPM_RC_VALUE for the label parameter (3), as the reference does,
# instead of appending the zero themselves.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup
tpm2_createprimary -C o -G rsa2048 -a "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" \
    -c k.ctx -Q || fail createprimary
tpm2_evictcontrol -C o -c k.ctx 0x81000050 >/dev/null || fail evictcontrol
tpm2_readpublic -c 0x81000050 -f pem -o k.pem -Q || fail readpublic

# tpm2-tools sends the label with its zero: round trip, and OpenSSL with the
# same label bytes ("mylabel\0") interoperates
echo -n "secret" > m
tpm2_rsaencrypt -c 0x81000050 -s oaep -l mylabel -o c.bin m || fail rsaencrypt
tpm2_rsadecrypt -c 0x81000050 -s oaep -l mylabel -o d.bin c.bin || fail rsadecrypt
cmp -s m d.bin || fail "round trip"
openssl pkeyutl -encrypt -pubin -inkey k.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_oaep_label:"$(echo -n mylabel | xxd -p)00" -in m -out o.bin \
    || fail "openssl encrypt"
tpm2_rsadecrypt -c 0x81000050 -s oaep -l mylabel -o d2.bin o.bin || fail "decrypt OpenSSL's ciphertext"
cmp -s m d2.bin || fail "OpenSSL round trip"

# raw commands: label "abc" (no zero) is TPM_RC_VALUE + parameter 3 (0x3C4);
# "abc\0" works
/usr/bin/python3 - "$PORT" <<'PY' || fail "raw label checks"
import socket, struct, sys
port = int(sys.argv[1])

def tpm(cmd):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(cmd)
    data = b""
    while len(data) < 10 or len(data) < struct.unpack(">I", data[2:6])[0]:
        chunk = s.recv(8192)
        if not chunk:
            break
        data += chunk
    s.close()
    return struct.unpack(">I", data[6:10])[0], data[10:]

def b2(x):
    return struct.pack(">H", len(x)) + x

KEY = 0x81000050
OAEP_SHA256 = struct.pack(">HH", 0x0017, 0x000B)
PW = struct.pack(">IHBH", 0x40000009, 0, 0, 0)

def encrypt(label):
    body = struct.pack(">I", KEY) + b2(b"hello") + OAEP_SHA256 + b2(label)
    return tpm(struct.pack(">HII", 0x8001, 10 + len(body), 0x174) + body)

def decrypt(ct, label):
    body = (struct.pack(">I", KEY) + struct.pack(">I", len(PW)) + PW + b2(ct) + OAEP_SHA256
            + b2(label))
    return tpm(struct.pack(">HII", 0x8002, 10 + len(body), 0x159) + body)

rc, _ = encrypt(b"abc")
assert rc == 0x3C4, "RSA_Encrypt label without zero: %#x" % rc
rc, out = encrypt(b"abc\0")
assert rc == 0, "RSA_Encrypt label with zero: %#x" % rc
ct = out[2:2 + struct.unpack(">H", out[:2])[0]]
rc, _ = decrypt(ct, b"abc")
assert rc == 0x3C4, "RSA_Decrypt label without zero: %#x" % rc
rc, out = decrypt(ct, b"abc\0")
assert rc == 0, "RSA_Decrypt label with zero: %#x" % rc
assert out[4:4 + 2 + 5] == b2(b"hello"), out
# the empty label is not a string and stays valid
rc, _ = encrypt(b"")
assert rc == 0, "RSA_Encrypt empty label: %#x" % rc
PY
echo OK
