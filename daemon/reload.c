/*
 * reload.c - the running configuration and its reload (see reload.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/reload.h"

/* One configuration and the references to it. */
struct gen {
	struct rz_config *cfg;
	unsigned refs;
	struct gen *next;
};

struct rz_live {
	pthread_mutex_t lock;
	struct gen *cur;        /* the current one, first of the list */
};

/* The keys a reload keeps as running: offset of the field, its size, how
 * it is compared; a list's count follows its pointer (off_n).  A NULL name
 * is a field derived from the one before (copied, never reported). */
enum kind { K_STR, K_STRV, K_MEM };

struct fixed {
	const char *name;
	size_t off, size;
	enum kind kind;
	size_t off_n;
};

#define F_STR(n, f) { n, offsetof(struct rz_config, f), sizeof(char *), K_STR, 0 }
#define F_STRV(n, f, c) \
	{ n, offsetof(struct rz_config, f), sizeof(char **), K_STRV, offsetof(struct rz_config, c) }
#define F_MEM(n, f) \
	{ n, offsetof(struct rz_config, f), sizeof(((struct rz_config *)0)->f), K_MEM, 0 }

/* Not listed, so applied by a reload: among others audit.retention_days
 * and events.retention_days, which the retention thread reads at each
 * round (retention.c); acme.renew_window_percent, which the next renewal
 * planned reads (certs_deploy.c; a planned renewal keeps its time). */
static const struct fixed restart_only[] = {
	F_STR("listen.requests", requests),
	F_STR("listen.feed", feed),
	F_STR("listen.socket_group", socket_group),
	F_MEM(NULL, socket_gid),
	F_MEM("listen.insecure_tcp", insecure_tcp),
	F_MEM("listen.curve", curve),
	F_STR("listen.curve.secret_key_file", curve_secret_file),
	F_STR("listen.curve.public_key", curve_public_key),
	F_STR("listen.curve.public_key_file", curve_public_key_file),
	F_STRV("listen.curve.clients", curve_clients, n_curve_clients),
	F_STR("database.conninfo", db_conninfo),
	F_MEM("database.connect_timeout_s", db_connect_timeout_s),
	F_MEM("database.statement_timeout_ms", db_statement_timeout_ms),
	F_STR("knot.socket", knot_socket),
	F_MEM("knot.timeout_ms", knot_timeout_ms),
	F_STR("acme.directory", acme_directory),
	F_STRV("acme.contact", acme_contact, n_acme_contact),
	F_MEM("acme.terms_agreed", acme_terms_agreed),
	F_STR("acme.account_key", acme_account_key),
	F_STR("acme.ca_bundle", acme_ca_bundle),
	F_MEM("acme.key_type", acme_key_type),
	F_STR("acme.eab.kid", acme_eab_kid),
	F_STR("acme.eab.hmac_key", acme_eab_hmac_key),
	F_STR("acme.public_suffix_list", acme_psl),
	F_STR("certificates.dir", cert_dir),
	F_STR("certificates.group", cert_group),
	F_MEM(NULL, cert_gid),
	F_STR("metrics.listen", metrics_listen),
	F_MEM(NULL, metrics_addr),
	F_MEM(NULL, metrics_port),
	F_MEM("workers", workers),
	F_MEM("step_timeout_s", step_timeout_s),
};

#define AT(cfg, off) ((char *)(cfg) + (off))

static bool str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool field_same(const struct fixed *f, const struct rz_config *a,
                       const struct rz_config *b)
{
	const char *pa = AT(a, f->off), *pb = AT(b, f->off);
	size_t na, nb;
	char **va, **vb;

	switch (f->kind) {
	case K_STR:
		return str_same(*(char *const *)pa, *(char *const *)pb);
	case K_STRV:
		na = *(const size_t *)AT(a, f->off_n);
		nb = *(const size_t *)AT(b, f->off_n);
		va = *(char **const *)pa;
		vb = *(char **const *)pb;
		for (size_t i = 0; na == nb && i < na; i++)
			if (!str_same(va[i], vb[i]))
				return false;
		return na == nb;
	case K_MEM:
		return memcmp(pa, pb, f->size) == 0;
	}
	return false;
}

/* next's field f, from the file, replaced by a copy of run's. */
static int copy_field(const struct fixed *f, struct rz_config *next, const struct rz_config *run)
{
	char **dst = (char **)(void *)AT(next, f->off);
	char ***vdst = (char ***)(void *)AT(next, f->off);
	size_t *ndst = (size_t *)(void *)AT(next, f->off_n), n;
	const char *src;
	char **vsrc;

	switch (f->kind) {
	case K_STR:
		src = *(char *const *)AT(run, f->off);
		free(*dst);
		*dst = NULL;
		return src == NULL || (*dst = strdup(src)) != NULL ? 0 : RZ_ENOMEM;
	case K_STRV:
		for (size_t i = 0; i < *ndst; i++)
			free((*vdst)[i]);
		free(*vdst);
		*vdst = NULL;
		*ndst = 0;
		n = *(const size_t *)AT(run, f->off_n);
		vsrc = *(char **const *)AT(run, f->off);
		if (n == 0)
			return 0;
		if ((*vdst = calloc(n, sizeof(char *))) == NULL)
			return RZ_ENOMEM;
		for (; *ndst < n; (*ndst)++)
			if (((*vdst)[*ndst] = strdup(vsrc[*ndst])) == NULL)
				return RZ_ENOMEM;
		return 0;
	case K_MEM:
		memcpy(AT(next, f->off), AT(run, f->off), f->size);
		return 0;
	}
	return RZ_EINVAL;
}

/*
 * knot.primaries: names, sockets and timeouts are restart-only (each
 * primary has its threads, lock and zone list); each primary's servers
 * reload, as dns.servers does.  When the set differs, next gets a copy of
 * the running primaries, servers included.
 */
static bool primaries_same(const struct rz_config *a, const struct rz_config *b)
{
	if (a->n_primaries != b->n_primaries)
		return false;
	for (size_t i = 0; i < a->n_primaries; i++)
		if (strcmp(a->primaries[i].name, b->primaries[i].name) != 0 ||
		    strcmp(a->primaries[i].socket, b->primaries[i].socket) != 0 ||
		    a->primaries[i].timeout_ms != b->primaries[i].timeout_ms)
			return false;
	return true;
}

static void primaries_free(struct rz_primary *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].socket);
		for (size_t j = 0; j < p[i].n_servers; j++)
			free(p[i].servers[j].address);
		free(p[i].servers);
	}
	free(p);
}

static int keep_primaries(struct rz_config *next, const struct rz_config *run, unsigned *differ)
{
	struct rz_primary *copy;
	size_t n = run->n_primaries;

	if (primaries_same(next, run))
		return 0;
	if (next->primaries_listed || run->primaries_listed) {
		rz_log(RZ_LOG_WARN, "reload: knot.primaries (names, sockets, timeouts) changed in "
		       "%s: it needs a restart; the running primaries are kept", run->path);
		(*differ)++;
	}
	if ((copy = calloc(n ? n : 1, sizeof(*copy))) == NULL)
		return RZ_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct rz_primary *r = &run->primaries[i];

		copy[i].timeout_ms = r->timeout_ms;
		if ((copy[i].name = strdup(r->name)) == NULL ||
		    (copy[i].socket = strdup(r->socket)) == NULL ||
		    (copy[i].servers = calloc(r->n_servers, sizeof(*r->servers))) == NULL) {
			primaries_free(copy, i + 1);
			return RZ_ENOMEM;
		}
		for (; copy[i].n_servers < r->n_servers; copy[i].n_servers++) {
			copy[i].servers[copy[i].n_servers].port = r->servers[copy[i].n_servers].port;
			if ((copy[i].servers[copy[i].n_servers].address =
			     strdup(r->servers[copy[i].n_servers].address)) == NULL) {
				primaries_free(copy, i + 1);
				return RZ_ENOMEM;
			}
		}
	}
	primaries_free(next->primaries, next->n_primaries);
	next->primaries = copy;
	next->n_primaries = n;
	next->primaries_listed = run->primaries_listed;
	return 0;
}

/* Give next the running values of every restart-only key (copies: run is
 * left as it is, threads may still read it); the keys that differed are
 * named in the log, *differ of them.  0 or RZ_ENOMEM. */
static int keep_running(struct rz_config *next, const struct rz_config *run, unsigned *differ)
{
	*differ = 0;
	for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++) {
		const struct fixed *f = &restart_only[i];

		if (f->name != NULL && !field_same(f, next, run)) {
			rz_log(RZ_LOG_WARN, "reload: %s changed in %s: it needs a restart; the "
			       "running value is kept", f->name, run->path);
			(*differ)++;
		}
		if (copy_field(f, next, run) != 0)
			return RZ_ENOMEM;
	}
	return keep_primaries(next, run, differ);
}

int rz_live_new(struct rz_config *cfg, struct rz_live **out)
{
	struct rz_live *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL || (l->cur = calloc(1, sizeof(*l->cur))) == NULL) {
		free(l);
		return RZ_ENOMEM;
	}
	pthread_mutex_init(&l->lock, NULL);
	l->cur->cfg = cfg;
	*out = l;
	return 0;
}

void rz_live_free(struct rz_live *l)
{
	struct gen *g, *next;

	if (l == NULL)
		return;
	for (g = l->cur; g != NULL; g = next) {
		next = g->next;
		if (g->refs != 0)
			rz_log(RZ_LOG_ERR, "configuration freed with %u references", g->refs);
		rz_config_free(g->cfg);
		free(g);
	}
	pthread_mutex_destroy(&l->lock);
	free(l);
}

const struct rz_config *rz_live_get(struct rz_live *l)
{
	const struct rz_config *cfg;

	pthread_mutex_lock(&l->lock);
	l->cur->refs++;
	cfg = l->cur->cfg;
	pthread_mutex_unlock(&l->lock);
	return cfg;
}

void rz_live_put(struct rz_live *l, const struct rz_config *cfg)
{
	struct gen **pp, *g, *gone = NULL;

	if (cfg == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	for (pp = &l->cur; (g = *pp) != NULL; pp = &g->next) {
		if (g->cfg != cfg)
			continue;
		if (g->refs > 0)
			g->refs--;
		if (g->refs == 0 && g != l->cur) {
			*pp = g->next;
			gone = g;
		}
		break;
	}
	pthread_mutex_unlock(&l->lock);
	if (gone != NULL) {
		rz_config_free(gone->cfg);
		free(gone);
	}
}

int rz_live_reload(struct rz_live *l, unsigned *restart_only_n, char *err, size_t errlen)
{
	struct rz_config *next = NULL, *run;
	struct gen *g = calloc(1, sizeof(*g)), *old = NULL;
	int ret;

	*restart_only_n = 0;
	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	pthread_mutex_lock(&l->lock);
	run = l->cur->cfg;
	pthread_mutex_unlock(&l->lock);
	/* run->path stays valid: only this thread replaces configurations. */
	if ((ret = rz_config_load(run->path, &next, err, errlen)) != 0) {
		free(g);
		return ret;
	}
	if ((ret = keep_running(next, run, restart_only_n)) != 0) {
		snprintf(err, errlen, "out of memory");
		rz_config_free(next);
		free(g);
		return ret;
	}
	pthread_mutex_lock(&l->lock);
	g->cfg = next;
	g->next = l->cur;
	l->cur = g;
	if (g->next->refs == 0) {
		old = g->next;
		g->next = old->next;
	}
	pthread_mutex_unlock(&l->lock);
	if (old != NULL) {
		rz_config_free(old->cfg);
		free(old);
	}
	return 0;
}
