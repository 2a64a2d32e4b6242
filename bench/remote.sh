#!/usr/bin/env bash
# bench/remote.sh — what going through tesserad costs.
#
# Usage: bench/remote.sh [BUILD_DIR]      (default: build/release; builds nothing)
#
# In a temp dir it starts tesserad (a Unix socket and a TLS listener, with
# certificates made by the built `tessera cert`), initialises a token through
# the CLI over the socket, and serves a SoftHSMv2 token with `p11-kit server`.
# Then, in the same run, it measures with bench/p11bench (one process per
# configuration, since each is chosen by the environment) and merges the
# RESULT lines into one table:
#
#   openssl-speed  `openssl speed -seconds S -multi 2 rsa2048 ecdsap256 ed25519`
#   openssl        raw OpenSSL through EVP in p11bench (its baseline)
#   embedded       libtessera-pkcs11.so in process (its own store)
#   unix           the module remote over the Unix socket, one connection per thread
#   unix-shared    the same with `connections = shared`
#   tls            the module remote over TLS 1.3 (mutual auth), per thread
#   p11kit-softhsm p11-kit-client.so -> `p11-kit server` -> SoftHSMv2
#
# throughput rows (RSA-2048, ECDSA P-256, Ed25519; 1 and 2 threads), latency
# rows (median / p99 of C_GenerateRandom(32) and of an ECDSA P-256 signature,
# one thread), and the daemon's RSS with CONNS idle connections that each sent
# a valid HELLO. Every process it starts is stopped on exit.
#
# Environment (all optional):
#   TIME=5           seconds per throughput row (p11bench --time)
#   SPEED_SECONDS=5  openssl speed -seconds
#   CALLS=5000       calls per latency figure
#   REPEAT=1         run every measurement REPEAT times (interleaved); the
#                    table shows the median, and the spread when REPEAT > 1
#   CONNS=1000       idle connections for the RSS figure (0: skip)
#   WORKERS=2        tesserad worker threads
#   ROWS=rsa,ec,ed   throughput rows (p11bench --rows; aes works too)
#   OUT_DIR=DIR      copy the report, the RESULT lines and the logs to DIR
#   KEEP=1           keep the temp dir
#
# Figures are reported against the targets of the remote-mode issue; nothing
# is asserted: the exit status is 0 when every configuration ran.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${1:-${BUILD_DIR:-build/release}}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
TIME=${TIME:-5}
SPEED_SECONDS=${SPEED_SECONDS:-5}
CALLS=${CALLS:-5000}
REPEAT=${REPEAT:-1}
CONNS=${CONNS:-1000}
WORKERS=${WORKERS:-2}
ROWS=${ROWS:-rsa,ec,ed}
PIN=123456
SO_PIN=12345678
TOKEN=p11bench

TESSERAD="$BUILD_DIR/src/daemon/tesserad"
TESSERA="$BUILD_DIR/src/cli/tessera"
MODULE="$BUILD_DIR/src/pkcs11/libtessera-pkcs11.so"
P11BENCH="$BUILD_DIR/bench/p11bench"
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}

log() { printf '[remote.sh] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

for f in "$TESSERAD" "$TESSERA" "$MODULE" "$P11BENCH"; do
    [ -e "$f" ] || die "$f not built (build $BUILD_DIR first)"
done
for t in openssl python3 p11-kit softhsm2-util; do
    command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh test)"
done
[ -f "$SOFTHSM" ] || die "SoftHSMv2 module not found: $SOFTHSM"
P11KIT_CLIENT=${P11KIT_CLIENT:-}
if [ -z "$P11KIT_CLIENT" ]; then
    for c in /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so /usr/lib/*/pkcs11/p11-kit-client.so \
        /usr/lib/pkcs11/p11-kit-client.so; do
        [ -f "$c" ] && { P11KIT_CLIENT=$c; break; }
    done
fi
[ -n "$P11KIT_CLIENT" ] || die "p11-kit-client.so not found (package p11-kit-modules)"

W=$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")
PIDS=()
cleanup() {
    local rc=$? pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${OUT_DIR:-}" ]; then
        mkdir -p "$OUT_DIR"
        cp "$W"/report.txt "$W"/results.txt "$W"/*.log "$OUT_DIR"/ 2>/dev/null || true
        cp -r "$W/raw" "$OUT_DIR"/ 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        log "kept $W"
    else
        rm -rf "$W"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/raw" "$W/home"
export TESSERA_HOME="$W/home"
unset TESSERA_URL TESSERA_CONF TESSERA_TLS_CERT TESSERA_TLS_KEY TESSERA_TLS_CA P11_KIT_SERVER_ADDRESS

# ---- certificates ------------------------------------------------------------------
# pick DIR NAME cert|key: the PEM file `tessera cert` wrote there (NAME.pem and
# NAME.key; any other *.pem / *.key as a fallback).
pick() {
    local f want=$1/$2.pem
    [ "$3" = key ] && want=$1/$2.key
    [ -f "$want" ] && { echo "$want"; return 0; }
    for f in "$1"/*; do
        case "$3:$(basename "$f")" in
        key:*.key | key:*key*.pem) echo "$f"; return 0 ;;
        cert:*key*) ;;
        cert:*.pem | cert:*.crt) echo "$f"; return 0 ;;
        esac
    done
    return 1
}
"$TESSERA" cert ca --out "$W/ca" >"$W/cert.log" 2>&1 &&
    "$TESSERA" cert server --ca "$W/ca" --out "$W/server" --name 127.0.0.1 >>"$W/cert.log" 2>&1 &&
    "$TESSERA" cert client --ca "$W/ca" --out "$W/client" --cn p11bench >>"$W/cert.log" 2>&1 ||
    { cat "$W/cert.log" >&2; die "tessera cert failed"; }
CA_CERT=$(pick "$W/ca" ca cert) || die "no CA certificate in $W/ca"
SRV_CERT=$(pick "$W/server" server cert) && SRV_KEY=$(pick "$W/server" server key) || die "no server pair in $W/server"
CLI_CERT=$(pick "$W/client" p11bench cert) && CLI_KEY=$(pick "$W/client" p11bench key) || die "no client pair in $W/client"

# ---- tesserad ------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SOCK="$W/tesserad.sock"
cat >"$W/tesserad.conf" <<EOF
store = $W/daemon.db
listen_unix = $SOCK
listen_tls = 127.0.0.1:$PORT
tls_cert = $SRV_CERT
tls_key = $SRV_KEY
tls_ca = $CA_CERT
workers = $WORKERS
log_level = warn
# Cheap PIN hashing: a benchmark logs in once per process.
pin_kdf_t_cost = 1
pin_kdf_m_cost = 1024
pin_kdf_lanes = 1
EOF
"$TESSERAD" --config "$W/tesserad.conf" >"$W/tesserad.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
for _ in $(seq 100); do
    [ -S "$SOCK" ] && break
    kill -0 "$DPID" 2>/dev/null || { cat "$W/tesserad.log" >&2; die "tesserad exited"; }
    sleep 0.1
done
[ -S "$SOCK" ] || { cat "$W/tesserad.log" >&2; die "tesserad did not create $SOCK"; }
# The TLS listener: looked for in the socket table (a probe connection would
# be logged by the daemon as a failed handshake).
for _ in $(seq 100); do
    if command -v ss >/dev/null; then
        [ -n "$(ss -Hltn "sport = :$PORT" 2>/dev/null)" ] && break
    else
        grep -qi ":$(printf '%04X' "$PORT") 00000000:0000 0A" /proc/net/tcp && break
    fi
    sleep 0.1
done

# Client-side module configurations (the remote module reads only its own keys).
printf 'log_level = warn\nconnections = per-thread\n' >"$W/client-pt.conf"
printf 'log_level = warn\nconnections = shared\n' >"$W/client-shared.conf"
cat >"$W/embedded.conf" <<EOF
store = $W/embedded.db
log_level = warn
pin_kdf_t_cost = 1
pin_kdf_m_cost = 1024
pin_kdf_lanes = 1
EOF

# The daemon's token, made through the CLI over the socket.
TESSERA_URL="unix://$SOCK" TESSERA_CONF="$W/client-pt.conf" \
    "$TESSERA" token init --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN" >"$W/token.log" 2>&1 ||
    { cat "$W/token.log" >&2; die "tessera token init over $SOCK failed"; }

# ---- p11-kit server over SoftHSMv2 ---------------------------------------------------
mkdir -p "$W/softhsm-tokens"
cat >"$W/softhsm2.conf" <<EOF
directories.tokendir = $W/softhsm-tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF="$W/softhsm2.conf"
softhsm2-util --init-token --free --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN" >"$W/softhsm.log" 2>&1 ||
    { cat "$W/softhsm.log" >&2; die "softhsm2-util --init-token failed"; }
P11SOCK="$W/p11kit.sock"
p11-kit server -f -s -n "$P11SOCK" --provider "$SOFTHSM" "pkcs11:token=$TOKEN" >"$W/p11kit.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do
    [ -S "$P11SOCK" ] && break
    sleep 0.1
done
[ -S "$P11SOCK" ] || { cat "$W/p11kit.log" >&2; die "p11-kit server did not start"; }
P11ADDR=$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' "$W/p11kit.log")
[ -n "$P11ADDR" ] || P11ADDR="unix:path=$P11SOCK"

# ---- runs --------------------------------------------------------------------------------
RES="$W/results.txt"
: >"$RES"
FAILED=0
# result RUN FILE: append FILE's RESULT lines, tagged with the run.
result() { sed -n "s/^RESULT /RESULT run=$1 /p" "$2" >>"$RES"; }

# bench RUN NAME ENV... -- P11BENCH-ARGS...: one p11bench process.
bench() {
    local run=$1 name=$2 out
    shift 2
    local envs=()
    while [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    out="$W/raw/$name.$run.txt"
    log "run $run: $name"
    if ! env "${envs[@]}" "$P11BENCH" --results "$@" >"$out" 2>&1; then
        log "  $name: p11bench reported a failure (see the table; $out)"
        grep -E '^p11bench:' "$out" | head -n 5 >&2 || true
        FAILED=1
    fi
    result "$run" "$out"
}

UNIX_ENV=(TESSERA_URL="unix://$SOCK" TESSERA_CONF="$W/client-pt.conf")
SHARED_ENV=(TESSERA_URL="unix://$SOCK" TESSERA_CONF="$W/client-shared.conf")
TLS_ENV=(TESSERA_URL="tls://127.0.0.1:$PORT" TESSERA_CONF="$W/client-pt.conf"
    TESSERA_TLS_CERT="$CLI_CERT" TESSERA_TLS_KEY="$CLI_KEY" TESSERA_TLS_CA="$CA_CERT")
EMB_ENV=(TESSERA_CONF="$W/embedded.conf")
P11KIT_ENV=(P11_KIT_SERVER_ADDRESS="$P11ADDR")
THREADS=1,2
TP=(--time "$TIME" --threads "$THREADS" --rows "$ROWS" --pin "$PIN" --so-pin "$SO_PIN" --token "$TOKEN")
LAT=(--latency --calls "$CALLS" --pin "$PIN" --so-pin "$SO_PIN" --token "$TOKEN")

speed_algs=()
case ",$ROWS," in *,rsa,*) speed_algs+=(rsa2048) ;; esac
case ",$ROWS," in *,ec,*) speed_algs+=(ecdsap256) ;; esac
case ",$ROWS," in *,ed,*) speed_algs+=(ed25519) ;; esac

speed() {
    local run=$1 out="$W/raw/openssl-speed.$1.txt"
    [ ${#speed_algs[@]} -gt 0 ] || return 0
    log "run $run: openssl speed -seconds $SPEED_SECONDS -multi 2 ${speed_algs[*]}"
    openssl speed -seconds "$SPEED_SECONDS" -multi 2 "${speed_algs[@]}" >"$out" 2>&1 ||
        { log "  openssl speed failed ($out)"; FAILED=1; }
    # The summary table after the children's "Got:" lines: sign/s is the
    # second-to-last field.
    awk -v run="$run" '
        /^rsa 2048 bits/        { printf "RESULT run=%s config=openssl-speed mode=ops row=rsa threads=2 ops=%s\n", run, $(NF-1) }
        /ecdsa \(nistp256\)/    { printf "RESULT run=%s config=openssl-speed mode=ops row=ec threads=2 ops=%s\n", run, $(NF-1) }
        /EdDSA \(Ed25519\)/     { printf "RESULT run=%s config=openssl-speed mode=ops row=ed threads=2 ops=%s\n", run, $(NF-1) }
    ' "$out" >>"$RES"
}

# ---- the daemon's RSS with idle connections ---------------------------------------------
TPROTO_VERSION=$(sed -n 's/^#define TPROTO_VERSION \([0-9]*\).*/\1/p' "$ROOT/src/proto/tproto.h")
idle_rss() {
    log "daemon RSS with $CONNS idle connections"
    python3 - "$SOCK" "$DPID" "$CONNS" "${TPROTO_VERSION:-1}" >"$W/raw/idle.txt" 2>"$W/idle.log" <<'PY' ||
import ctypes, os, resource, socket, struct, sys, time

path, pid, n, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft != resource.RLIM_INFINITY and soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64 if hard == resource.RLIM_INFINITY else min(n + 64, hard), hard))

def rss_kib():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for pid %d" % pid)

def read_exact(s, k):
    b = b""
    while len(b) < k:
        chunk = s.recv(k - len(b))
        if not chunk:
            raise OSError("connection closed by the daemon")
        b += chunk
    return b

# HELLO (src/proto/hello.c): u8 min_version, u8 max_version, u8 ulong_size,
# u8 big_endian, app_id[16] (zero: an application of this connection alone);
# in a frame: u32 length, u8 version, u8 kind (0 request), u16 op (1), u32 id.
body = struct.pack(">BBBB", version, version, ctypes.sizeof(ctypes.c_ulong),
                   1 if sys.byteorder == "big" else 0) + bytes(16)
time.sleep(1)
before = rss_kib()
conns, refused = [], 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(struct.pack(">IBBHI", 8 + len(body), version, 0, 1, i + 1) + body)
    hdr = read_exact(s, 12)
    length = struct.unpack(">I", hdr[:4])[0]
    reply = read_exact(s, length - 8)
    rv = struct.unpack(">Q", reply[:8])[0]
    if rv != 0:
        refused += 1
    conns.append(s)
time.sleep(2)
after = rss_kib()
print("RESULT config=tesserad mode=rss conns=%d refused=%d before_kib=%d after_kib=%d delta_kib=%d"
      % (len(conns), refused, before, after, after - before))
for s in conns:
    s.close()
PY
        { log "  idle-connection helper failed:"; cat "$W/idle.log" >&2; FAILED=1; }
    sed -n 's/^RESULT /RESULT run=1 /p' "$W/raw/idle.txt" >>"$RES"
}

# ---- the whole run -------------------------------------------------------------------------
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$CONNS" -gt 0 ] && idle_rss
for run in $(seq "$REPEAT"); do
    bench "$run" embedded "${EMB_ENV[@]}" -- "${TP[@]}" --module "embedded=$MODULE"
    speed "$run"
    bench "$run" unix "${UNIX_ENV[@]}" -- "${TP[@]}" --no-openssl --module "unix=$MODULE"
    bench "$run" unix-shared "${SHARED_ENV[@]}" -- "${TP[@]}" --no-openssl --module "unix-shared=$MODULE"
    bench "$run" tls "${TLS_ENV[@]}" -- "${TP[@]}" --no-openssl --module "tls=$MODULE"
    bench "$run" p11kit-softhsm "${P11KIT_ENV[@]}" -- "${TP[@]}" --no-openssl --module "p11kit-softhsm=$P11KIT_CLIENT"
    bench "$run" lat-embedded "${EMB_ENV[@]}" -- "${LAT[@]}" --module "embedded=$MODULE"
    bench "$run" lat-unix "${UNIX_ENV[@]}" -- "${LAT[@]}" --no-openssl --module "unix=$MODULE"
    bench "$run" lat-tls "${TLS_ENV[@]}" -- "${LAT[@]}" --no-openssl --module "tls=$MODULE"
    bench "$run" lat-p11kit "${P11KIT_ENV[@]}" -- "${LAT[@]}" --no-openssl --module "p11kit-softhsm=$P11KIT_CLIENT"
done
END_RSS=$(awk '/^VmRSS:/ {print $2}' "/proc/$DPID/status" 2>/dev/null || echo "?")
END_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ------------------------------------------------------------------------------
{
    echo "Tessera remote benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) ($BUILD_DIR)"
    echo "openssl: $(openssl version | cut -d' ' -f1-2); p11-kit $(dpkg-query -W -f='${Version}' p11-kit 2>/dev/null); softhsm2 $(softhsm2-util --version 2>/dev/null)"
    echo "settings: TIME=$TIME s per row, SPEED_SECONDS=$SPEED_SECONDS, CALLS=$CALLS, REPEAT=$REPEAT, WORKERS=$WORKERS"
    echo "load average: $START_LOAD at start, $END_LOAD at end; tesserad RSS after the runs: ${END_RSS} KiB"
    python3 - "$RES" "$REPEAT" <<'PY'
import collections, statistics, sys

res, repeat = sys.argv[1], int(sys.argv[2])
vals = collections.defaultdict(list)   # (config, mode, row, threads, field) -> [values]
errs = collections.defaultdict(set)
digest_outside = set()  # configurations signing with CKM_ECDSA over a digest made by p11bench
for line in open(res):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    key = (kv["config"], kv["mode"], kv.get("row", ""), kv.get("threads", ""))
    if kv.get("mech") == "CKM_ECDSA":
        digest_outside.add(kv["config"])
    if "error" in kv:
        errs[key].add(kv["error"])
        continue
    for f in ("ops", "median_us", "p99_us", "mean_us", "before_kib", "after_kib", "delta_kib", "conns", "refused"):
        if f in kv:
            vals[key + (f,)].append(float(kv[f]))

def get(config, mode, row, threads, field="ops"):
    v = vals.get((config, mode, row, str(threads) if threads else "", field))
    return statistics.median(v) if v else None

def spread(config, mode, row, threads, field):
    v = vals.get((config, mode, row, str(threads) if threads else "", field))
    if not v or len(v) < 2 or statistics.median(v) == 0:
        return ""
    return " ±%.0f%%" % (50.0 * (max(v) - min(v)) / statistics.median(v))

def cell(config, mode, row, threads, field="ops", width=14):
    v = get(config, mode, row, threads, field)
    if v is None:
        e = errs.get((config, mode, row, str(threads) if threads else ""))
        s = ("ERR " + ",".join(sorted(e))) if e else "-"
    else:
        s = ("%.0f" % v if field == "ops" else "%.1f" % v) + spread(config, mode, row, threads, field)
        if row == "ec" and config in digest_outside:
            s = "*" + s
    return s.rjust(width)

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def fr(x):
    return "-" if x is None else "%.2fx" % x

rows = [r for r in ("rsa", "ec", "ed", "aes") if any(k[2] == r and k[1] == "ops" for k in list(vals) + list(errs))]
names = {"rsa": "RSA-2048 sign", "ec": "ECDSA P-256 sign", "ed": "Ed25519 sign", "aes": "AES-256-GCM 4 KiB"}
cfgs = ["openssl-speed", "openssl", "embedded", "unix", "unix-shared", "tls", "p11kit-softhsm"]
heads = ["speed -multi 2", "raw EVP", "embedded", "unix", "unix-shared", "tls", "p11kit+softhsm"]
print()
print("Throughput, signatures/s (median of %d run%s%s)" % (repeat, "s" if repeat > 1 else "",
      "; ±: half the range, in % of the median" if repeat > 1 else ""))
print("%-18s %3s " % ("operation", "thr") + " ".join(h.rjust(14) for h in heads))
for r in rows:
    for t in (1, 2):
        print("%-18s %3d " % (names[r], t) + " ".join(
            cell(c, "ops", r, t) if (c != "openssl-speed" or t == 2) else "".rjust(14) for c in cfgs))

for c in sorted(digest_outside):
    print("* %s has no CKM_ECDSA_SHA256: CKM_ECDSA over a SHA-256 digest made by p11bench" % c)
print("openssl speed signs a prepared digest (ECDSA) or a short message with a key set up once; p11bench's")
print("raw EVP row hashes 256 bytes and sets up a signing context per signature, as a PKCS#11 module does.")

print()
print("Ratios: 1 thread vs raw EVP (one thread, same process), 2 threads vs openssl speed -multi 2")
rh = ["embedded", "unix", "unix-shared", "tls", "tls/unix", "unix/p11kit"]
print("%-18s %3s " % ("operation", "thr") + " ".join(h.rjust(12) for h in rh))
for r in rows:
    for t in (1, 2):
        ref = get("openssl-speed" if t == 2 else "openssl", "ops", r, t)
        g = {c: get(c, "ops", r, t) for c in cfgs}
        cols = [ratio(g["embedded"], ref), ratio(g["unix"], ref), ratio(g["unix-shared"], ref), ratio(g["tls"], ref),
                ratio(g["tls"], g["unix"]), ratio(g["unix"], g["p11kit-softhsm"])]
        print("%-18s %3d " % (names[r], t) + " ".join(fr(x).rjust(12) for x in cols))

print()
print("Latency, one thread, microseconds per call: median / p99 (median of runs)")
lat_cfgs = ["openssl", "embedded", "unix", "tls", "p11kit-softhsm"]
print("%-34s " % "call" + " ".join(c.rjust(16) for c in lat_cfgs))
lat_rows = [("random", "C_GenerateRandom 32 bytes"), ("ecdsa", "ECDSA P-256 sign (init+sign)")]
for lr, ln in lat_rows:
    out = []
    for c in lat_cfgs:
        m, p = get(c, "latency", lr, "", "median_us"), get(c, "latency", lr, "", "p99_us")
        out.append(("-" if m is None else "%.1f / %.1f" % (m, p)).rjust(16))
    print("%-34s " % ln + " ".join(out))
print("added median latency vs embedded (remote median - embedded median):")
for lr, ln in lat_rows:
    e = get("embedded", "latency", lr, "", "median_us")
    parts = []
    for c in ("unix", "tls", "p11kit-softhsm"):
        v = get(c, "latency", lr, "", "median_us")
        parts.append("%s %s" % (c, "-" if v is None or e is None else "%+.1f us" % (v - e)))
    print("  %-32s %s" % (ln, ", ".join(parts)))

rss = {f: get("tesserad", "rss", "", "", f) for f in ("conns", "refused", "before_kib", "after_kib", "delta_kib")}
if rss["after_kib"] is not None:
    print()
    print("tesserad RSS with %d idle connections (HELLO sent, %d refused): %.1f MiB (%.1f MiB before, +%.1f MiB, %.1f KiB per connection)"
          % (rss["conns"], rss["refused"], rss["after_kib"] / 1024, rss["before_kib"] / 1024, rss["delta_kib"] / 1024,
             rss["delta_kib"] / max(rss["conns"], 1)))

print()
print("Targets (reported, not asserted):")
def target(what, value, ok):
    print("  %-68s %-22s %s" % (what, value, "-" if ok is None else ("met" if ok else "MISSED")))
for lr, ln in lat_rows:
    e, u = get("embedded", "latency", lr, "", "median_us"), get("unix", "latency", lr, "", "median_us")
    d = None if e is None or u is None else u - e
    target("added median latency, unix, %s <= 30 us" % lr, "-" if d is None else "%+.1f us" % d,
           None if d is None else d <= 30)
for r, lim in (("rsa", 0.9), ("ec", 0.8), ("ed", 0.8)):
    if r not in rows:
        continue
    x = ratio(get("unix", "ops", r, 2), get("openssl-speed", "ops", r, 2))
    target("%s, 2 threads, unix >= %.1fx openssl speed -multi 2" % (names[r], lim), fr(x), None if x is None else x >= lim)
for r in rows:
    for t in (1, 2):
        x = ratio(get("unix", "ops", r, t), get("p11kit-softhsm", "ops", r, t))
        target("%s, %d thread(s), unix ahead of p11-kit+SoftHSM" % (names[r], t), fr(x), None if x is None else x > 1)
if "rsa" in rows:
    for t in (1, 2):
        x = ratio(get("tls", "ops", "rsa", t), get("unix", "ops", "rsa", t))
        target("RSA-2048, %d thread(s), TLS within 15%% of unix" % t, fr(x), None if x is None else x >= 0.85)
if rss["after_kib"] is not None:
    target("tesserad RSS with %d idle connections < 100 MiB" % rss["conns"], "%.1f MiB" % (rss["after_kib"] / 1024),
           rss["after_kib"] < 100 * 1024 and rss["refused"] == 0)
PY
} >"$W/report.txt"
cat "$W/report.txt"
[ "$FAILED" = 0 ] || log "some configuration failed; see above (KEEP=1 keeps $W)"
exit "$FAILED"
