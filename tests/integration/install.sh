#!/usr/bin/env bash
# `cmake --install` of this build into a temporary prefix: every file lands
# where README's "Installing" says and nothing outside the prefix; the
# installed programs run; the p11-kit module file names the installed
# module; the systemd unit starts the installed daemon with its hardening;
# the default configurations list every key and parse; the manual pages
# render without a warning; an edited configuration survives a second
# install; a packaging install (DESTDIR, prefix /usr) puts the
# configuration in /etc. Then p11-kit, given the installed module file as a
# user module configuration, loads the installed module and lists the token
# the installed CLI made.
T_NAME=install
T_ONLY_TESSERA=1
. "$(dirname "$0")/lib.sh"

command -v p11-kit >/dev/null || t_fail "p11-kit is not installed (scripts/deps.sh installs it)"
command -v groff >/dev/null || t_fail "groff is not installed (scripts/deps.sh installs groff-base)"
command -v cmake >/dev/null || t_fail "cmake is not installed"

dirs="$TESSERA_BUILD_DIR/install_dirs.sh"
[ -f "$dirs" ] || t_fail "$dirs missing: the build was configured without cmake/install.cmake"
. "$dirs"
# An absolute folder would be installed outside the temporary prefix, into
# the system this test runs on: refuse rather than write there.
for d in "$TESSERA_INSTALL_BINDIR" "$TESSERA_INSTALL_SBINDIR" "$TESSERA_INSTALL_LIBDIR" \
    "$TESSERA_INSTALL_DATADIR" "$TESSERA_INSTALL_SYSCONFDIR" "$TESSERA_INSTALL_MANDIR" \
    "$TESSERA_INSTALL_UNITDIR"; do
    case "$d" in
        /*) t_fail "install folder $d is absolute in this build; the test installs under a temporary prefix only" ;;
        "") t_fail "an install folder is empty in $dirs" ;;
    esac
done

# The prefix must be reachable by the unprivileged user p11-kit runs as
# below (T_TMP is 0700): traverse-only on T_TMP, the prefix readable.
chmod 0711 "$T_TMP"
P="$T_TMP/prefix"
t_check "cmake --install into a temporary prefix" cmake --install "$TESSERA_BUILD_DIR" --prefix "$P"
cp "$T_TMP/last.out" "$T_TMP/install.out"
chmod -R a+rX "$P"

# ---- where everything is ------------------------------------------------------
bin="$P/$TESSERA_INSTALL_BINDIR" sbin="$P/$TESSERA_INSTALL_SBINDIR"
module="$P/$TESSERA_INSTALL_LIBDIR/pkcs11/libtessera-pkcs11.so"
modfile="$P/$TESSERA_INSTALL_DATADIR/p11-kit/modules/tessera.module"
unit="$P/$TESSERA_INSTALL_UNITDIR/tesserad.service"
etc="$P/$TESSERA_INSTALL_SYSCONFDIR/tessera"
man="$P/$TESSERA_INSTALL_MANDIR"

for exe in "$bin/tessera" "$bin/tessera-tpm" "$sbin/tesserad"; do
    [ -f "$exe" ] && [ -x "$exe" ] || t_fail "not installed, or not executable: $exe"
    t_log "ok: installed $exe"
done
[ -f "$module" ] || t_fail "module not installed at $module"
t_log "ok: installed $module"
for f in "$modfile" "$unit" "$etc/tesserad.conf" "$etc/tessera.conf" \
    "$man/man1/tessera.1" "$man/man5/tessera.conf.5" "$man/man8/tesserad.8"; do
    [ -f "$f" ] || t_fail "not installed: $f"
    t_log "ok: installed $f"
done

# Every file cmake installed is under the prefix.
manifest="$TESSERA_BUILD_DIR/install_manifest.txt"
[ -s "$manifest" ] || t_fail "no install manifest in the build folder"
if grep -v "^$P/" "$manifest" >"$T_TMP/outside.txt"; then
    cat "$T_TMP/outside.txt" >&2
    t_fail "files installed outside the prefix $P"
fi
t_log "ok: all $(grep -c '' "$manifest") installed files are under the prefix"

# ---- the programs run ---------------------------------------------------------
t_check "installed tessera runs" "$bin/tessera" --help
t_grep "tessera prints its usage" "tessera token init" "$T_TMP/last.out"
t_check "installed tesserad runs" "$sbin/tesserad" --version
t_grep "tesserad prints its version" "[0-9]+\.[0-9]+\.[0-9]+" "$T_TMP/last.out"
t_check "installed tessera-tpm runs" "$bin/tessera-tpm" --help

# ---- the p11-kit module file --------------------------------------------------
grep -Ev '^[[:space:]]*(#|$)' "$modfile" >"$T_TMP/modfile.keys"
path=$(sed -n 's/^module:[[:space:]]*//p' "$T_TMP/modfile.keys")
[ "$path" = "$module" ] || t_fail "tessera.module names \"$path\", not the installed module $module"
t_log "ok: tessera.module names the installed module"
if grep -Eq '^critical:' "$T_TMP/modfile.keys"; then
    t_fail "tessera.module marks the module critical"
fi
t_log "ok: tessera.module does not mark the module critical"

# ---- the systemd unit ---------------------------------------------------------
t_grep "unit starts the installed daemon with the installed configuration" \
    "^ExecStart=$sbin/tesserad --config $etc/tesserad.conf\$" "$unit"
for kv in 'Type=simple' 'ExecReload=/bin/kill -HUP \$MAINPID' 'User=tessera' 'Group=tessera' \
    'DynamicUser=no' 'StateDirectory=tessera' 'RuntimeDirectory=tessera' 'UMask=0077' \
    'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
    'PrivateDevices=yes' 'MemoryDenyWriteExecute=yes' 'CapabilityBoundingSet=' \
    'AmbientCapabilities=' 'SystemCallFilter=@system-service' \
    'SystemCallFilter=~@privileged @resources' 'SystemCallArchitectures=native' \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'LimitCORE=0' 'LimitMEMLOCK=128M' \
    'LimitNOFILE=65536' 'RestrictNamespaces=yes' 'RestrictRealtime=yes' 'LockPersonality=yes' \
    'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' 'ProtectKernelLogs=yes' \
    'ProtectControlGroups=yes' 'ProtectClock=yes' 'ProtectHostname=yes' 'Restart=on-failure'; do
    grep -Eq "^$kv\$" "$unit" || t_fail "unit lacks the line $kv"
done
t_log "ok: unit has every hardening line"
# A later line that clears a setting would undo it (an empty
# CapabilityBoundingSet= is meant; NoNewPrivileges=no is not).
for key in NoNewPrivileges ProtectSystem ProtectHome PrivateTmp PrivateDevices \
    MemoryDenyWriteExecute RestrictNamespaces LimitCORE; do
    n=$(grep -c "^$key=" "$unit" || true)
    [ "$n" -eq 1 ] || t_fail "unit sets $key $n times"
done
if command -v systemd-analyze >/dev/null; then
    # --man=no: the pages are under the temporary prefix, not in man's path.
    t_check "systemd-analyze verify accepts the unit" systemd-analyze verify --man=no "$unit"
    if grep -q . "$T_TMP/last.out"; then
        cat "$T_TMP/last.out" >&2
        t_fail "systemd-analyze verify warns about the unit"
    fi
else
    t_log "systemd-analyze not installed: the unit is checked by the lines above only"
fi

# ---- the default configurations -----------------------------------------------
daemon_keys="store anchor_file legacy_algorithms pin_kdf_t_cost pin_kdf_m_cost pin_kdf_lanes
    listen_unix unix_mode unix_group listen_tls tls_cert tls_key tls_ca workers max_connections
    max_sessions max_inflight idle_timeout read_timeout handshake_timeout log_level log_format
    log_target user pid_file secure_heap_mib"
client_keys="url tls_cert tls_key tls_ca tls_server_name connections timeout store log_level
    log_file anchor_file legacy_algorithms pin_kdf_t_cost pin_kdf_m_cost pin_kdf_lanes"
for k in $daemon_keys; do
    grep -Eq "^#$k =" "$etc/tesserad.conf" || t_fail "tesserad.conf does not list $k"
    grep -Eq "(^|[^_a-z])$k([^_a-z]|\$)" "$man/man5/tessera.conf.5" || t_fail "tessera.conf(5) does not describe $k"
done
t_log "ok: tesserad.conf lists every daemon key, tessera.conf(5) describes them"
for k in $client_keys; do
    grep -Eq "^#$k =" "$etc/tessera.conf" || t_fail "tessera.conf does not list $k"
    grep -Eq "(^|[^_a-z])$k([^_a-z]|\$)" "$man/man5/tessera.conf.5" || t_fail "tessera.conf(5) does not describe $k"
done
t_log "ok: tessera.conf lists every client key, tessera.conf(5) describes them"
# Every setting is commented out: the files change nothing until edited.
for f in "$etc/tesserad.conf" "$etc/tessera.conf"; do
    if grep -Ev '^[[:space:]]*(#|$)' "$f" >"$T_TMP/active.txt"; then
        cat "$T_TMP/active.txt" >&2
        t_fail "$(basename "$f") sets keys: its defaults are meant to be commented out"
    fi
done
t_log "ok: the shipped configurations only comment"

# ---- the manual pages ---------------------------------------------------------
for page in man1/tessera.1 man5/tessera.conf.5 man8/tesserad.8; do
    if ! groff -man -Tutf8 -ww -z "$man/$page" >"$T_TMP/groff.out" 2>&1 || [ -s "$T_TMP/groff.out" ]; then
        cat "$T_TMP/groff.out" >&2
        t_fail "groff warns about $page"
    fi
    if command -v man >/dev/null; then
        if ! LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$man/$page" >"$T_TMP/man.txt" 2>"$T_TMP/man.err" ||
            [ -s "$T_TMP/man.err" ]; then
            cat "$T_TMP/man.err" >&2
            t_fail "man -l warns about $page"
        fi
        [ "$(wc -l <"$T_TMP/man.txt")" -gt 40 ] || t_fail "$page renders to almost nothing"
    fi
    t_log "ok: $page renders without warnings"
done

# ---- a second install keeps an edited configuration -----------------------------
printf 'workers = 3\n' >>"$etc/tesserad.conf"
cp "$etc/tesserad.conf" "$T_TMP/edited.conf"
t_check "second cmake --install" cmake --install "$TESSERA_BUILD_DIR" --prefix "$P"
cmp -s "$etc/tesserad.conf" "$T_TMP/edited.conf" || t_fail "a second install replaced the edited tesserad.conf"
cmp -s "$etc/tesserad.conf.default" "$TESSERA_SRC_DIR/dist/tesserad.conf" ||
    t_fail "a second install did not put the shipped defaults in tesserad.conf.default"
t_log "ok: an edited tesserad.conf survives a second install, defaults beside it"

# ---- a packaging install: DESTDIR, prefix /usr ----------------------------------
stage="$T_TMP/stage"
t_check "cmake --install with DESTDIR and prefix /usr" \
    env DESTDIR="$stage" cmake --install "$TESSERA_BUILD_DIR" --prefix /usr
# The manifest names the final paths (without DESTDIR); each must be in the stage.
while IFS= read -r f || [ -n "$f" ]; do
    [ -f "$stage$f" ] || t_fail "installed $f, but not under DESTDIR $stage"
done <"$manifest"
t_log "ok: all $(grep -c '' "$manifest") files are under DESTDIR"
[ -f "$stage/etc/tessera/tesserad.conf" ] || t_fail "prefix /usr: tesserad.conf not in /etc/tessera"
[ -f "$stage/usr/lib/systemd/system/tesserad.service" ] || t_fail "prefix /usr: unit not in /usr/lib/systemd/system"
t_grep "prefix /usr: the unit runs /usr/sbin/tesserad with /etc/tessera/tesserad.conf" \
    "^ExecStart=/usr/$TESSERA_INSTALL_SBINDIR/tesserad --config /etc/tessera/tesserad.conf\$" \
    "$stage/usr/lib/systemd/system/tesserad.service"
t_grep "prefix /usr: tessera.module names the module without DESTDIR" \
    "^module: /usr/$TESSERA_INSTALL_LIBDIR/pkcs11/libtessera-pkcs11.so\$" \
    "$stage/usr/$TESSERA_INSTALL_DATADIR/p11-kit/modules/tessera.module"

# ---- p11-kit loads the installed module ---------------------------------------------
# p11-kit reads user module configurations from ~/.config/pkcs11/modules
# (pkcs11.conf(5)) but never for root, so as root the listing runs as
# nobody.
home="$T_TMP/p11home"
mkdir -p "$home/.config/pkcs11/modules"
cp "$modfile" "$home/.config/pkcs11/modules/tessera.module"
# user-config: only — p11-kit loads the user's modules and not the
# machine's, which are not under test.
printf 'user-config: only\n' >"$home/.config/pkcs11/pkcs11.conf"
cat >"$home/tessera.conf" <<EOF
store = $home/store/tessera.db
log_file = $home/tessera.log
pin_kdf_t_cost = 1
pin_kdf_m_cost = 1024
pin_kdf_lanes = 1
EOF
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null || t_fail "setpriv (util-linux) is needed to run p11-kit as nobody"
    chown -R 65534:65534 "$home"
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
user_env=(HOME="$home" XDG_CONFIG_HOME="$home/.config" TESSERA_CONF="$home/tessera.conf"
    TESSERA_HOME="$home/store")
# Keep the module's log for t_finish's report.
ln -sf "$home/tessera.log" "$T_TMP/tessera.log"

t_check "installed tessera makes a token" "${as_user[@]}" env "${user_env[@]}" \
    "$bin/tessera" token init --label insttok --so-pin "$T_SO_PIN" --pin "$T_PIN"

# kit_tokens NAME ENV...: p11-kit, configured by the user's module files
# only, loads the installed module (ENV added to the user's environment);
# the labels of the tokens it shows go to $T_TMP/NAME.tokens, one a line.
# `p11-kit list-modules` names the module and prints C_GetInfo's strings.
# In a sanitized build the p11-kit program itself cannot run: with the ASan
# runtime preloaded it deadlocks on glibc's locale lock, with or without a
# module of ours. There the same library, libp11-kit, with the same module
# file, is driven through its proxy module by pkcs11-tool, and C_GetInfo is
# read from the installed module by pkcs11-tool.
kit_tokens() {
    local name=$1 out="$T_TMP/$1.kit"
    shift
    if [ -z "${TESSERA_ASAN_LIB:-}" ]; then
        t_check "p11-kit list-modules ($name)" "${as_user[@]}" env "${user_env[@]}" "$@" \
            p11-kit list-modules
        cp "$T_TMP/last.out" "$out"
        if grep -Eqi "tessera.*(fail|skipping)" "$out"; then
            cat "$out" >&2
            t_fail "p11-kit reports a failure of the tessera module"
        fi
        # The block of the module named "tessera": from its line to the next module.
        awk '/^[^ \t]/ { on = ($1 == "tessera:") } on' "$out" >"$out.block"
        [ -s "$out.block" ] || { cat "$out" >&2; t_fail "p11-kit does not list a module named tessera"; }
        t_grep "p11-kit lists the module tessera at the installed path" "^tessera: $module\$" "$out.block"
        t_grep "p11-kit shows C_GetInfo's library description" \
            "^ +library-description: Tessera PKCS#11 module\$" "$out.block"
        t_grep "p11-kit shows C_GetInfo's manufacturer" "^ +library-manufacturer: Tessera\$" "$out.block"
        sed -En 's/^ +token: //p' "$out.block" >"$T_TMP/$name.tokens"
    else
        local proxy
        proxy=$(pkg-config --variable=proxy_module p11-kit-1)
        [ -f "$proxy" ] || t_fail "p11-kit's proxy module not found ($proxy)"
        t_check "p11-kit's proxy module lists the slots ($name)" "${as_user[@]}" \
            env "${T_PRELOAD_ENV[@]}" "${user_env[@]}" "$@" pkcs11-tool --module "$proxy" -L
        cp "$T_TMP/last.out" "$out"
        t_grep "p11-kit's proxy loads the installed module" "^Slot [0-9]+ .*: Tessera slot " "$out"
        t_check "pkcs11-tool -I on the installed module ($name)" "${as_user[@]}" \
            env "${T_PRELOAD_ENV[@]}" "${user_env[@]}" "$@" pkcs11-tool --module "$module" -I
        t_grep "C_GetInfo's manufacturer" "^Manufacturer +Tessera\$" "$T_TMP/last.out"
        t_grep "C_GetInfo's library description" "^Library +Tessera PKCS#11 module" "$T_TMP/last.out"
        sed -En 's/^ +token label +: //p' "$out" >"$T_TMP/$name.tokens"
    fi
}

kit_tokens embedded
grep -qx insttok "$T_TMP/embedded.tokens" ||
    { cat "$T_TMP/embedded.kit" >&2; t_fail "p11-kit does not show the token the installed CLI made"; }
t_log "ok: p11-kit shows the token the installed CLI made"

# ---- the same module file, pointed at the installed daemon -----------------------------
# The installed tesserad on a store of its own (as the same user); the
# installed CLI makes a token through it with --url, and p11-kit, given
# TESSERA_URL, lists that token and not the embedded store's.
mkdir -p "$home/dstore"
[ "$(id -u)" -ne 0 ] || chown -R 65534:65534 "$home"
D_TESSERAD="$sbin/tesserad"
if [ ${#as_user[@]} -gt 0 ]; then
    D_TESSERAD="$T_TMP/tesserad-as-user"
    printf '#!/bin/sh\nexec %s "%s" "$@"\n' "${as_user[*]}" "$sbin/tesserad" >"$D_TESSERAD"
    chmod 0755 "$D_TESSERAD"
fi
d_write_conf "$T_TMP/inst.conf" "$home/dstore/tessera.db" "$home/d.sock"
url="unix://$home/d.sock"
d_start inst
d_wait_ready inst "$url"
t_log "ok: the installed tesserad serves $url"
t_check "installed tessera makes a token through the daemon (--url)" "${as_user[@]}" \
    env "${user_env[@]}" "$bin/tessera" --url "$url" token init --label remotetok \
    --so-pin "$T_SO_PIN" --pin "$T_PIN"
kit_tokens remote TESSERA_URL="$url"
grep -qx remotetok "$T_TMP/remote.tokens" ||
    { cat "$T_TMP/remote.kit" >&2; t_fail "p11-kit does not show the daemon's token through the installed module"; }
t_log "ok: p11-kit shows the daemon's token through the installed module"
if grep -qx insttok "$T_TMP/remote.tokens"; then
    cat "$T_TMP/remote.kit" >&2
    t_fail "with TESSERA_URL set, the module still showed the embedded store's token"
fi
t_log "ok: with TESSERA_URL the module shows the daemon's tokens only"
d_stop inst
exit 0
