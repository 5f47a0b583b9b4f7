/*
 * publish.c - writes into a zone (one Knot transaction) and the check that
 * every authoritative server serves them (see publish.h).  The writes of
 * several workers go to knotd together, a batch per primary (knotq.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/instr.h"
#include "daemon/knotq.h"
#include "daemon/log.h"
#include "daemon/primaries.h"
#include "daemon/publish.h"
#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"
#include "zonegen/knot.h"

/* The primary's authoritative servers; malloc'ed. */
static struct zg_dns_server *servers_of(const struct rz_primary *cfg)
{
	struct zg_dns_server *s = calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof(*s));

	for (size_t i = 0; s != NULL && i < cfg->n_servers; i++) {
		s[i].address = cfg->servers[i].address;
		s[i].port = cfg->servers[i].port;
	}
	return s;
}

/* "knot primary 'NAME': " before err: which primary a failure is about. */
static void prefix_primary(char *err, size_t errlen, const char *name)
{
	char *copy = strdup(err);

	if (copy != NULL)
		snprintf(err, errlen, "knot primary '%s': %s", name, copy);
	free(copy);
}

/* The distinct owners of two record lists. */
static size_t owners_of(const struct zg_krec *a, size_t na, const struct zg_krec *b,
                        size_t nb, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < na + nb; i++) {
		const char *o = i < na ? a[i].owner : b[i - na].owner;
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(out[j], o) == 0)
				break;
		if (j == n && n < max)
			out[n++] = o;
	}
	return n;
}

/*
 * knotd said a transaction is already open on the zone, while this worker
 * holds the zone's advisory lock, which every regzone writer (of every
 * daemon on this database) holds around its transactions: so it is not a
 * live one of ours.  It is ours only when a writer whose PostgreSQL session
 * is gone recorded it (knot_txns) and it holds nothing but records of
 * regzone's ledger: then it is aborted, loudly.  Anything else (an
 * operator's knotc zone-begin) is left alone: RZ_EBUSY, the step waits.
 * 0 when a transaction of ours was aborted (begin again), RZ_EBUSY, or an
 * error.
 */
static int stale_txn(struct zg_knot *k, PGconn *db, const struct rz_job *job, char *err,
                     size_t errlen)
{
	struct zg_krec *recs = NULL;
	bool *removed = NULL, ours = false;
	char why[2 * ZG_OWNER_SIZE + ZG_DATA_SIZE], derr[512];
	size_t n = 0;
	int n_dead = 0, ret;

	if ((ret = store_knot_txn_dead(db, job->zone, &n_dead, err, errlen)) != 0)
		return ret;
	if (n_dead == 0) {
		snprintf(err, errlen, "zone busy: transaction open on zone %s (not regzone's: "
		         "waiting for it to end)", job->zone);
		return RZ_EBUSY;
	}
	if ((ret = zg_knot_diff_recs(k, job->zone, &recs, &removed, &n, derr, sizeof(derr))) != 0) {
		free(recs);
		free(removed);
		if (ret == RZ_EKNOT && strstr(derr, "no active transaction") != NULL)
			return store_knot_txn_forget_dead(db, job->zone, err, errlen);   /* gone now */
		snprintf(err, errlen, "zone busy: cannot read the open transaction on zone %s: %s",
		         job->zone, derr);
		return ret == RZ_EIO ? RZ_EIO : RZ_EBUSY;
	}
	ret = store_ledger_holds(db, job->zone, recs, n, &ours, why, sizeof(why), err, errlen);
	free(recs);
	free(removed);
	if (ret != 0)
		return ret;
	if (!ours) {
		snprintf(err, errlen, "zone busy: transaction open on zone %s with changes that are "
		         "not regzone's (%.200s): waiting for it to end", job->zone, why);
		return RZ_EBUSY;
	}
	zg_knot_abort(k, job->zone);
	rz_log_zone(RZ_LOG_WARN, job->domain, "aborted the transaction a regzone writer that is "
	            "gone left open on zone %s (%zu records of regzone's, nothing else)", job->zone, n);
	snprintf(why, sizeof(why), "aborted the Knot transaction a regzone writer that is gone "
	         "left open on zone %s (%zu changes, all regzone's own)", job->zone, n);
	if (store_audit(db, job->domain, job->service, NULL, "error", why, NULL, derr,
	                sizeof(derr)) != 0)
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", derr);
	return store_knot_txn_forget_dead(db, job->zone, err, errlen);
}

/* A write's outcome, for the metrics. */
static const char *txn_outcome(int ret, const struct zg_plan *plan)
{
	switch (ret) {
	case 0:
		return plan->n_set == 0 && plan->n_unset == 0 ? "unchanged" : "committed";
	case RZ_ECONFLICT:
		return "conflict";
	case RZ_EAGAIN:
		return "zone_locked";
	case RZ_EBUSY:
		return "zone_busy";
	case RZ_ENOZONE:
		return "no_zone";
	default:
		return "failed";
	}
}

/* ------------------------------------------------------------ batches */

/* One zone transaction of a batch: rz_publish_apply's, on its stack. */
struct pub_item {
	struct rz_primary_rt *pr;  /* its primary: every item of a batch has the same */
	const struct rz_job *job;
	const char *purpose;
	const struct zg_krec *want, *owned;
	size_t n_want, n_owned;
	const char *owners[2 * ZG_MAX_RECORDS + 64];
	size_t n_owners;
	struct zg_plan *plan;      /* out */
	char **diff;               /* out: what changed, "+"/"-" lines */
	char *err;
	size_t errlen;
	int ret;
	bool opened;               /* a zone-begin of ours succeeded */
	bool begun;                /* ... and its transaction is still open */
	bool committed;
	bool ended;                /* nothing of ours left open: the intent may go */
};

struct batch {
	const struct rz_step_ctx *x;     /* the leader's */
	struct pub_item *it[RZ_KNOTQ_MAX_BATCH];
	struct zg_kbatch_zone z[RZ_KNOTQ_MAX_BATCH];
	struct zg_kbatch_unit *u;
	size_t n;
	struct zg_knot *k;
};

static void item_fail(struct pub_item *it, int ret, const char *msg)
{
	if (it->ret != 0)
		return;
	it->ret = ret;
	snprintf(it->err, it->errlen, "%s", msg);
}

static bool going(const struct pub_item *it)
{
	return it->ret == 0 && it->begun;
}

static bool changes(const struct pub_item *it)
{
	return it->plan->n_set > 0 || it->plan->n_unset > 0;
}

/* The zones' outcomes of the last block onto their items. */
static void take_zone_errors(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->z[i].ret != 0) {
			item_fail(b->it[i], b->z[i].ret, b->z[i].err);
			b->z[i].ret = 0;
		}
}

/* The connection broke in the middle of a block: every item not committed
 * fails, and the transactions we opened are aborted on a new connection
 * (they are ours: knotd keeps one per zone); if that fails too, their
 * intents stay for a later writer to find. */
static void batch_broken(struct batch *b, const char *why)
{
	struct rz_primary_rt *pr = b->it[0]->pr;
	size_t n = 0;
	char err[256];

	rz_primary_close(pr, b->k, false);
	b->k = NULL;
	for (size_t i = 0; i < b->n; i++) {
		b->z[i].ret = 0;
		if (!b->it[i]->committed)
			item_fail(b->it[i], RZ_EIO, why);
		if (b->it[i]->begun)
			b->u[n++] = (struct zg_kbatch_unit){ .zone = i };
	}
	if (n == 0 || rz_primary_open(pr, rz_primary_name(pr), &b->k, err, sizeof(err)) != 0)
		return;
	if (zg_knot_batch(b->k, "zone-abort", b->z, b->n, b->u, n, err, sizeof(err)) == 0)
		for (size_t i = 0; i < b->n; i++)
			if (b->it[i]->begun) {
				b->it[i]->begun = false;
				b->it[i]->ended = true;
			}
	rz_primary_close(pr, b->k, true);
	b->k = NULL;
}

/* cmd with the first n units of b->u: false when the connection broke. */
static bool send_units(struct batch *b, const char *cmd, size_t n)
{
	char err[512];

	if (b->k == NULL)
		return false;
	if (zg_knot_batch(b->k, cmd, b->z, b->n, b->u, n, err, sizeof(err)) == 0)
		return true;
	batch_broken(b, err);
	return false;
}

/* cmd once for each zone whose item want() says. */
static bool send_zones(struct batch *b, const char *cmd, bool (*want)(const struct pub_item *))
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (want(b->it[i]))
			b->u[n++] = (struct zg_kbatch_unit){ .zone = i };
	return n == 0 || send_units(b, cmd, n);
}

/* A zone-begin that found a transaction open: ours of a writer that is
 * gone (aborted, then begin once more), or someone else's (wait). */
static void begin_again(struct batch *b, size_t i)
{
	struct pub_item *it = b->it[i];
	char err[1024] = "";
	int ret = stale_txn(b->k, b->x->db, it->job, err, sizeof(err));

	if (ret == 0)
		ret = zg_knot_begin(b->k, it->job->zone, err, sizeof(err));
	if (ret == 0) {
		it->opened = it->begun = true;
		return;
	}
	if (ret == RZ_EBUSY && strncmp(err, "zone busy", 9) != 0)
		snprintf(err, sizeof(err), "zone busy: transaction open on zone %s", it->job->zone);
	item_fail(it, ret, err);
	it->ended = true;
}

static bool not_failed(const struct pub_item *it)
{
	return it->ret == 0;
}

static bool begin_all(struct batch *b)
{
	if (!send_zones(b, "zone-begin", not_failed))
		return false;
	for (size_t i = 0; i < b->n; i++) {
		struct pub_item *it = b->it[i];

		if (it->ret != 0)
			continue;
		if (b->z[i].ret == 0) {
			it->opened = it->begun = true;
		} else if (b->z[i].ret == RZ_EBUSY) {
			b->z[i].ret = 0;
			begin_again(b, i);
		} else {
			item_fail(it, b->z[i].ret, b->z[i].err);
			b->z[i].ret = 0;
			it->ended = true;    /* nothing began */
		}
	}
	return b->k != NULL;
}

/* Read the owners concerned, then plan each zone against its ledger. */
static bool read_and_plan(struct batch *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; going(b->it[i]) && j < b->it[i]->n_owners; j++)
			b->u[n++] = (struct zg_kbatch_unit){ .zone = i, .owner = b->it[i]->owners[j] };
	if (n > 0 && !send_units(b, "zone-get", n))
		return false;
	take_zone_errors(b);
	for (size_t i = 0; i < b->n; i++) {
		struct pub_item *it = b->it[i];
		int ret;

		if (!going(it))
			continue;
		ret = zg_plan_publish(it->want, it->n_want, b->z[i].recs, b->z[i].n_recs, it->owned,
		                      it->n_owned, it->plan);
		if (ret == RZ_ECONFLICT)
			item_fail(it, ret, it->plan->conflict);
		else if (ret != 0)
			item_fail(it, ret, "cannot plan the zone's changes");
	}
	return true;
}

/* The pending ledger rows of every zone (one statement), then the unsets
 * and the sets (a block each). */
static bool write_all(struct batch *b)
{
	struct store_pending w[RZ_KNOTQ_MAX_BATCH];
	size_t nw = 0, n = 0;
	char err[1024];

	for (size_t i = 0; i < b->n; i++)
		if (going(b->it[i]) && b->it[i]->plan->n_set > 0)
			w[nw++] = (struct store_pending){ b->it[i]->job, b->it[i]->purpose,
			                                  b->it[i]->plan->set, b->it[i]->plan->n_set };
	if (nw > 0 && store_ledger_pending_many(b->x->db, w, nw, err, sizeof(err)) != 0)
		for (size_t i = 0; i < b->n; i++)
			if (going(b->it[i]) && b->it[i]->plan->n_set > 0)
				item_fail(b->it[i], RZ_EDB, err);
	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; going(b->it[i]) && j < b->it[i]->plan->n_unset; j++)
			b->u[n++] = (struct zg_kbatch_unit){ .zone = i, .rec = &b->it[i]->plan->unset[j] };
	if (n > 0 && !send_units(b, "zone-unset", n))
		return false;
	take_zone_errors(b);
	n = 0;
	for (size_t i = 0; i < b->n; i++)
		for (size_t j = 0; going(b->it[i]) && j < b->it[i]->plan->n_set; j++)
			b->u[n++] = (struct zg_kbatch_unit){ .zone = i, .rec = &b->it[i]->plan->set[j] };
	if (n > 0 && !send_units(b, "zone-set", n))
		return false;
	take_zone_errors(b);
	return true;
}

static bool to_commit(const struct pub_item *it)
{
	return going(it) && changes(it);
}

static bool commit_all(struct batch *b)
{
	if (!send_zones(b, "zone-commit", to_commit))
		return false;
	for (size_t i = 0; i < b->n; i++) {
		struct pub_item *it = b->it[i];

		if (!to_commit(it))
			continue;
		if (b->z[i].ret != 0) {      /* stays open: aborted below */
			item_fail(it, b->z[i].ret, b->z[i].err);
			b->z[i].ret = 0;
			continue;
		}
		it->committed = true;
		it->begun = false;
		it->ended = true;
	}
	return true;
}

static bool still_open(const struct pub_item *it)
{
	return it->begun;
}

/* Nothing to change, a conflict, a failure: abort what is still open. */
static void abort_rest(struct batch *b)
{
	if (!send_zones(b, "zone-abort", still_open))
		return;
	for (size_t i = 0; i < b->n; i++) {
		b->z[i].ret = 0;      /* "no active transaction": gone anyway */
		if (b->it[i]->begun) {
			b->it[i]->begun = false;
			b->it[i]->ended = true;
		}
	}
}

/* What a committed plan changed, as zone-diff prints it. */
static char *plan_diff(const struct zg_plan *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < p->n_unset; i++)
		fprintf(f, "-%s %u %s %s\n", p->unset[i].owner, p->unset[i].ttl, p->unset[i].type,
		        p->unset[i].data);
	for (size_t i = 0; i < p->n_set; i++)
		fprintf(f, "+%s %u %s %s\n", p->set[i].owner, p->set[i].ttl, p->set[i].type,
		        p->set[i].data);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The leader's batch (rz_knotq_fn): every item's zone through begin, get,
 * plan, pending rows, unset, set, commit, a block each for all zones. */
static void run_batch(void *ctx, void *const *items, size_t n)
{
	struct batch b = { .x = ctx, .n = n };
	struct rz_primary_rt *pr = ((struct pub_item *)items[0])->pr;
	size_t max_u = 1;
	char err[512];
	int ret;

	for (size_t i = 0; i < n; i++) {
		b.it[i] = items[i];
		b.z[i].zone = b.it[i]->job->zone;
		max_u += b.it[i]->n_owners + b.it[i]->n_want + b.it[i]->n_owned + 1;
	}
	if ((b.u = calloc(max_u, sizeof(*b.u))) == NULL) {
		ret = RZ_ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
	} else {
		ret = rz_primary_open(pr, rz_primary_name(pr), &b.k, err, sizeof(err));
	}
	if (ret != 0) {
		for (size_t i = 0; i < n; i++) {
			item_fail(b.it[i], ret, err);
			b.it[i]->ended = true;    /* nothing sent */
		}
		free(b.u);
		return;
	}
	rz_metric_inc(rz_instr.knot_batches, NULL, NULL);
	rz_metric_add(rz_instr.knot_batch_zones, NULL, NULL, (double)n);
	if (begin_all(&b) && read_and_plan(&b) && write_all(&b) && commit_all(&b))
		abort_rest(&b);
	else if (b.k != NULL)
		abort_rest(&b);
	if (b.k != NULL)
		rz_primary_close(pr, b.k, true);
	for (size_t i = 0; i < n; i++) {
		if (b.it[i]->committed && (*b.it[i]->diff = plan_diff(b.it[i]->plan)) == NULL)
			rz_log_zone(RZ_LOG_WARN, b.it[i]->job->domain, "out of memory for the diff");
		free(b.z[i].recs);
	}
	free(b.u);
}

/* The end of a write: the intent and the zone's lock.  The intent goes
 * once nothing of ours is open (a begin that succeeded shows the dead
 * writers' are gone too); after a knotd that did not answer it stays as a
 * gone writer's (what was sent may still run), and a later writer aborts
 * what it left. */
static int write_end(PGconn *db, const struct rz_job *job, const struct pub_item *it,
                     long long intent, char *err, size_t errlen)
{
	char derr[256];
	int ret = 0;

	if (it->ret == RZ_EIO && !it->ended && store_knot_txn_abandon(db, intent, derr,
	                                                               sizeof(derr)) != 0) {
		snprintf(err, errlen, "%s", derr);
		ret = RZ_EDB;
	}
	if (store_zone_unlock_done(db, job->zone, it->ended ? intent : 0, it->ended && it->opened,
	                           derr, sizeof(derr)) != 0) {
		snprintf(err, errlen, "cannot release the zone lock: %s", derr);
		ret = RZ_EDB;   /* the session is suspect: the caller drops it */
	}
	return ret;
}

/* Before the batch: the zone's lock and the write's intent.  0 to go on,
 * else req->ret and err are set and nothing was sent. */
static int write_begin(const struct rz_step_ctx *x, struct rz_pub_req *req, struct pub_item *it,
                       long long *intent)
{
	const struct rz_job *job = req->job;
	bool locked = false;
	int ret;

	*it = (struct pub_item){
		.job = job, .purpose = req->purpose, .want = req->want, .n_want = req->n_want,
		.owned = req->owned, .n_owned = req->n_owned, .plan = req->plan, .diff = req->diff,
		.err = req->err, .errlen = req->errlen,
	};
	memset(req->plan, 0, sizeof(*req->plan));
	*req->diff = NULL;
	if ((it->pr = rz_primaries_get(x->primaries, job->primary)) == NULL) {
		snprintf(req->err, req->errlen, "knot primary '%s' is not in the configuration (any "
		         "more)", job->primary);
		return req->ret = RZ_ENOENT;
	}
	/* One regzone writer per zone, across daemons: the zone's advisory lock
	 * (released by PostgreSQL if this process dies), and with it the intent
	 * of the transaction, recorded before zone-begin. */
	if ((ret = store_zone_lock_intent(x->db, job->zone, job->id, &locked, intent, req->err,
	                                  req->errlen)) != 0) {
		/* a session lock outlives the statement that failed */
		if (store_zone_unlock(x->db, job->zone) != 0)
			rz_log_zone(RZ_LOG_WARN, job->domain, "cannot release the lock of zone %s",
			            job->zone);
		return req->ret = ret;
	}
	if (!locked) {
		snprintf(req->err, req->errlen, "another regzone worker is writing zone %s",
		         job->zone);
		rz_metric_inc(rz_instr.knot_txns, "zone_locked", NULL);
		return req->ret = RZ_EAGAIN;
	}
	it->n_owners = owners_of(req->want, req->n_want, req->owned, req->n_owned, it->owners,
	                         sizeof(it->owners) / sizeof(it->owners[0]));
	return 0;
}

/* The items of one primary, in its queue's batches; an item that waited too
 * long for a slow or silent knotd is not run (RZ_EIO). */
static void run_primary(const struct rz_step_ctx *x, struct pub_item **items, size_t n)
{
	struct rz_primary_rt *pr = items[0]->pr;
	bool *not_run = calloc(n, sizeof(*not_run));
	char why[512] = "";
	bool silent = rz_primary_silent(pr, why, sizeof(why));
	int ret = not_run == NULL ? RZ_ENOMEM :
	          rz_knotq_run_many(rz_primary_queue(pr), (void *const *)items, n, run_batch,
	                            (void *)x, rz_primary_slow_ms(pr), silent, not_run);

	for (size_t i = 0; i < n; i++) {
		struct pub_item *it = items[i];

		if (ret == 0 && !not_run[i])
			continue;
		/* not run: another worker's batch is stuck on a knotd that does
		 * not answer; this worker goes on with other work */
		if (ret != 0)
			snprintf(it->err, it->errlen, "out of memory");
		else if (silent)
			snprintf(it->err, it->errlen, "knot primary '%s' does not answer (%s); another "
			         "worker is trying it", it->job->primary, why);
		else
			snprintf(it->err, it->errlen, "knot primary '%s': its control socket has been "
			         "busy for over %u ms (knotd slow or not answering)", it->job->primary,
			         rz_primary_slow_ms(pr));
		it->ret = ret != 0 ? ret : RZ_EIO;
		it->ended = true;   /* nothing sent */
	}
	free(not_run);
}

/* After the batch: the outcome into req, the lock and intent released. */
static void write_finish(const struct rz_step_ctx *x, struct rz_pub_req *req,
                         struct pub_item *it, long long intent)
{
	int ret = it->ret;

	if (ret == 0 && *req->diff == NULL && (*req->diff = strdup("")) == NULL)
		ret = RZ_ENOMEM;
	if (ret != 0 && ret != RZ_ECONFLICT && ret != RZ_EAGAIN && x->cfg->primaries_listed &&
	    strncmp(req->err, "knot primary", 12) != 0)
		prefix_primary(req->err, req->errlen, req->job->primary);   /* which one, when several */
	if (write_end(x->db, req->job, it, intent, req->err, req->errlen) != 0 && ret == 0)
		ret = RZ_EDB;
	rz_metric_inc(rz_instr.knot_txns, txn_outcome(ret, req->plan), NULL);
	if (ret != 0 && ret != RZ_ECONFLICT)
		zg_plan_clear(req->plan);
	req->ret = ret;
}

/*
 * Knot transactions on the jobs' zones, in batches of their primaries'
 * queues: each zone locked and its intent recorded, then in the batch the
 * owners concerned read, a plan against the ledger, pending rows, set and
 * unset, commit; then each lock released.  want may be empty (removal).
 */
void rz_publish_apply_many(const struct rz_step_ctx *x, struct rz_pub_req *req, size_t n)
{
	struct pub_item *it = calloc(n ? n : 1, sizeof(*it)), **group = NULL;
	long long *intent = calloc(n ? n : 1, sizeof(*intent));
	bool *go = calloc(n ? n : 1, sizeof(*go)), *done = calloc(n ? n : 1, sizeof(*done));

	if (it == NULL || intent == NULL || go == NULL || done == NULL ||
	    (group = calloc(n ? n : 1, sizeof(*group))) == NULL) {
		for (size_t i = 0; i < n; i++) {
			memset(req[i].plan, 0, sizeof(*req[i].plan));
			*req[i].diff = NULL;
			snprintf(req[i].err, req[i].errlen, "out of memory");
			req[i].ret = RZ_ENOMEM;
		}
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		size_t j;

		/* one transaction per zone: a second job of the same zone (two
		 * domains under one zone) waits for the next round, as behind
		 * another worker; its session would take the lock again */
		for (j = 0; j < i; j++)
			if (go[j] && strcmp(req[j].job->zone, req[i].job->zone) == 0)
				break;
		if (j < i) {
			memset(req[i].plan, 0, sizeof(*req[i].plan));
			*req[i].diff = NULL;
			snprintf(req[i].err, req[i].errlen, "another write of zone %s is in this batch",
			         req[i].job->zone);
			req[i].ret = RZ_EAGAIN;
			continue;
		}
		go[i] = write_begin(x, &req[i], &it[i], &intent[i]) == 0;
	}
	/* one primary at a time: its items go to its queue together */
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;

		if (!go[i] || done[i])
			continue;
		for (size_t j = i; j < n; j++)
			if (go[j] && !done[j] && it[j].pr == it[i].pr) {
				group[m++] = &it[j];
				done[j] = true;
			}
		run_primary(x, group, m);
	}
	for (size_t i = 0; i < n; i++)
		if (go[i])
			write_finish(x, &req[i], &it[i], intent[i]);
out:
	free(it);
	free(intent);
	free(go);
	free(done);
	free(group);
}

int rz_publish_apply(const struct rz_step_ctx *x, const struct rz_job *job, const char *purpose,
                     const struct zg_krec *want, size_t n_want, const struct zg_krec *owned,
                     size_t n_owned, struct zg_plan *plan, char **diff, char *err,
                     size_t errlen)
{
	struct rz_pub_req req = {
		.job = job, .purpose = purpose, .want = want, .n_want = n_want, .owned = owned,
		.n_owned = n_owned, .plan = plan, .diff = diff, .err = err, .errlen = errlen,
	};

	rz_publish_apply_many(x, &req, 1);
	return req.ret;
}

int rz_publish_check(const struct rz_config *run, const char *primary, const struct zg_rr *rrs,
                     size_t n, bool present, char *err, size_t errlen)
{
	const struct rz_primary *cfg = rz_config_primary(run, primary);
	struct zg_dns_server *servers;
	int *outcome, ret;

	if (cfg == NULL) {
		snprintf(err, errlen, "knot primary '%s' is not in the configuration (any more)",
		         primary);
		return RZ_EIO;
	}
	if ((servers = servers_of(cfg)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	if ((outcome = calloc(cfg->n_servers + 1, sizeof(*outcome))) == NULL) {
		free(servers);
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	ret = zg_dns_check_servers(servers, cfg->n_servers, rrs, n, present ? 1 : 0,
	                           run->dns_timeout_ms, outcome, err, errlen);
	for (size_t i = 0; n > 0 && i < cfg->n_servers; i++) {
		char name[80];

		snprintf(name, sizeof(name), "%s@%u", cfg->servers[i].address,
		         (unsigned)cfg->servers[i].port);
		rz_metric_inc(rz_instr.dns_checks, name, outcome[i] == 0 ? "served" :
		              outcome[i] == ZG_EAGAIN ? "not_yet" :
		              outcome[i] == ZG_DNS_NOT_ASKED ? "not_asked" : "error");
	}
	free(outcome);
	free(servers);
	if (ret != 0 && ret != RZ_EIO && ret != RZ_ENOMEM)
		ret = RZ_EAGAIN;
	return ret;
}
