/*
 * primaries.h - the Knot primaries regzoned writes to (knot.primaries, or
 * knot.socket as the one primary "default"), at run time.
 *
 * Each primary has its own zone-list refresher (zones.h: its thread, its
 * snapshot, its failures) and its own mutex around control connections:
 * knotd serves one connection at a time, so writers queue here rather than
 * in its listen backlog, and a write to one primary never waits on another.
 * A lookup places a domain over all of them: the closest enclosing zone,
 * on the one primary that lists it; a zone two primaries list is
 * ambiguous and refused.  One primary unreachable fails only the lookups
 * that need it.
 *
 * Names, sockets and timeouts are fixed for the life of the daemon (a
 * reload keeps them); the servers each primary's zones are checked on come
 * from the running configuration (rz_config_primary).
 */
#ifndef RZ_PRIMARIES_H
#define RZ_PRIMARIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/zones.h"
#include "zonegen/knot.h"

struct rz_knotq;
struct rz_primaries;
struct rz_primary_rt;

/* Start a refresher per primary of cfg (which must outlive it).  0,
 * RZ_ENOMEM, RZ_EIO; nothing is left running on failure. */
int rz_primaries_start(const struct rz_config *cfg, struct rz_primaries **out);

/* Stop every refresher and free everything; NULL is fine. */
void rz_primaries_stop(struct rz_primaries *p);

size_t rz_primaries_count(const struct rz_primaries *p);
/* Primary i's runtime, i < rz_primaries_count(). */
struct rz_primary_rt *rz_primaries_at(struct rz_primaries *p, size_t i);
/* The primary called name; NULL when it is not configured. */
struct rz_primary_rt *rz_primaries_get(struct rz_primaries *p, const char *name);

const char *rz_primary_name(const struct rz_primary_rt *pr);
struct rz_zones *rz_primary_zones(struct rz_primary_rt *pr);
/* Its writers' queue (knotq.h), and how long a writer waits for a batch
 * before it gives up (knotd slow or stopped). */
struct rz_knotq *rz_primary_queue(struct rz_primary_rt *pr);
unsigned rz_primary_slow_ms(const struct rz_primary_rt *pr);
/* Neither its last connection nor its last zone listing got an answer:
 * true with the reason in why (and a listing asked for). */
bool rz_primary_silent(struct rz_primary_rt *pr, char *why, size_t len);

/* Its latest zone listing succeeded and its last control connection got
 * answers (regzone_up{component="knot:NAME"}). */
bool rz_primary_answers(struct rz_primary_rt *pr);

/* Readable after any primary's listing; rz_primaries_ack() reads it. */
int rz_primaries_fd(const struct rz_primaries *p);
void rz_primaries_ack(struct rz_primaries *p);

/*
 * Which zone holds domain (itself or its closest parent with two labels or
 * more), over every primary's snapshot, without I/O.  On RZ_ZONE_FOUND
 * zone gets it and primary (RZ_PRIMARY_NAME_MAX + 1 bytes) its primary's
 * name; on RZ_ZONE_UNREACHABLE and RZ_ZONE_AMBIGUOUS why says which
 * primaries (and zone).  *fresh: a lookup made once rz_primaries_listed()
 * reaches it sees every zone added before this call (ask first).
 */
enum rz_zone_answer rz_primaries_lookup(struct rz_primaries *p, const char *domain,
                                        char *zone, size_t zonelen, char *primary,
                                        uint64_t *fresh, char *why, size_t whylen);

/* Ask every refresher for a listing that starts after this call. */
void rz_primaries_ask(struct rz_primaries *p);

/* The oldest start of the primaries' latest finished listings (ns, as
 * *fresh above): every primary has listed its zones since then. */
uint64_t rz_primaries_listed(struct rz_primaries *p);

/* Every primary has finished a listing (good or failed). */
bool rz_primaries_all_listed(struct rz_primaries *p);

/* The first failing primary's error as "primary 'NAME': why" ("" when all
 * of the latest listings succeeded). */
void rz_primaries_last_error(struct rz_primaries *p, char *buf, size_t len);

/*
 * The zones listed by more than one primary, each as "zone (p1, p2)": a
 * malloc'ed array of malloc'ed strings in *out (free with
 * rz_primaries_names_free), *n of them.  0 or RZ_ENOMEM.
 */
int rz_primaries_ambiguous(struct rz_primaries *p, char ***out, size_t *n);
void rz_primaries_names_free(char **v, size_t n);

/* A primary that answers again (a zone listing or a connection after a
 * silence) since the last call: true once per such event, its name in
 * name, so that one worker makes its failed jobs due at once. */
bool rz_primaries_take_back(struct rz_primaries *p, char *name, size_t len);

/* How many primaries' latest listing succeeded. */
size_t rz_primaries_n_ok(struct rz_primaries *p);

/* At start-up, once every primary has listed its zones: log each
 * primary's count (when several, or one that does not answer) and, as
 * errors, the zones listed by more than one.  Returns how many primaries
 * answered. */
size_t rz_primaries_log_ready(struct rz_primaries *p);

/*
 * A control connection to the primary, its mutex held on success (give it
 * back with rz_primary_close, answered false when knotd did not answer).
 * 0, or with err (naming the primary) and nothing held:
 *   RZ_ENOENT  pr is NULL: the primary called name is not configured
 *   RZ_EIO     knotd does not answer (the last try got nothing and another
 *              worker is trying it), another worker has held the primary's
 *              connection over half the timeout (knotd slow or stopped:
 *              this worker goes on with other work), or zg_knot_open's error
 */
int rz_primary_open(struct rz_primary_rt *pr, const char *name, struct zg_knot **k,
                    char *err, size_t errlen);
void rz_primary_close(struct rz_primary_rt *pr, struct zg_knot *k, bool answered);

#endif
