/*
 * zones.h - the zones knotd serves, as a snapshot the intake reads without
 * ever waiting on knotd.
 *
 * A thread of its own lists knotd's zones (zone-status through the control
 * socket) every RZ_ZONES_REFRESH_S seconds, and sooner when the intake asks
 * (an enable for a zone the snapshot does not hold: a zone added since).
 * Each listing, good or failed, ends with the caller's eventfd readable,
 * so the intake's poll loop learns of it.  One refresher per Knot primary
 * (primaries.h looks over all of them).  The snapshot is swapped under a
 * mutex that is never held across knotd I/O: a hung knotd (SIGSTOP, a
 * full backlog) delays the next listing, never a request.
 */
#ifndef RZ_ZONES_H
#define RZ_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RZ_ZONES_REFRESH_S 30.0   /* list again at least this often */
#define RZ_ZONES_ASK_MIN_S 1.0    /* ... and on a miss at most this often */

struct rz_zones;

/* What a lookup found (primaries.h answers with these, over every primary). */
enum rz_zone_answer {
	RZ_ZONE_FOUND,        /* zone set */
	RZ_ZONE_NOT_SERVED,   /* the latest listings succeeded and hold no zone for it */
	RZ_ZONE_UNREACHABLE,  /* not found, and a latest listing failed (or none yet
	                         succeeded) */
	RZ_ZONE_AMBIGUOUS,    /* its zone is listed by two primaries: refused */
	RZ_ZONE__MAX
};

/* Start the refresher for one knotd's control socket (timeout per
 * operation; name, the primary's, for logs); after each listing it adds 1
 * to the eventfd notify_fd (the caller's, shared by several refreshers).
 * 0, RZ_ENOMEM, RZ_EIO (thread).  The first listing starts at once. */
int rz_zones_start(const char *name, const char *knot_socket, uint32_t timeout_ms,
                   int notify_fd, struct rz_zones **out);

/* Stop the thread (waits for a listing in progress: at most the knotd
 * timeout) and free everything; NULL is fine. */
void rz_zones_stop(struct rz_zones *z);

/* Is zone (a name in normal form) in the latest good listing?  No I/O. */
bool rz_zones_has(struct rz_zones *z, const char *zone);

/* Did the latest listing succeed? (false before the first) */
bool rz_zones_ok(struct rz_zones *z);

/* Zones in the latest good listing. */
size_t rz_zones_count(struct rz_zones *z);

/* A copy of the latest good listing's names (free each and the array):
 * 0 or RZ_ENOMEM. */
int rz_zones_names(struct rz_zones *z, char ***names, size_t *n);

/* Listings finished so far (good or failed). */
uint64_t rz_zones_generation(struct rz_zones *z);

/* When the latest finished listing started (CLOCK_MONOTONIC, ns; 0 before
 * the first): it saw every zone added before that. */
uint64_t rz_zones_listed_ns(struct rz_zones *z);

/* Good listings that followed a failed one (knotd answers again). */
uint64_t rz_zones_recoveries(struct rz_zones *z);

/* CLOCK_MONOTONIC now, in ns, to compare with rz_zones_listed_ns(). */
uint64_t rz_zones_now_ns(void);

/* Ask for a listing that starts after this call: at once, or
 * RZ_ZONES_ASK_MIN_S after the previous one started; never blocks. */
void rz_zones_ask(struct rz_zones *z);

/* The latest listing's error ("" when it succeeded), for logs. */
void rz_zones_last_error(struct rz_zones *z, char *buf, size_t len);

#endif
