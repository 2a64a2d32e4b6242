#!/bin/bash
# QEMU's tpm-emulator backend on tessera-tpm's Unix control socket: OVMF
# boots headless (TCG, no KVM needed) to its shell with the TPM as a TIS
# device, measuring into PCR 0-7 through the data channel QEMU handed over
# with CMD_SET_DATAFD; the same TPM, read over TCP, shows the
# measurements (read while the firmware idles at its shell): PCR 0-7 are no
# longer zero, and PCR 2, whose only event on
# this machine (no option ROMs) is the EV_SEPARATOR (four zero bytes, TCG PC
# Client Platform Firmware Profile), replays to its value.
source "$(dirname "$0")/common.bash"
QEMU=$(command -v qemu-system-x86_64 || true)
CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
if [ -z "$QEMU" ] || [ ! -r "$CODE" ] || [ ! -r "$VARS" ]; then
    echo "qemu-system-x86 and ovmf are not installed: cannot run QEMU here" >&2
    exit 77
fi
SOCK="$WORK/ctrl.sock"
TPM_ARGS="--ctrl unix:$SOCK"
start_tpm
cp "$VARS" "$WORK/vars.fd"
"$QEMU" -machine q35,accel=tcg -m 256 -display none -no-reboot -net none \
    -drive if=pflash,format=raw,readonly=on,file="$CODE" \
    -drive if=pflash,format=raw,file="$WORK/vars.fd" \
    -chardev socket,id=chrtpm,path="$SOCK" \
    -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0 \
    -serial file:"$WORK/serial.log" >"$WORK/qemu.log" 2>&1 &
QEMU_PID=$!
ALL_PIDS="$ALL_PIDS $QEMU_PID"
# the firmware reaches its shell (or gives up booting) within minutes on TCG
for _ in $(seq 600); do
    grep -aq "Shell>" "$WORK/serial.log" 2>/dev/null && break
    kill -0 "$QEMU_PID" 2>/dev/null || break
    sleep 0.5
done
grep -aq "Shell>" "$WORK/serial.log" || {
    cat "$WORK/qemu.log" >&2
    fail "OVMF did not reach its shell"
}
# the same TPM over TCP, while the firmware idles at its shell (QEMU powers
# the TPM off when it exits)
tpm2_pcrread sha256:0,1,2,3,4,5,6,7 -o pcrs.bin >/dev/null || fail "pcrread"
kill "$QEMU_PID"
wait "$QEMU_PID" 2>/dev/null
grep -qi "end-of-file\|broken pipe\|tpm" "$WORK/qemu.log" &&
    fail "QEMU reported a TPM channel error: $(cat "$WORK/qemu.log")"
/usr/bin/python3 - pcrs.bin <<'PY' || fail "PCR values"
import hashlib, sys
b = open(sys.argv[1], "rb").read()
if len(b) != 8 * 32:
    sys.exit("read %d bytes of PCRs" % len(b))
pcr = [b[32 * i:32 * i + 32] for i in range(8)]
for i, v in enumerate(pcr):
    if v == b"\0" * 32:
        sys.exit("PCR %d is still zero" % i)
separator_only = hashlib.sha256(b"\0" * 32 + hashlib.sha256(b"\0" * 4).digest()).digest()
if pcr[2] != separator_only:
    sys.exit("PCR 2 does not replay to its separator event: %s" % pcr[2].hex())
for i in (0, 7):
    if pcr[i] == separator_only:
        sys.exit("PCR %d holds only a separator: the firmware measured nothing else" % i)
print("PCR 0: %s" % pcr[0].hex())
PY
# QEMU has gone; the TPM serves the next client
tpm2_startup -c || fail "startup after QEMU left"
tpm2_getrandom 8 >/dev/null || fail "getrandom after QEMU left"
echo ok
