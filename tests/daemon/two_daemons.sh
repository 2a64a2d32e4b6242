#!/usr/bin/env bash
# Acceptance 7, first half: one store, one daemon. A second tesserad on the
# store of a running one exits 1 with "in use by another tesserad" — with a
# socket of its own, and with the same configuration (the same socket
# path, which it must leave alone) — while the first keeps serving
# throughout: a client connected before keeps its session, new clients
# connect. Once the first has stopped, a daemon on the store starts.
T_NAME=two_daemons
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"
d_need_binaries

d_write_conf "$T_TMP/a.conf" "$T_TMP/shared.db" "$T_TMP/a.sock"
d_start a
d_wait_ready a "unix://$T_TMP/a.sock"
d_url_env "unix://$T_TMP/a.sock"
t_check "token init on the first daemon" "$D_CLI" token init --label one --so-pin "$T_SO_PIN" --pin "$T_PIN"

# A client of the first daemon, connected before the second one starts.
"$D_PY" - "$D_DIR" "unix://$T_TMP/a.sock" "$T_TMP/held" >"$T_TMP/held.out" 2>&1 <<'PY' &
import os, sys, time
sys.path.insert(0, sys.argv[1])
import tproto
c = tproto.Conn(sys.argv[2])
assert c.hello()[0] == 0
rv, slots = c.slot_list()
open(sys.argv[3] + ".ready", "w").close()
while not os.path.exists(sys.argv[3] + ".go"):
    time.sleep(0.05)
rv2, label, _, _ = c.token_info(slots[0])
print("held connection: token info rv 0x%x label %s" % (rv2, label), flush=True)
sys.exit(0 if rv == 0 and rv2 == 0 else 1)
PY
held=$!
for _ in $(seq 1 300); do [ -e "$T_TMP/held.ready" ] && break; sleep 0.1; done
[ -e "$T_TMP/held.ready" ] || { cat "$T_TMP/held.out" >&2; t_fail "the held client did not connect"; }

# second NAME SOCKET: a second daemon on the store must exit 1.
second() {
    local name=$1 sock=$2
    d_write_conf "$T_TMP/$name.conf" "$T_TMP/shared.db" "$sock"
    d_start "$name"
    d_wait_exit "$name" 60
    [ "$D_RC" = 1 ] || { cat "$T_TMP/$name.log" >&2; t_fail "second daemon ($name) exited with $D_RC (want 1)"; }
    t_grep "second daemon ($name) says the store is in use" "in use by another tesserad" "$T_TMP/$name.log"
    kill -0 "${D_PID[a]}" || t_fail "the first daemon died when $name started"
    t_check "the first daemon still answers a new client after $name" d_probe "unix://$T_TMP/a.sock"
}
second b "$T_TMP/b.sock"
[ ! -e "$T_TMP/b.sock" ] || t_fail "the refused daemon left a socket behind"
second c "$T_TMP/a.sock"
[ -S "$T_TMP/a.sock" ] || t_fail "the refused daemon removed the first daemon's socket"

touch "$T_TMP/held.go"
wait "$held" || { cat "$T_TMP/held.out" >&2; t_fail "the client connected before the second daemons lost its connection"; }
t_grep "the held connection still serves" "rv 0x0 label one" "$T_TMP/held.out"
t_check "the CLI through the first daemon" "$D_CLI" token list
t_grep "the token is there" "one" "$T_TMP/last.out"

d_stop a
d_start b
d_wait_ready b "unix://$T_TMP/b.sock"
d_url_env "unix://$T_TMP/b.sock"
t_check "once the first stopped, a daemon on the store starts and serves it" "$D_CLI" token list
t_grep "with the token the first one made" "one" "$T_TMP/last.out"
d_stop b
exit 0
