/*
 * primaries.c - the Knot primaries at run time (see primaries.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/knotq.h"
#include "daemon/primaries.h"
#include "daemon/rz_err.h"
#include "zonegen/zonegen.h"

struct rz_primary_rt {
	const struct rz_primary *cfg;   /* name, socket, timeout (restart-only) */
	struct rz_zones *zones;
	pthread_mutex_t conn;           /* held around a control connection */
	atomic_bool down;               /* the last connection got no answer */
	_Atomic uint64_t held_since;    /* when conn was taken (ms, monotonic) */
	_Atomic uint64_t back;          /* connections answered after a silence */
	_Atomic uint64_t back_seen;     /* ... and zone listings: as taken */
	pthread_mutex_t why_lock;
	char why[512];                  /* ... and why */
	struct rz_knotq *queue;         /* the writers' batches (knotq.h) */
};

struct rz_primaries {
	struct rz_primary_rt *p;
	size_t n;
	int fd;                         /* eventfd: some primary listed its zones */
};

int rz_primaries_start(const struct rz_config *cfg, struct rz_primaries **out)
{
	struct rz_primaries *p = calloc(1, sizeof(*p));
	int ret = 0;

	*out = NULL;
	if (p == NULL || (p->p = calloc(cfg->n_primaries ? cfg->n_primaries : 1,
	                                sizeof(*p->p))) == NULL) {
		free(p);
		return RZ_ENOMEM;
	}
	if ((p->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(p->p);
		free(p);
		return RZ_EIO;
	}
	for (size_t i = 0; i < cfg->n_primaries; i++) {
		struct rz_primary_rt *pr = &p->p[i];

		pr->cfg = &cfg->primaries[i];
		pthread_mutex_init(&pr->conn, NULL);
		pthread_mutex_init(&pr->why_lock, NULL);
		atomic_init(&pr->down, false);
		atomic_init(&pr->held_since, 0);
		atomic_init(&pr->back, 0);
		atomic_init(&pr->back_seen, 0);
		p->n++;
		if ((ret = rz_knotq_new(&pr->queue)) != 0 ||
		    (ret = rz_zones_start(pr->cfg->name, pr->cfg->socket, pr->cfg->timeout_ms, p->fd,
		                          &pr->zones)) != 0)
			break;
	}
	if (ret != 0) {
		rz_primaries_stop(p);
		return ret;
	}
	*out = p;
	return 0;
}

void rz_primaries_stop(struct rz_primaries *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		rz_zones_stop(p->p[i].zones);
		rz_knotq_free(p->p[i].queue);
		pthread_mutex_destroy(&p->p[i].conn);
		pthread_mutex_destroy(&p->p[i].why_lock);
	}
	close(p->fd);
	free(p->p);
	free(p);
}

size_t rz_primaries_count(const struct rz_primaries *p)
{
	return p->n;
}

struct rz_primary_rt *rz_primaries_at(struct rz_primaries *p, size_t i)
{
	return i < p->n ? &p->p[i] : NULL;
}

struct rz_primary_rt *rz_primaries_get(struct rz_primaries *p, const char *name)
{
	for (size_t i = 0; p != NULL && name != NULL && i < p->n; i++)
		if (strcmp(p->p[i].cfg->name, name) == 0)
			return &p->p[i];
	return NULL;
}

const char *rz_primary_name(const struct rz_primary_rt *pr)
{
	return pr->cfg->name;
}

struct rz_zones *rz_primary_zones(struct rz_primary_rt *pr)
{
	return pr->zones;
}

struct rz_knotq *rz_primary_queue(struct rz_primary_rt *pr)
{
	return pr->queue;
}

/* Half the control timeout, as for the mutex: a batch that long is stuck
 * on knotd (stopped, or its backlog full), while a busy knotd (its zone
 * listing holds the socket 0.8 s at 10^5 zones, another daemon's session)
 * never makes writers give up and fail a step for nothing. */
unsigned rz_primary_slow_ms(const struct rz_primary_rt *pr)
{
	return pr->cfg->timeout_ms / 2;
}

bool rz_primary_silent(struct rz_primary_rt *pr, char *why, size_t len)
{
	if (!atomic_load(&pr->down) || rz_zones_ok(pr->zones))
		return false;
	rz_zones_ask(pr->zones);    /* its next listing tells when it is back */
	pthread_mutex_lock(&pr->why_lock);
	snprintf(why, len, "%s", pr->why);
	pthread_mutex_unlock(&pr->why_lock);
	return true;
}

int rz_primaries_fd(const struct rz_primaries *p)
{
	return p->fd;
}

void rz_primaries_ack(struct rz_primaries *p)
{
	uint64_t v;

	if (read(p->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rz_log(RZ_LOG_WARN, "primaries: eventfd: %s", strerror(errno));
}

enum rz_zone_answer rz_primaries_lookup(struct rz_primaries *p, const char *domain,
                                        char *zone, size_t zonelen, char *primary,
                                        uint64_t *fresh, char *why, size_t whylen)
{
	why[0] = '\0';
	*fresh = rz_zones_now_ns();
	for (const char *c = zg_zone_first(domain); c != NULL; c = zg_zone_next(c)) {
		size_t first = p->n, n_has = 0;

		for (size_t i = 0; i < p->n; i++) {
			if (!rz_zones_has(p->p[i].zones, c))
				continue;
			if (n_has++ == 0) {
				first = i;
				continue;
			}
			snprintf(why, whylen, "zone %s is served by two Knot primaries, '%s' and "
			         "'%s': regzone writes to neither until one of them drops it", c,
			         p->p[first].cfg->name, p->p[i].cfg->name);
			return RZ_ZONE_AMBIGUOUS;
		}
		if (n_has == 1) {
			snprintf(zone, zonelen, "%s", c);
			snprintf(primary, RZ_PRIMARY_NAME_MAX + 1, "%s", p->p[first].cfg->name);
			return RZ_ZONE_FOUND;
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		char e[400];

		if (rz_zones_ok(p->p[i].zones))
			continue;
		rz_zones_last_error(p->p[i].zones, e, sizeof(e));
		snprintf(why, whylen, "knot primary '%s': %s", p->p[i].cfg->name, e);
		return RZ_ZONE_UNREACHABLE;
	}
	return RZ_ZONE_NOT_SERVED;
}

void rz_primaries_ask(struct rz_primaries *p)
{
	for (size_t i = 0; i < p->n; i++)
		rz_zones_ask(p->p[i].zones);
}

uint64_t rz_primaries_listed(struct rz_primaries *p)
{
	uint64_t oldest = UINT64_MAX;

	for (size_t i = 0; i < p->n; i++) {
		uint64_t t = rz_zones_listed_ns(p->p[i].zones);

		if (t < oldest)
			oldest = t;
	}
	return p->n > 0 ? oldest : 0;
}

bool rz_primaries_all_listed(struct rz_primaries *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (rz_zones_generation(p->p[i].zones) == 0)
			return false;
	return true;
}

void rz_primaries_last_error(struct rz_primaries *p, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		char e[400];

		rz_zones_last_error(p->p[i].zones, e, sizeof(e));
		if (e[0] != '\0') {
			snprintf(buf, len, "primary '%s': %s", p->p[i].cfg->name, e);
			return;
		}
	}
}

void rz_primaries_names_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* "zone (a, b...)" for a zone listed by primary i and some after it, or
 * NULL (*err on no memory) when none after it lists it. */
static char *ambiguous_one(struct rz_primaries *p, size_t i, const char *zone, int *err)
{
	char buf[ZG_OWNER_SIZE + 8 * (RZ_PRIMARY_NAME_MAX + 4)], *s;
	size_t len = 0, hits = 0;

	len = (size_t)snprintf(buf, sizeof(buf), "%s (%s", zone, p->p[i].cfg->name);
	for (size_t j = i + 1; j < p->n; j++) {
		if (!rz_zones_has(p->p[j].zones, zone))
			continue;
		hits++;
		if (len < sizeof(buf))
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, ", %s",
			                        p->p[j].cfg->name);
	}
	if (hits == 0)
		return NULL;
	if (len < sizeof(buf))
		snprintf(buf + len, sizeof(buf) - len, ")");
	if ((s = strdup(buf)) == NULL)
		*err = RZ_ENOMEM;
	return s;
}

int rz_primaries_ambiguous(struct rz_primaries *p, char ***out, size_t *n)
{
	char **res = NULL;
	size_t n_res = 0, cap = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	/* a zone first listed by primary i, also by a later one; one entry
	 * per zone, at its first primary */
	for (size_t i = 0; ret == 0 && i + 1 < p->n; i++) {
		char **names = NULL;
		size_t m = 0;

		if ((ret = rz_zones_names(p->p[i].zones, &names, &m)) != 0)
			break;
		for (size_t k = 0; ret == 0 && k < m; k++) {
			bool earlier = false;
			char *s;

			for (size_t j = 0; j < i && !earlier; j++)
				earlier = rz_zones_has(p->p[j].zones, names[k]);
			if (earlier || (s = ambiguous_one(p, i, names[k], &ret)) == NULL)
				continue;
			if (n_res == cap) {
				char **bigger = realloc(res, (cap ? cap * 2 : 8) * sizeof(*res));

				if (bigger == NULL) {
					free(s);
					ret = RZ_ENOMEM;
					break;
				}
				res = bigger;
				cap = cap ? cap * 2 : 8;
			}
			res[n_res++] = s;
		}
		rz_primaries_names_free(names, m);
	}
	if (ret != 0) {
		rz_primaries_names_free(res, n_res);
		return ret;
	}
	*out = res;
	*n = n_res;
	return 0;
}

static uint64_t now_ms(void)
{
	return rz_zones_now_ns() / 1000000u;
}

static void ms_to_abs(uint64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int fail_down(struct rz_primary_rt *pr, char *err, size_t errlen)
{
	rz_zones_ask(pr->zones);    /* its next listing tells when it is back */
	pthread_mutex_lock(&pr->why_lock);
	snprintf(err, errlen, "knot primary '%s' does not answer (%s); another worker is "
	         "trying it", pr->cfg->name, pr->why);
	pthread_mutex_unlock(&pr->why_lock);
	return RZ_EIO;
}

/*
 * The mutex.  Whoever gets it at once may try knotd; the others wait while
 * the holder is quick (under half the timeout, and twice the timeout in
 * all), and give up at once when knotd is silent (its last connection and
 * its last listing got nothing), when the holder has had it longer, or when
 * the holder they waited for got nothing: workers stay free for the other
 * primaries, one at a time tries the silent one.
 */
static int primary_lock(struct rz_primary_rt *pr, char *err, size_t errlen)
{
	uint64_t start = now_ms(), slow = pr->cfg->timeout_ms / 2;
	bool waited = false;

	for (;;) {
		uint64_t held, now, since;
		struct timespec ts;

		if (pthread_mutex_trylock(&pr->conn) == 0)
			break;
		if (atomic_load(&pr->down) && !rz_zones_ok(pr->zones))
			return fail_down(pr, err, errlen);
		now = now_ms();
		since = atomic_load(&pr->held_since);
		held = since != 0 && now > since ? now - since : 0;
		if (held >= slow || now - start >= 2ull * pr->cfg->timeout_ms) {
			snprintf(err, errlen, "knot primary '%s': its control socket has been busy for "
			         "%llu ms (knotd slow or not answering)", pr->cfg->name,
			         (unsigned long long)held);
			return RZ_EIO;
		}
		waited = true;
		ms_to_abs(slow - held, &ts);
		if (pthread_mutex_timedlock(&pr->conn, &ts) == 0)
			break;
	}
	if (waited && atomic_load(&pr->down)) {
		pthread_mutex_unlock(&pr->conn);
		return fail_down(pr, err, errlen);
	}
	atomic_store(&pr->held_since, now_ms());
	return 0;
}

bool rz_primary_answers(struct rz_primary_rt *pr)
{
	return rz_zones_ok(pr->zones) && !atomic_load(&pr->down);
}

int rz_primary_open(struct rz_primary_rt *pr, const char *name, struct zg_knot **k,
                    char *err, size_t errlen)
{
	char e[512];
	int ret;

	*k = NULL;
	if (pr == NULL) {
		snprintf(err, errlen, "knot primary '%s' is not in the configuration (any more)",
		         name);
		return RZ_ENOENT;
	}
	if ((ret = primary_lock(pr, err, errlen)) != 0)
		return ret;
	if ((ret = zg_knot_open(pr->cfg->socket, pr->cfg->timeout_ms, k, e, sizeof(e))) != 0) {
		snprintf(err, errlen, "knot primary '%s': %s", pr->cfg->name, e);
		rz_primary_close(pr, NULL, false);
		return ret;
	}
	return 0;
}

void rz_primary_close(struct rz_primary_rt *pr, struct zg_knot *k, bool answered)
{
	zg_knot_close(k);
	if (pr == NULL)
		return;
	if (!answered) {
		pthread_mutex_lock(&pr->why_lock);
		snprintf(pr->why, sizeof(pr->why), "no answer within %u ms", pr->cfg->timeout_ms);
		pthread_mutex_unlock(&pr->why_lock);
		rz_zones_ask(pr->zones);
	}
	if (atomic_exchange(&pr->down, !answered) && answered)
		atomic_fetch_add(&pr->back, 1);
	atomic_store(&pr->held_since, 0);
	pthread_mutex_unlock(&pr->conn);
}

size_t rz_primaries_n_ok(struct rz_primaries *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n; i++)
		n += rz_zones_ok(p->p[i].zones);
	return n;
}

size_t rz_primaries_log_ready(struct rz_primaries *p)
{
	char **amb = NULL;
	size_t n_amb = 0, n_ok = 0;

	for (size_t i = 0; i < p->n; i++) {
		bool ok = rz_zones_ok(p->p[i].zones);

		n_ok += ok;
		if (p->n > 1 || !ok)
			rz_log(ok ? RZ_LOG_INFO : RZ_LOG_WARN, "knot primary '%s' (%s): %s%zu zones",
			       p->p[i].cfg->name, p->p[i].cfg->socket, ok ? "" : "NOT answering; ",
			       rz_zones_count(p->p[i].zones));
	}
	if (rz_primaries_ambiguous(p, &amb, &n_amb) != 0)
		rz_log(RZ_LOG_ERR, "out of memory looking for zones listed by two primaries");
	for (size_t i = 0; i < n_amb; i++)
		rz_log(RZ_LOG_ERR, "zone %s is listed by more than one knot primary: enables in it "
		       "are refused until only one serves it", amb[i]);
	rz_primaries_names_free(amb, n_amb);
	return n_ok;
}

bool rz_primaries_take_back(struct rz_primaries *p, char *name, size_t len)
{
	for (size_t i = 0; i < p->n; i++) {
		struct rz_primary_rt *pr = &p->p[i];
		uint64_t now = atomic_load(&pr->back) + rz_zones_recoveries(pr->zones);

		if (atomic_exchange(&pr->back_seen, now) != now) {
			snprintf(name, len, "%s", pr->cfg->name);
			return true;
		}
	}
	return false;
}
