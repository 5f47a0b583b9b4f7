/*
 * reload.h - the running configuration, replaced whole by a reload
 * (SIGHUP) while the threads keep working.
 *
 * Each thread takes a reference for one unit of work (a worker for one
 * step, the intake for one round) and gives it back after; a reload swaps
 * in the new configuration for the next units, and the old one is freed
 * when its last reference comes back.  Nothing waits for a reload.
 *
 * What a reload applies: profiles and the default profile, acme.limits,
 * acme.renew_percent, .concurrency and .revoke_on_disable, log_level, the
 * deploy hook (command, timeout, environment, failures), certificates.auto,
 * the dns section (servers, timeouts), each knot.primaries entry's servers
 * (not its name, socket or timeout), audit.retention_days and
 * events.retention_days (the next retention round).  Everything else
 * (listen, database, knot, workers, metrics, certificates.dir and .group,
 * the rest of acme) is kept as running: each such key that differs in the
 * file is named in the log as needing a restart.
 */
#ifndef RZ_RELOAD_H
#define RZ_RELOAD_H

#include <stddef.h>

#include "daemon/config.h"
#include "daemon/rz_err.h"

struct rz_live;

/* The running configuration starts as cfg (the holder owns it from now
 * on).  0 or RZ_ENOMEM (then cfg is still the caller's). */
RZ_MUSTCHECK
int rz_live_new(struct rz_config *cfg, struct rz_live **out);

/* Free the holder and the configurations it holds; every reference must
 * have been given back.  NULL is fine. */
void rz_live_free(struct rz_live *l);

/* A reference to the current configuration, valid until rz_live_put(). */
const struct rz_config *rz_live_get(struct rz_live *l);
void rz_live_put(struct rz_live *l, const struct rz_config *cfg);

/*
 * Read the running configuration's file again and make it current.  0 when
 * it is (*restart_only: how many keys that differ were kept as running);
 * otherwise the code with "FILE:LINE:COL: message" in err and nothing
 * changed.  One reload at a time (the main thread's).
 */
RZ_MUSTCHECK
int rz_live_reload(struct rz_live *l, unsigned *restart_only, char *err, size_t errlen);

#endif
