#!/bin/bash
# The cache of derived RSA primaries never changes what CreatePrimary
# returns: a repeated template (served from the cache) gives the key a fresh
# process derives; after ChangeEPS, ChangePPS or Clear the old key is not
# served again, and a new template is not confused with a cached one.
source "$(dirname "$0")/common.bash"
start_tpm
tpm2_startup -c || fail startup

pub_of() { # FILE: the RSA modulus of a public area, hex
    tpm2_print -t TPM2B_PUBLIC "$1" | awk '/^rsa:/ {print $2}'
}

tpm2_createprimary -C o -G rsa2048 -c a.ctx -Q && tpm2_readpublic -c a.ctx -o a1.pub -Q || fail "createprimary 1"
tpm2_flushcontext -t
tpm2_createprimary -C o -G rsa2048 -c a.ctx -Q && tpm2_readpublic -c a.ctx -o a2.pub -Q || fail "createprimary 2"
tpm2_flushcontext -t
[ -n "$(pub_of a1.pub)" ] || fail "no modulus in the public area"
[ "$(pub_of a1.pub)" = "$(pub_of a2.pub)" ] || fail "the repeated primary differs"
tpm2_createprimary -C o -G rsa2048 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt|sign" \
    -c b.ctx -Q && tpm2_readpublic -c b.ctx -o b.pub -Q || fail "createprimary with another template"
tpm2_flushcontext -t
[ "$(pub_of a1.pub)" != "$(pub_of b.pub)" ] || fail "another template gave the cached key"
tpm2_createek -c ek.ctx -G rsa -u ek1.pub || fail createek
tpm2_flushcontext -t

# a fresh process has an empty cache: the derivation gives the same keys
stop_tpm
start_tpm
tpm2_startup -c || fail startup
tpm2_createprimary -C o -G rsa2048 -c a.ctx -Q && tpm2_readpublic -c a.ctx -o a3.pub -Q || fail "createprimary after restart"
tpm2_flushcontext -t
[ "$(pub_of a1.pub)" = "$(pub_of a3.pub)" ] || fail "the cached primary differs from a fresh derivation"
tpm2_createek -c ek.ctx -G rsa -u ek2.pub || fail "createek after restart"
tpm2_flushcontext -t
[ "$(pub_of ek1.pub)" = "$(pub_of ek2.pub)" ] || fail "EK differs after restart"

# new seeds: the cached keys are never served again
tpm2_changeeps || fail changeeps
tpm2_createek -c ek.ctx -G rsa -u ek3.pub || fail "createek after ChangeEPS"
tpm2_flushcontext -t
[ "$(pub_of ek1.pub)" != "$(pub_of ek3.pub)" ] || fail "the EK survived ChangeEPS"
tpm2_createprimary -C p -G rsa2048 -c p.ctx -Q && tpm2_readpublic -c p.ctx -o p1.pub -Q || fail "platform primary"
tpm2_flushcontext -t
tpm2_changepps || fail changepps
tpm2_createprimary -C p -G rsa2048 -c p.ctx -Q && tpm2_readpublic -c p.ctx -o p2.pub -Q || fail "platform primary after ChangePPS"
tpm2_flushcontext -t
[ "$(pub_of p1.pub)" != "$(pub_of p2.pub)" ] || fail "the platform primary survived ChangePPS"
tpm2_clear || fail clear
tpm2_createprimary -C o -G rsa2048 -c a.ctx -Q && tpm2_readpublic -c a.ctx -o a4.pub -Q || fail "createprimary after Clear"
tpm2_flushcontext -t
[ "$(pub_of a1.pub)" != "$(pub_of a4.pub)" ] || fail "the owner primary survived Clear"
echo ok
