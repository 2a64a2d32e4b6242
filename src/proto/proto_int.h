/*
 * proto/ internal declarations: what codec.c needs from mech_param.c and
 * the arena. Not for other layers (they use tproto.h).
 */
#ifndef TESSERA_PROTO_INT_H
#define TESSERA_PROTO_INT_H

#include "proto/tproto.h"

/* Allocate n bytes (aligned for any CK_ type) from the arena; NULL when it
 * is exhausted. n == 0 still gives a distinct non-NULL pointer, so a
 * present-but-empty argument stays present. The bytes are zero: the arena
 * is zeroed when made and wiped on reset. */
void *tproto_arena_alloc(tproto_arena *a, size_t n);

/* Whether a u64 from the wire fits CK_ULONG in this ABI. */
static inline bool tproto_fits_ulong(uint64_t v)
{
    return (uint64_t)(CK_ULONG)v == v;
}

/* Read a u64 that must fit CK_ULONG. */
bool tproto_read_ulong(tc_reader *r, CK_ULONG *v) TC_MUST_CHECK;
/* Read a presence byte (0 or 1; anything else is malformed). */
bool tproto_read_flag(tc_reader *r, bool *v) TC_MUST_CHECK;

/* The mechanism argument (TPROTO_MECH), both directions. */
bool tproto_mech_encode(tc_buf *b, const CK_MECHANISM *m) TC_MUST_CHECK;
tproto_status tproto_mech_decode(tc_reader *r, tproto_arena *ar, const CK_MECHANISM **out);

/* The layout with this wire id for mech, or NULL. */
const tproto_mech_layout *tproto_mech_layout_by_id(CK_MECHANISM_TYPE mech, uint8_t id);

#endif
