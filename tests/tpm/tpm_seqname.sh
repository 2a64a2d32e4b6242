#!/bin/bash
# Sequence objects have the Empty Buffer as their Name (Part 1 §16), so the
# HMAC that authorises a sequence handle (SequenceUpdate, SequenceComplete,
# EventSequenceComplete) is computed over a cpHash with an empty Name, as
# the ESAPI does.
source "$(dirname "$0")/common.bash"
start_tpm_primary

# an imported HMAC key, so the MAC can be checked with OpenSSL
import_hmac_key
head -c 3000 /dev/urandom > big
want=$(openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(xxd -p -c 64 key.bin)" big | awk '{print $NF}')

# stdin: tpm2_hmac runs HMAC_Start / SequenceUpdate / SequenceComplete
cat big | tpm2_hmac -c k.ctx -g sha256 -o m1.bin || fail "tpm2_hmac from stdin"
[ "$(xxd -p -c 64 m1.bin)" = "$want" ] || fail "HMAC sequence value"
# the same with an HMAC session authorising the key and the sequence
tpm2_startauthsession -S s.ctx --hmac-session || fail startauthsession
cat big | tpm2_hmac -c k.ctx -p session:s.ctx -g sha256 -o m2.bin 2>/dev/null \
    || fail "tpm2_hmac from stdin with an HMAC session"
tpm2_flushcontext s.ctx
[ "$(xxd -p -c 64 m2.bin)" = "$want" ] || fail "HMAC sequence value (HMAC session)"

# a file larger than one buffer: tpm2_pcrevent runs HashSequenceStart /
# SequenceUpdate / EventSequenceComplete
tpm2_pcrevent 9 big > ev.txt || fail "tpm2_pcrevent of a large file"
d=$(sha256sum big | cut -d' ' -f1)
grep -q "sha256: $d" ev.txt || fail "pcrevent digest"
exp=$( (head -c 32 /dev/zero; echo -n "$d" | xxd -r -p) | sha256sum | cut -d' ' -f1)
got=$(tpm2_pcrread sha256:9 | awk '/9 *:/ {print tolower($NF)}' | sed 's/^0x//')
[ "$got" = "$exp" ] || fail "PCR 9 after pcrevent: $got, want $exp"

# and a hash sequence (tpm2_hash of stdin)
cat big | tpm2_hash -g sha256 -o h.bin || fail "tpm2_hash from stdin"
[ "$(xxd -p -c 64 h.bin)" = "$d" ] || fail "hash sequence value"
echo OK
