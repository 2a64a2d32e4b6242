#!/usr/bin/env bash
# tests/remote/run.sh MODE CMD [ARGS...]: run CMD against a tesserad, as
# the integration scripts' remote mode does (MODE unix or tls): the daemon
# is started on a fresh store, TESSERA_URL (and for tls the TESSERA_TLS_*
# client certificate) exported, CMD run, the daemon stopped with SIGTERM.
# The status is CMD's, or 1 when the daemon did not exit with 0.
#
# For the unit tests that run the PKCS#11 module's code in process
# (test_wycheproof, test_p11_concurrency): they write a TESSERA_CONF with a
# store of their own, which the module ignores once TESSERA_URL is set; the
# daemon's store is the one they use.
[ $# -ge 2 ] || { echo "usage: $0 unix|tls CMD [ARGS...]" >&2; exit 2; }
export TESSERA_TEST_REMOTE=$1
shift
T_NAME="remote-$TESSERA_TEST_REMOTE/$(basename "$1")"
T_ONLY_TESSERA=1
. "$(dirname "$0")/../integration/lib.sh"

rc=0
"$@" || rc=$?
[ $rc -eq 0 ] || t_fail "$* exited with status $rc"
# The daemon served the command: it logged a connection.
[ "$(d_count remote 'event=conn_open')" -gt 1 ] ||
    t_fail "the daemon's log shows no connection besides the readiness probe"
exit 0
