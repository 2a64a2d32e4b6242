#!/bin/bash
# Measured boot: tessera-tpm measure extends a chain of files into a PCR and
# appends to a crypto-agile event log; tpm2_eventlog replays the log to the
# PCR values tpm2_pcrread reports, for every bank, over both transports.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup

head -c 3000 /dev/urandom > bootloader
head -c 12000 /dev/urandom > kernel
echo "console=ttyS0 root=/dev/vda" > cmdline
"$TPM_BIN" measure --port "$PORT" --pcr 9 --log boot.log bootloader kernel || fail "measure 1"
"$TPM_BIN" measure --swtpm --port "$PORT" --pcr 9 --log boot.log cmdline || fail "measure 2 (swtpm)"
"$TPM_BIN" measure --port "$PORT" --pcr 8 --log boot.log cmdline || fail "measure 3"

tpm2_eventlog boot.log > replay.yaml || fail "tpm2_eventlog cannot parse the log"
grep -q "Spec ID Event03" replay.yaml || fail "no Spec ID event"
[ "$(grep -c 'EventType: EV_IPL' replay.yaml)" -eq 4 ] || fail "event count"

check_pcr() { # bank pcr
    local want got
    want=$(awk -v bank="$1:" -v idx="$2" '
        /^pcrs:/ {in_pcrs=1; next}
        in_pcrs && $1 == bank {cur=1; next}
        in_pcrs && /^  [a-z0-9]+:$/ {cur=0}
        in_pcrs && cur && $1 == idx {print $3}' replay.yaml)
    tpm2_pcrread "$1:$2" -o p.bin >/dev/null || fail "pcrread $1:$2"
    got="0x$(xxd -p -c 64 p.bin)"
    [ -n "$want" ] || fail "no replayed value for $1:$2"
    [ "$want" = "$got" ] || fail "$1:$2 replay $want != pcr $got"
}
for bank in sha1 sha256 sha384; do
    check_pcr "$bank" 9
    check_pcr "$bank" 8
done

# a tampered log no longer replays to the PCR value
/usr/bin/python3 - boot.log <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[-40] ^= 1   # inside the last event's digests
open(p + ".bad", "wb").write(b)
PY
tpm2_eventlog boot.log.bad > bad.yaml 2>/dev/null
w1=$(grep -A30 '^pcrs:' replay.yaml | md5sum); w2=$(grep -A30 '^pcrs:' bad.yaml | md5sum)
[ "$w1" != "$w2" ] || fail "tampered log replays to the same PCRs"

# measuring into an unreachable TPM fails cleanly
expect_fail "cannot connect to 127.0.0.1:1" "$TPM_BIN" measure --port 1 --pcr 9 --log x.log cmdline
echo OK
