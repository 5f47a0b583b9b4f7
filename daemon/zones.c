/*
 * zones.c - the snapshot of knotd's zones and the thread that keeps it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/zones.h"
#include "zonegen/zonegen.h"
#include "zonegen/knot.h"

/* One listing: the names and an open-addressing index over them. */
struct zone_set {
	char **names;
	size_t n;
	char **slots;
	size_t n_slots;
};

struct rz_zones {
	char *name;                 /* the primary's, for logs */
	char *socket;
	uint32_t timeout_ms;
	pthread_t thread;
	int fd;                     /* the caller's eventfd: a listing finished */
	pthread_mutex_t lock;       /* everything below; never held across I/O */
	pthread_cond_t wake;
	struct zone_set *set;       /* latest good listing, NULL before the first */
	bool last_ok;               /* the latest listing succeeded */
	char last_error[512];
	uint64_t generation;        /* listings finished */
	uint64_t listed_ns;         /* start of the latest finished listing */
	uint64_t recoveries;        /* good listings after failed ones */
	bool asked, stopping;
	bool listing;               /* a listing is in progress */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t rz_zones_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t zone_hash(const char *name, size_t n_slots)
{
	size_t h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return h % n_slots;
}

static void set_free(struct zone_set *zs)
{
	if (zs == NULL)
		return;
	zg_knot_zones_free(zs->names, zs->n);
	free(zs->slots);
	free(zs);
}

static bool set_has(const struct zone_set *zs, const char *name)
{
	if (zs == NULL || zs->n_slots == 0)
		return false;
	for (size_t h = zone_hash(name, zs->n_slots); zs->slots[h] != NULL;
	     h = (h + 1) % zs->n_slots)
		if (strcmp(zs->slots[h], name) == 0)
			return true;
	return false;
}

/* List knotd's zones into a new set. */
static int list_zones(struct rz_zones *z, struct zone_set **out, char *err, size_t errlen)
{
	struct zone_set *zs = calloc(1, sizeof(*zs));
	struct zg_knot *k = NULL;
	int ret;

	*out = NULL;
	if (zs == NULL)
		return RZ_ENOMEM;
	if ((ret = zg_knot_open(z->socket, z->timeout_ms, &k, err, errlen)) != 0)
		goto fail;
	ret = zg_knot_zones(k, &zs->names, &zs->n, err, errlen);
	zg_knot_close(k);
	if (ret != 0)
		goto fail;
	zs->n_slots = zs->n * 2 + 1;
	if ((zs->slots = calloc(zs->n_slots, sizeof(*zs->slots))) == NULL) {
		ret = RZ_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < zs->n; i++) {
		size_t h = zone_hash(zs->names[i], zs->n_slots);

		while (zs->slots[h] != NULL)
			h = (h + 1) % zs->n_slots;
		zs->slots[h] = zs->names[i];
	}
	*out = zs;
	return 0;
fail:
	set_free(zs);
	return ret;
}

/* Wait until a listing is due: RZ_ZONES_REFRESH_S after the last one
 * started, or RZ_ZONES_ASK_MIN_S after it when asked.  Lock held. */
static void wait_due(struct rz_zones *z, double last_start)
{
	while (!z->stopping) {
		double now = mono(), due = last_start + (z->asked ? RZ_ZONES_ASK_MIN_S :
		                                         RZ_ZONES_REFRESH_S);
		struct timespec ts;

		if (now >= due)
			return;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		due -= now;
		ts.tv_sec += (time_t)due;
		ts.tv_nsec += (long)((due - (double)(time_t)due) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&z->wake, &z->lock, &ts);
	}
}

static void *zones_main(void *arg)
{
	struct rz_zones *z = arg;
	bool warned = false;
	double last_start = -1e9;
	uint64_t start_ns = 0;

	pthread_mutex_lock(&z->lock);
	for (;;) {
		struct zone_set *next = NULL, *old = NULL;
		char err[512] = "";
		uint64_t one = 1;
		int ret;

		wait_due(z, last_start);
		if (z->stopping)
			break;
		z->asked = false;
		z->listing = true;
		last_start = mono();
		start_ns = rz_zones_now_ns();
		pthread_mutex_unlock(&z->lock);
		ret = list_zones(z, &next, err, sizeof(err));
		pthread_mutex_lock(&z->lock);
		if (ret == 0) {
			old = z->set;
			z->set = next;
			if (warned) {
				rz_log(RZ_LOG_INFO, "knot primary '%s' answers again: %zu zones",
				       z->name, next->n);
				z->recoveries++;
			}
			warned = false;
		} else if (!warned) {
			rz_log(RZ_LOG_WARN, "cannot list the zones of knot primary '%s' (%s): %s "
			       "(enables of zones not listed before are answered 'unavailable')",
			       z->name, z->socket, err);
			warned = true;
		}
		z->last_ok = ret == 0;
		z->listing = false;
		snprintf(z->last_error, sizeof(z->last_error), "%s", ret == 0 ? "" : err);
		z->generation++;
		z->listed_ns = start_ns;
		if (write(z->fd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
			rz_log(RZ_LOG_WARN, "zones: eventfd: %s", strerror(errno));
		pthread_mutex_unlock(&z->lock);
		set_free(old);
		pthread_mutex_lock(&z->lock);
	}
	pthread_mutex_unlock(&z->lock);
	return NULL;
}

int rz_zones_start(const char *name, const char *knot_socket, uint32_t timeout_ms,
                   int notify_fd, struct rz_zones **out)
{
	struct rz_zones *z = calloc(1, sizeof(*z));
	pthread_condattr_t ca;
	int ret = RZ_EIO;

	*out = NULL;
	if (z == NULL || (z->socket = strdup(knot_socket)) == NULL ||
	    (z->name = strdup(name)) == NULL) {
		if (z != NULL)
			free(z->socket);
		free(z);
		return RZ_ENOMEM;
	}
	z->timeout_ms = timeout_ms;
	z->fd = notify_fd;
	pthread_mutex_init(&z->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&z->wake, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(z->last_error, sizeof(z->last_error), "knotd's zone list is not read yet");
	if (pthread_create(&z->thread, NULL, zones_main, z) != 0) {
		pthread_cond_destroy(&z->wake);
		pthread_mutex_destroy(&z->lock);
		free(z->socket);
		free(z->name);
		free(z);
		return ret;
	}
	*out = z;
	return 0;
}

void rz_zones_stop(struct rz_zones *z)
{
	if (z == NULL)
		return;
	pthread_mutex_lock(&z->lock);
	z->stopping = true;
	pthread_cond_signal(&z->wake);
	pthread_mutex_unlock(&z->lock);
	pthread_join(z->thread, NULL);
	set_free(z->set);
	pthread_cond_destroy(&z->wake);
	pthread_mutex_destroy(&z->lock);
	free(z->socket);
	free(z->name);
	free(z);
}

bool rz_zones_has(struct rz_zones *z, const char *zone)
{
	bool has;

	pthread_mutex_lock(&z->lock);
	has = set_has(z->set, zone);
	pthread_mutex_unlock(&z->lock);
	return has;
}

bool rz_zones_ok(struct rz_zones *z)
{
	bool ok;

	pthread_mutex_lock(&z->lock);
	ok = z->last_ok;
	pthread_mutex_unlock(&z->lock);
	return ok;
}

size_t rz_zones_count(struct rz_zones *z)
{
	size_t n;

	pthread_mutex_lock(&z->lock);
	n = z->set != NULL ? z->set->n : 0;
	pthread_mutex_unlock(&z->lock);
	return n;
}

int rz_zones_names(struct rz_zones *z, char ***names, size_t *n)
{
	char **v = NULL;
	size_t m = 0, i;
	int ret = 0;

	pthread_mutex_lock(&z->lock);
	m = z->set != NULL ? z->set->n : 0;
	if ((v = calloc(m ? m : 1, sizeof(*v))) == NULL)
		ret = RZ_ENOMEM;
	for (i = 0; ret == 0 && i < m; i++)
		if ((v[i] = strdup(z->set->names[i])) == NULL)
			ret = RZ_ENOMEM;
	pthread_mutex_unlock(&z->lock);
	if (ret != 0) {
		for (size_t j = 0; v != NULL && j < m; j++)
			free(v[j]);
		free(v);
		v = NULL;
		m = 0;
	}
	*names = v;
	*n = m;
	return ret;
}

uint64_t rz_zones_recoveries(struct rz_zones *z)
{
	uint64_t r;

	pthread_mutex_lock(&z->lock);
	r = z->recoveries;
	pthread_mutex_unlock(&z->lock);
	return r;
}

uint64_t rz_zones_listed_ns(struct rz_zones *z)
{
	uint64_t t;

	pthread_mutex_lock(&z->lock);
	t = z->listed_ns;
	pthread_mutex_unlock(&z->lock);
	return t;
}

void rz_zones_ask(struct rz_zones *z)
{
	pthread_mutex_lock(&z->lock);
	if (!z->asked) {
		z->asked = true;
		pthread_cond_signal(&z->wake);
	}
	pthread_mutex_unlock(&z->lock);
}

uint64_t rz_zones_generation(struct rz_zones *z)
{
	uint64_t g;

	pthread_mutex_lock(&z->lock);
	g = z->generation;
	pthread_mutex_unlock(&z->lock);
	return g;
}

void rz_zones_last_error(struct rz_zones *z, char *buf, size_t len)
{
	pthread_mutex_lock(&z->lock);
	snprintf(buf, len, "%s", z->last_error);
	pthread_mutex_unlock(&z->lock);
}
