/*
 * intake.h - the request socket's loop: read, check, store, answer.
 *
 * Every message waiting (up to a batch) is checked (request.h); status
 * requests are answered from PostgreSQL at once; the others are stored in
 * one transaction (store.h) and answered only after its COMMIT.  An enable
 * needs the zone that holds its domain, read from the primaries' zone
 * snapshots (primaries.h) without any I/O; a zone two primaries list is
 * refused as zone_not_served, naming both: a domain the snapshot does not place waits,
 * without holding up anything else, for a listing that started after it
 * arrived (at most DEFER_S seconds), then is stored, refused as
 * zone_not_served, or answered unavailable when knotd did not answer.
 * When the latest listing failed, such an enable is unavailable at once.
 */
#ifndef RZ_INTAKE_H
#define RZ_INTAKE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/feed.h"
#include "daemon/notify.h"
#include "daemon/reload.h"
#include "daemon/primaries.h"

struct rz_intake {
	const struct rz_config *boot;    /* the database: what a reload keeps */
	struct rz_live *live;            /* the profiles: taken for each round */
	void *router;                /* the bound ROUTER socket */
	int stop_fd;                 /* readable once the daemon stops */
	const atomic_bool *stopping;
	struct rz_primaries *primaries;   /* the zones of each Knot primary */
	struct rz_feed *feed;
	struct db_cancel *cancel;    /* the intake connection's cancel slot */
	struct rz_notify *notify;    /* a round is a unit of work (notify.h) */
	unsigned notify_index;
};

/* Serve until stopping.  0 on a clean stop, 1 when the loop failed. */
int rz_intake_serve(const struct rz_intake *in);

#endif
