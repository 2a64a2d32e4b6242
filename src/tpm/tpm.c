/*
 * The TPM instance: creation, manufacture (seeds made once, at first start),
 * power events and the clock. The state file (one atomic replace per command
 * that changed permanent state: a kill -9 leaves the old or the new file) is
 * encoded and decoded in state.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tpm/ttpm.h"

#define STATE_FILE "tpm-state"

static uint64_t host_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void manufacture(ttpm *t)
{
    ttpm_perm *p = &t->perm;
    memset(p, 0, sizeof(*p));
    /* Seeds come from the DRBG once; they never leave the state file. */
    if (tcrypto_tpm_random(p->eps, sizeof(p->eps)) != TCRYPTO_OK ||
        tcrypto_tpm_random(p->sps, sizeof(p->sps)) != TCRYPTO_OK ||
        tcrypto_tpm_random(p->pps, sizeof(p->pps)) != TCRYPTO_OK ||
        tcrypto_tpm_random(p->null_proof, sizeof(p->null_proof)) != TCRYPTO_OK)
        t->in_failure = true;
    p->owner_policy_alg = p->endorsement_policy_alg = TPM_ALG_NULL;
    p->lockout_policy_alg = p->platform_policy_alg = TPM_ALG_NULL;
    p->max_tries = 32;
    p->recovery_time = 600;
    p->lockout_recovery = 1000;
    p->pcr_banks = 0x7;
    p->audit_hash = TPM_ALG_NULL;
    t->dirty = true;
}

ttpm *ttpm_new(const char *dir)
{
    ttpm *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    (void)ttpm_set_profile(t, "default");
    if (dir != NULL) {
        size_t n = strlen(dir) + sizeof(STATE_FILE) + 2;
        t->state_path = malloc(n);
        if (t->state_path == NULL || !tc_mkdirs(dir, 0700)) {
            ttpm_free(t);
            return NULL;
        }
        snprintf(t->state_path, n, "%s/%s", dir, STATE_FILE);
    }
    if (!ttpm_state_load(t)) {
        manufacture(t);
        /* a TPM whose seeds could not be made writes no file: the next
         * start manufactures again instead of keeping empty seeds */
        if (!t->in_failure && ttpm_state_commit(t) != TPM_RC_SUCCESS) {
            ttpm_free(t);
            return NULL;
        }
    }
    /* per-boot key for saved session contexts; TPM Resume restores the
     * one in use before Shutdown(STATE) */
    if (tcrypto_tpm_random(t->context_key, sizeof(t->context_key)) != TCRYPTO_OK)
        t->in_failure = true;
    t->clock_saved = t->perm.clock;
    t->clock_base_host = host_ms();
    ttpm_persist_sync(t);
    ttpm_power_on(t);
    return t;
}

void ttpm_free(ttpm *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < TTPM_MAX_OBJECTS; i++)
        if (t->obj[i].used)
            ttpm_obj_free(&t->obj[i]);
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++)
        if (t->pobj[i].used)
            ttpm_obj_free(&t->pobj[i]);
    ttpm_pcache_free(t);
    for (unsigned i = 0; i < TTPM_NUM_BANKS; i++)
        tcrypto_tpm_md_free(t->drtm[i]);
    free(t->state_path);
    tc_wipe(t, sizeof(*t));
    free(t);
}

static void drtm_free(ttpm *t)
{
    for (unsigned i = 0; i < TTPM_NUM_BANKS; i++) {
        tcrypto_tpm_md_free(t->drtm[i]);
        t->drtm[i] = NULL;
    }
}

bool ttpm_hash_start(ttpm *t)
{
    drtm_free(t);
    bool ok = true;
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (!(t->perm.pcr_banks & (1u << b)))
            continue;
        for (int i = 17; i <= 22; i++)
            memset(t->pcr[b][i], 0, TTPM_MAX_DIGEST);
        ok &= tcrypto_tpm_md_new(ttpm_bank_alg(b), NULL, 0, &t->drtm[b]) == TCRYPTO_OK;
    }
    t->pcr_counter++;
    if (!ok)
        drtm_free(t);
    return ok;
}

bool ttpm_hash_data(ttpm *t, const void *p, size_t n)
{
    bool any = false, ok = true;
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (t->drtm[b] == NULL)
            continue;
        any = true;
        ok &= tcrypto_tpm_md_update(t->drtm[b], p, n) == TCRYPTO_OK;
    }
    return any && ok;
}

bool ttpm_hash_end(ttpm *t)
{
    bool any = false, ok = true;
    for (int b = 0; b < TTPM_NUM_BANKS; b++) {
        if (t->drtm[b] == NULL)
            continue;
        any = true;
        uint16_t alg = ttpm_bank_alg(b);
        size_t hs = tcrypto_tpm_hash_size(alg);
        uint8_t d[TTPM_MAX_DIGEST];
        tcrypto_tpm_iov v[2] = { { t->pcr[b][17], hs }, { d, hs } };
        ok &= tcrypto_tpm_md_final(t->drtm[b], d) == TCRYPTO_OK &&
              tcrypto_tpm_hash(alg, v, 2, t->pcr[b][17]) == TCRYPTO_OK;
    }
    drtm_free(t);
    if (any)
        t->pcr_counter++;
    return any && ok;
}

bool ttpm_set_profile(ttpm *t, const char *name)
{
    if (strcmp(name, "default") == 0) {
        t->max_objects = TTPM_MAX_OBJECTS;
        t->max_loaded_sessions = TTPM_MAX_SESSIONS;
        t->strict_capacity = false;
        return true;
    }
    if (strcmp(name, "small") == 0) {
        /* The minimum Part 2 allows for TPM_PT_HR_TRANSIENT_MIN and
         * TPM_PT_HR_LOADED_MIN (PC Client chips ship with these). */
        t->max_objects = 3;
        t->max_loaded_sessions = 3;
        t->strict_capacity = true;
        return true;
    }
    return false;
}

void ttpm_power_on(ttpm *t)
{
    t->powered = true;
    t->started = false;
}

void ttpm_power_off(ttpm *t)
{
    /* Volatile state is lost; loaded objects go, sessions survive only as
     * saved contexts for a later Resume (Part 1 §30.5). */
    for (unsigned i = 0; i < TTPM_MAX_OBJECTS; i++)
        if (t->obj[i].used)
            ttpm_obj_free(&t->obj[i]);
    for (unsigned i = 0; i < TTPM_MAX_SESSIONS; i++)
        if (t->sess[i].used && t->sess[i].loaded)
            ttpm_sess_flush(&t->sess[i]);
    t->powered = false;
    t->started = false;
}

void ttpm_persist_sync(ttpm *t)
{
    for (unsigned i = 0; i < TTPM_MAX_PERSISTENT; i++) {
        ttpm_persistent *ps = &t->perm.persist[i];
        ttpm_object *o = &t->pobj[i];
        if (o->used)
            ttpm_obj_free(o);
        if (!ps->used)
            continue;
        o->used = true;
        o->handle = ps->handle;
        o->hierarchy = ps->hierarchy;
        o->pub = ps->pub;
        o->sens = ps->sens;
        o->has_sens = true;
        memcpy(o->qname, ps->qname, sizeof(o->qname));
        o->qname_len = ps->qname_len;
        if (ttpm_obj_set_name(o) != TPM_RC_SUCCESS)
            ttpm_obj_free(o);
    }
}

void ttpm_clock_update(ttpm *t)
{
    uint64_t now = host_ms();
    uint64_t delta = now - t->clock_base_host;
    t->clock_base_host = now;
    t->perm.clock += delta;
    t->time_ms += delta;
    ttpm_perm *p = &t->perm;
    /* Clock reaches NV at least every TPM_PT_CLOCK_UPDATE ms (Part 1 §36.3),
     * so a restart never moves it back by more than that. */
    if (p->clock - t->clock_saved >= 0x400000u)
        t->dirty = true;
    /* Dictionary-attack self-healing (Part 1 §19.8.6). */
    if (p->failed_tries > 0 && p->recovery_time > 0) {
        uint64_t step = (uint64_t)p->recovery_time * 1000u;
        while (p->failed_tries > 0 && p->clock - p->last_da_decrement >= step) {
            p->failed_tries--;
            p->last_da_decrement += step;
            t->dirty = true;
        }
    } else {
        p->last_da_decrement = p->clock;
    }
    if (p->lockout_auth_failed && p->lockout_recovery > 0 &&
        p->clock - p->lockout_fail_clock >= (uint64_t)p->lockout_recovery * 1000u) {
        p->lockout_auth_failed = false;
        t->dirty = true;
    }
}
