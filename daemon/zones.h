/*
 * zones.h - the zones knotd serves, as a snapshot the intake reads without
 * ever waiting on knotd.
 *
 * A thread of its own lists knotd's zones (zone-status through the control
 * socket) every RZ_ZONES_REFRESH_S seconds, and sooner when the intake asks
 * (an enable for a zone the snapshot does not hold: a zone added since).
 * Each listing, good or failed, ends with the eventfd returned by
 * rz_zones_fd() readable, so the intake's poll loop learns of it.  The
 * snapshot is swapped under a mutex that is never held across knotd I/O:
 * a hung knotd (SIGSTOP, a full backlog) delays the next listing, never a
 * request.
 */
#ifndef RZ_ZONES_H
#define RZ_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RZ_ZONES_REFRESH_S 30.0   /* list again at least this often */
#define RZ_ZONES_ASK_MIN_S 1.0    /* ... and on a miss at most this often */

struct rz_zones;

/* What a lookup found. */
enum rz_zone_answer {
	RZ_ZONE_FOUND,        /* zone set */
	RZ_ZONE_NOT_SERVED,   /* the latest listing succeeded and holds no zone for it */
	RZ_ZONE_UNREACHABLE,  /* the latest listing failed (or none yet succeeded) */
	RZ_ZONE__MAX
};

/* Start the refresher for knotd's control socket (timeout per operation).
 * 0, RZ_ENOMEM, RZ_EIO (thread or eventfd).  The first listing starts at
 * once. */
int rz_zones_start(const char *knot_socket, uint32_t timeout_ms, struct rz_zones **out);

/* Stop the thread (waits for a listing in progress: at most the knotd
 * timeout) and free everything; NULL is fine. */
void rz_zones_stop(struct rz_zones *z);

/* Readable after each listing; read it (8 bytes) with rz_zones_ack(). */
int rz_zones_fd(const struct rz_zones *z);
void rz_zones_ack(struct rz_zones *z);

/*
 * Which served zone holds domain (itself or its closest parent with two
 * labels or more), from the snapshot, without I/O.  zone gets the zone's
 * name on RZ_ZONE_FOUND.  *fresh is the listing count at which a listing
 * that started after this call has finished: a caller that wants to know
 * about a zone added just now asks (rz_zones_ask) and looks again once
 * rz_zones_generation() reaches *fresh.
 */
enum rz_zone_answer rz_zones_lookup(struct rz_zones *z, const char *domain, char *zone,
                                    size_t zonelen, uint64_t *fresh);

/* Listings finished so far (good or failed). */
uint64_t rz_zones_generation(struct rz_zones *z);

/* Ask for a listing that starts after this call: at once, or
 * RZ_ZONES_ASK_MIN_S after the previous one started; never blocks. */
void rz_zones_ask(struct rz_zones *z);

/* The latest listing's error ("" when it succeeded), for logs. */
void rz_zones_last_error(struct rz_zones *z, char *buf, size_t len);

#endif
