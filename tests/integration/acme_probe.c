/*
 * acme_probe - one certificate through regzone's ACME client against the
 * devstack (Pebble + knotd primary/secondary), for
 * tests/integration/acme_pebble.sh.
 *
 *   acme_probe -o DIR [-k ACCOUNT_KEY] [-x] [-v] NAME...
 *
 * -v logs every request (URL and status, never a body) and every wait.
 * -x publishes a wrong TXT value (the key authorization of another token):
 * the CA's validation fails, which exercises the failure path (exit 1,
 * records removed all the same).
 *
 * Environment (deploy/devstack's DIR/env): REGZONE_ACME_DIRECTORY,
 * REGZONE_ACME_CA (the CA bundle for Pebble's TLS listener; TLS is always
 * verified), REGZONE_KNOT_SOCKET, REGZONE_DNS_ADDR, REGZONE_DNS_PORT,
 * REGZONE_DNS2_PORT.
 *
 * Steps: account (mailto:ops@example.test, terms agreed; key DIR/account.key
 * unless -k, created 0600) -> newOrder(NAMES) -> every authorization ->
 * the _acme-challenge.<name> TXT values published through the Knot writer
 * in one control transaction per zone -> wait until both servers serve
 * them (zg_dns_check, bounded) -> answer the challenges -> poll the
 * authorizations and the order (Retry-After honoured, bounded) ->
 * finalize with a P-256 CSR -> poll -> download the chain -> DIR/fullchain.pem
 * and DIR/privkey.pem (0600) -> the TXT records removed (on every path once
 * published) and checked gone from both servers.
 *
 * stdout: "order: URL", "serial: HEX", "stats: requests N signed N
 * badNonce-retries N nonce-fetches N", "elapsed: S".  stderr: log lines
 * (each badNonce retry is one "badNonce" line) and errors; a CA refusal
 * prints "problem: TYPE: DETAIL" (and "subproblem: ..." lines).
 * Exit: 0 ok, 1 the CA refused (a problem document, or an invalid
 * authorization/order), 2 any other error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acct.h"
#include "acme/client.h"
#include "acme/csr.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"
#include "zonegen/knot.h"
#include "zonegen/zonegen.h"

#define MAX_NAMES 16
#define TXT_TTL 60
#define KNOT_TIMEOUT_MS 5000
#define DNS_TIMEOUT_MS 500
#define PUBLISH_WAIT_MS 30000
#define REMOVE_WAIT_MS 15000
#define CA_WAIT_MS 120000

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_ERROR = 2 };

struct chal {
	char name[ZG_OWNER_SIZE];      /* identifier */
	char zone[ZG_OWNER_SIZE];      /* its zone, no trailing dot */
	char authz_url[2048];
	char chall_url[2048];
	char value[ACME_B64_SHA256_SIZE];
	struct zg_krec rec;            /* the TXT record */
	bool needed;                   /* authorization pending: publish + answer */
	bool set;                      /* rec is in the zone because we added it */
	bool was_set;                  /* we added it at some point (removal check) */
};

struct probe {
	const char *outdir;
	const char *acct_path;
	bool wrong_value;
	const char *names[MAX_NAMES];
	size_t n_names;
	const char *knot_socket;
	struct zg_dns_server servers[2];
	struct acme_acct *acct;
	struct acme_client *client;
	struct chal ch[MAX_NAMES];
	size_t n_ch;
	struct acme_order order;
	struct acme_dkey *key;
	struct acme_csr *csr;
	char *pem;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		fprintf(stderr, "acme_probe: %s is not set (source the devstack's env)\n", name);
		exit(EXIT_ERROR);
	}
	return v;
}

static uint16_t env_port(const char *name)
{
	const char *v = env(name);
	char *end = NULL;
	unsigned long p = strtoul(v, &end, 10);

	if (*end != '\0' || p == 0 || p > 65535) {
		fprintf(stderr, "acme_probe: %s is not a port: %s\n", name, v);
		exit(EXIT_ERROR);
	}
	return (uint16_t)p;
}

/* What a failed ACME call means for the exit code; prints it. */
static int report(const char *step, int ret, const struct acme_error *e)
{
	fprintf(stderr, "acme_probe: %s: %s (%s)\n", step, e->msg[0] ? e->msg : rz_strerror(ret),
	        rz_strerror(ret));
	if (ret == RZ_EACME) {
		const struct acme_problem *pb = &e->problem;

		if (!e->has_problem) {
			printf("problem: (none): HTTP %ld\n", e->http_status);
			return EXIT_REFUSED;
		}
		printf("problem: %s: %s\n", pb->type, pb->detail);
		for (size_t i = 0; i < pb->n_sub; i++)
			fprintf(stderr, "subproblem: %s:%s %s: %s\n", pb->sub[i].identifier.type,
			        pb->sub[i].identifier.value, pb->sub[i].type, pb->sub[i].detail);
		fprintf(stderr, "acme_probe: the scheduler would %s\n",
		        acme_problem_class_name(acme_problem_class(pb)));
		return EXIT_REFUSED;
	}
	return EXIT_ERROR;
}

/* ------------------------------------------------------------------ DNS */

/* Records of ch[] that are in zone and match the filter. */
static size_t zone_recs(const struct probe *p, const char *zone, bool only_set,
                        struct zg_krec *out)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_ch; i++) {
		const struct chal *c = &p->ch[i];

		if (!c->needed || strcmp(c->zone, zone) != 0 || (only_set && !c->set))
			continue;
		out[n++] = c->rec;
	}
	return n;
}

/* Is rec (owner, type, data) among got[0..n)?  *ttl gets the TTL of any
 * TXT RRset at that owner. */
static bool present_in(const struct zg_krec *rec, const struct zg_krec *got, size_t n,
                       uint32_t *ttl)
{
	bool found = false;

	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(got[i].type, "TXT") != 0 || strcmp(got[i].owner, rec->owner) != 0)
			continue;
		if (ttl != NULL)
			*ttl = got[i].ttl;
		if (strcmp(got[i].data, rec->data) == 0)
			found = true;
	}
	return found;
}

/*
 * Publish (add = true) or remove this run's TXT records: one control
 * transaction per zone (begin, read the owners, set/unset only what must
 * change, commit; abort on any error).
 */
static int knot_edit(struct probe *p, bool add)
{
	struct zg_knot *k = NULL;
	struct zg_krec recs[MAX_NAMES], todo[MAX_NAMES], *got = NULL;
	const char *owners[MAX_NAMES];
	char err[512] = "";
	int ret, result = 0;

	ret = zg_knot_open(p->knot_socket, KNOT_TIMEOUT_MS, &k, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "acme_probe: knot: %s\n", err);
		return ret;
	}
	for (size_t i = 0; i < p->n_ch; i++) {
		const char *zone = p->ch[i].zone;
		size_t n, n_todo = 0, n_got = 0;
		bool first = true;

		if (!p->ch[i].needed || (!add && !p->ch[i].set))
			continue;
		for (size_t j = 0; j < i; j++)   /* each zone once */
			if (p->ch[j].needed && (add || p->ch[j].set) && strcmp(p->ch[j].zone, zone) == 0)
				first = false;
		if (!first)
			continue;
		n = zone_recs(p, zone, !add, recs);
		for (size_t j = 0; j < n; j++)
			owners[j] = recs[j].owner;
		ret = zg_knot_begin(k, zone, err, sizeof(err));
		if (ret != 0) {
			fprintf(stderr, "acme_probe: knot: zone-begin %s: %s\n", zone, err);
			result = ret;
			continue;
		}
		ret = zg_knot_get_many(k, zone, owners, n, &got, &n_got, err, sizeof(err));
		for (size_t j = 0; ret == 0 && j < n; j++) {
			uint32_t ttl = 0;
			bool there = present_in(&recs[j], got, n_got, &ttl);

			if (add && !there) {
				/* never rewrite an RRset's TTL: join the one there */
				if (ttl != 0)
					recs[j].ttl = ttl;
				todo[n_todo++] = recs[j];
			} else if (!add && there) {
				todo[n_todo++] = recs[j];
			}
		}
		free(got);
		got = NULL;
		if (ret == 0 && n_todo > 0)
			ret = add ? zg_knot_set_many(k, zone, todo, n_todo, err, sizeof(err))
			          : zg_knot_unset_many(k, zone, todo, n_todo, err, sizeof(err));
		if (ret == 0)
			ret = zg_knot_commit(k, zone, err, sizeof(err));
		if (ret != 0) {
			fprintf(stderr, "acme_probe: knot: %s %s: %s\n", add ? "publish in" : "remove from",
			        zone, err);
			zg_knot_abort(k, zone);
			result = ret;
			continue;
		}
		/* bookkeeping: what this run added (and must remove) */
		for (size_t c = 0; c < p->n_ch; c++) {
			struct chal *ch = &p->ch[c];

			if (!ch->needed || strcmp(ch->zone, zone) != 0)
				continue;
			for (size_t j = 0; j < n_todo; j++) {
				if (strcmp(todo[j].owner, ch->rec.owner) == 0 &&
				    strcmp(todo[j].data, ch->rec.data) == 0) {
					ch->set = add;
					if (add) {
						ch->was_set = true;
						ch->rec.ttl = todo[j].ttl;
					}
				}
			}
		}
		fprintf(stderr, "acme_probe: %s %zu TXT record(s) in %s (one transaction)\n",
		        add ? "published" : "removed", n_todo, zone);
	}
	zg_knot_close(k);
	return result;
}

/* Wait until both servers serve (present) or none serves (!present) the
 * records of the needed challenges. */
static int dns_wait(struct probe *p, bool present, unsigned max_ms, double *took)
{
	struct zg_rr rrs[MAX_NAMES];
	size_t n = 0;
	char err[512] = "";
	double t0 = now_s();
	unsigned delay = 50;
	int ret;

	for (size_t i = 0; i < p->n_ch; i++) {
		const struct chal *c = &p->ch[i];

		if (!c->needed || (!present && !c->was_set))
			continue;
		memset(&rrs[n], 0, sizeof(rrs[n]));
		snprintf(rrs[n].owner, sizeof(rrs[n].owner), "%s", c->rec.owner);
		rrs[n].ttl = c->rec.ttl;
		rrs[n].type = ZG_RR_TXT;
		snprintf(rrs[n].data, sizeof(rrs[n].data), "%s", c->rec.data);
		n++;
	}
	for (;;) {
		ret = zg_dns_check(p->servers, 2, rrs, n, present ? 1 : 0, DNS_TIMEOUT_MS, err,
		                   sizeof(err));
		if (ret == 0)
			break;
		if ((ret != RZ_EAGAIN && ret != RZ_EIO) || (now_s() - t0) * 1000 > max_ms) {
			fprintf(stderr, "acme_probe: DNS: records %s after %.1f s: %s\n",
			        present ? "not served" : "still served", now_s() - t0, err);
			return ret;
		}
		sleep_ms(delay);
		if (delay < 400)
			delay *= 2;
	}
	*took = now_s() - t0;
	return 0;
}

/* ------------------------------------------------------------------ ACME */

/* The client's log lines go to rz_log at their level (the same numbers). */
static void client_log(void *arg, int level, const char *msg)
{
	(void)arg;
	rz_log((enum rz_log_level)level, "%s", msg);
}

/* How long to wait before asking again: the CA's Retry-After when given,
 * else a short doubling backoff (the devstack's Pebble does not sleep). */
static unsigned next_wait_ms(const struct acme_error *e, unsigned *backoff)
{
	unsigned ms;

	rz_log(RZ_LOG_DEBUG, "%s%s", e->msg, e->retry_after_given ? " (Retry-After)" : "");
	if (e->retry_after_given)
		return e->retry_after_s * 1000u;
	ms = *backoff;
	if (*backoff < 2000)
		*backoff *= 2;
	return ms;
}

static int account(struct probe *p)
{
	static const char *const contact[] = { "mailto:ops@example.test" };
	struct acme_account_req req = { contact, 1, true, NULL, NULL };
	struct acme_error e;
	int ret = acme_account_register(p->client, &req, &e);

	if (ret != 0)
		return report("account", ret, &e);
	fprintf(stderr, "acme_probe: account %s\n", acme_client_account_url(p->client));
	return 0;
}

/* c->rec = _acme-challenge.NAME. 60 TXT "VALUE" */
static int set_record(struct chal *c)
{
	char owner[ZG_OWNER_SIZE + 32], data[ACME_B64_SHA256_SIZE + 2];
	int n = snprintf(owner, sizeof(owner), "_acme-challenge.%s.", c->name);

	if (n < 0 || (size_t)n >= sizeof(c->rec.owner))
		return RZ_ETOOLONG;
	snprintf(data, sizeof(data), "\"%s\"", c->value);
	memcpy(c->rec.owner, owner, (size_t)n + 1);
	memcpy(c->rec.data, data, strlen(data) + 1);
	memcpy(c->rec.type, "TXT", 4);
	c->rec.ttl = TXT_TTL;
	return 0;
}

static int prepare_challenges(struct probe *p)
{
	struct zg_knot *k = NULL;
	char err[512] = "";
	int ret, rc = 0;

	ret = zg_knot_open(p->knot_socket, KNOT_TIMEOUT_MS, &k, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "acme_probe: knot: %s\n", err);
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < p->order.n_authorizations && rc == 0; i++) {
		struct chal *c = &p->ch[p->n_ch];
		struct acme_authz az = { 0 };
		struct acme_error e;

		if (p->n_ch == MAX_NAMES) {
			fprintf(stderr, "acme_probe: too many authorizations\n");
			rc = EXIT_ERROR;
			break;
		}
		ret = acme_authz_get(p->client, p->order.authorizations[i], &az, &e);
		if (ret != 0) {
			rc = report("authorization", ret, &e);
			break;
		}
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", az.identifier);
		snprintf(c->authz_url, sizeof(c->authz_url), "%s", az.url);
		p->n_ch++;
		if (az.status == ACME_ST_VALID) {
			fprintf(stderr, "acme_probe: %s: authorization already valid (reused)\n", c->name);
		} else if (az.status != ACME_ST_PENDING) {
			fprintf(stderr, "acme_probe: %s: authorization is %s\n", c->name,
			        acme_status_name(az.status));
			printf("problem: (authorization %s)\n", acme_status_name(az.status));
			rc = EXIT_REFUSED;
		} else if (!az.has_dns01) {
			fprintf(stderr, "acme_probe: %s: the CA offers no dns-01 challenge\n", c->name);
			rc = EXIT_ERROR;
		} else {
			c->needed = true;
			snprintf(c->chall_url, sizeof(c->chall_url), "%s", az.dns01.url);
			if (acme_key_authz_dns(p->acct, p->wrong_value ? "wrong-token" : az.dns01.token,
			                       c->value) != 0 ||
			    acme_token_check(az.dns01.token) != 0) {
				fprintf(stderr, "acme_probe: %s: unusable token\n", c->name);
				rc = EXIT_ERROR;
			} else if (zg_knot_zone_of(k, c->name, c->zone, sizeof(c->zone), err,
			                           sizeof(err)) != 0) {
				fprintf(stderr, "acme_probe: %s: %s\n", c->name, err);
				rc = EXIT_ERROR;
			}
			if (rc == 0 && set_record(c) != 0) {
				fprintf(stderr, "acme_probe: %s: name too long for a challenge\n", c->name);
				rc = EXIT_ERROR;
			}
		}
		acme_authz_clear(&az);
	}
	zg_knot_close(k);
	return rc;
}

static int answer_and_wait(struct probe *p)
{
	double t0 = now_s();
	unsigned backoff = 100;

	for (size_t i = 0; i < p->n_ch; i++) {
		struct acme_error e;
		enum acme_status st;
		int ret;

		if (!p->ch[i].needed)
			continue;
		ret = acme_challenge_respond(p->client, p->ch[i].chall_url, &st, &e);
		if (ret != 0)
			return report("challenge", ret, &e);
	}
	for (size_t i = 0; i < p->n_ch; i++) {
		for (;;) {
			struct acme_authz az = { 0 };
			struct acme_error e;
			int ret = acme_authz_poll(p->client, p->ch[i].authz_url, &az, &e);

			acme_authz_clear(&az);
			if (ret == 0)
				break;
			if (ret != RZ_EAGAIN)
				return report("authorization", ret, &e);
			if ((now_s() - t0) * 1000 > CA_WAIT_MS) {
				fprintf(stderr, "acme_probe: authorization %s still pending after %d s\n",
				        p->ch[i].authz_url, CA_WAIT_MS / 1000);
				return EXIT_ERROR;
			}
			sleep_ms(next_wait_ms(&e, &backoff));
		}
	}
	return 0;
}

/* Poll the order until ready (want_valid false) or valid. */
static int order_wait(struct probe *p, bool want_valid)
{
	double t0 = now_s();
	unsigned backoff = 100;

	for (;;) {
		struct acme_error e;
		char *url = strdup(p->order.url);
		int ret;

		if (url == NULL)
			return EXIT_ERROR;
		acme_order_clear(&p->order);
		ret = acme_order_poll(p->client, url, &p->order, &e);
		if (p->order.url == NULL)
			p->order.url = url;
		else
			free(url);
		if (ret == 0 && (!want_valid || p->order.status == ACME_ST_VALID))
			return 0;
		if (ret == 0)   /* ready, but valid is wanted: not possible after finalize */
			return report("order", RZ_EPROTO, &e);
		if (ret != RZ_EAGAIN)
			return report("order", ret, &e);
		if ((now_s() - t0) * 1000 > CA_WAIT_MS) {
			fprintf(stderr, "acme_probe: order %s still %s after %d s\n", p->order.url,
			        acme_status_name(p->order.status), CA_WAIT_MS / 1000);
			return EXIT_ERROR;
		}
		sleep_ms(next_wait_ms(&e, &backoff));
	}
}

static int finalize_and_download(struct probe *p)
{
	struct acme_order after = { 0 };
	struct acme_error e;
	char err[256] = "";
	int ret;

	ret = acme_dkey_new(ACME_KEY_P256, &p->key);
	if (ret == 0)
		ret = acme_csr_new(p->key, p->names, p->n_names, &p->csr, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "acme_probe: CSR: %s\n", err[0] ? err : rz_strerror(ret));
		return EXIT_ERROR;
	}
	ret = acme_order_finalize(p->client, p->order.url, p->order.finalize, p->csr, &after, &e);
	acme_order_clear(&after);
	if (ret != 0)
		return report("finalize", ret, &e);
	ret = order_wait(p, true);
	if (ret != 0)
		return ret;
	ret = acme_cert_download(p->client, p->order.certificate, &p->pem, NULL, NULL, &e);
	if (ret != 0)
		return report("download", ret, &e);
	if (acme_dkey_check_cert(p->key, p->pem) != 0) {
		fprintf(stderr, "acme_probe: the certificate does not carry our key\n");
		return EXIT_ERROR;
	}
	return 0;
}

/* DIR/fullchain.pem (0644, atomically) and DIR/privkey.pem (0600). */
static int write_files(struct probe *p)
{
	char path[4096], tmp[4096], err[512] = "";
	size_t len = strlen(p->pem);
	int fd, ret;

	snprintf(path, sizeof(path), "%s/privkey.pem", p->outdir);
	ret = acme_key_write_pem(p->key, path, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "acme_probe: %s\n", err);
		return EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "%s/fullchain.pem", p->outdir);
	snprintf(tmp, sizeof(tmp), "%s/.fullchain.pem.tmp", p->outdir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, p->pem, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		fprintf(stderr, "acme_probe: %s: %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	return 0;
}

static void print_serial(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	printf("serial: %s\n", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
}

static int usage(void)
{
	fprintf(stderr, "usage: acme_probe -o DIR [-k ACCOUNT_KEY] [-x] [-v] NAME...\n");
	return EXIT_ERROR;
}

int main(int argc, char **argv)
{
	struct probe p;
	struct acme_client_opts opts = { 0 };
	struct acme_client_stats st;
	struct acme_error e;
	char keypath[4096], err[512] = "";
	double t0 = now_s(), took = 0;
	bool published = false;
	int opt, ret, rc = EXIT_ERROR;

	memset(&p, 0, sizeof(p));
	while ((opt = getopt(argc, argv, "o:k:xv")) != -1) {
		switch (opt) {
		case 'o':
			p.outdir = optarg;
			break;
		case 'k':
			p.acct_path = optarg;
			break;
		case 'x':
			p.wrong_value = true;
			break;
		case 'v':
			rz_log_set_level(RZ_LOG_DEBUG);
			break;
		default:
			return usage();
		}
	}
	if (p.outdir == NULL || optind >= argc || argc - optind > MAX_NAMES)
		return usage();
	for (int i = optind; i < argc; i++)
		p.names[p.n_names++] = argv[i];
	if (p.acct_path == NULL) {
		snprintf(keypath, sizeof(keypath), "%s/account.key", p.outdir);
		p.acct_path = keypath;
	}
	opts.directory_url = env("REGZONE_ACME_DIRECTORY");
	opts.ca_bundle = env("REGZONE_ACME_CA");
	opts.timeout_ms = 30000;
	opts.default_retry_s = 1;
	opts.log = client_log;
	p.knot_socket = env("REGZONE_KNOT_SOCKET");
	p.servers[0].address = env("REGZONE_DNS_ADDR");
	p.servers[0].port = env_port("REGZONE_DNS_PORT");
	p.servers[1].address = p.servers[0].address;
	p.servers[1].port = env_port("REGZONE_DNS2_PORT");

	if (mkdir(p.outdir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "acme_probe: %s: %s\n", p.outdir, strerror(errno));
		goto out;
	}
	ret = acme_acct_load(p.acct_path, 1, &p.acct, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "acme_probe: %s\n", err);
		goto out;
	}
	ret = acme_client_new(&opts, p.acct, &p.client, &e);
	if (ret != 0) {
		rc = report("client", ret, &e);
		goto out;
	}
	if ((rc = account(&p)) != 0)
		goto out;
	ret = acme_order_new(p.client, p.names, p.n_names, &p.order, &e);
	if (ret != 0) {
		rc = report("newOrder", ret, &e);
		goto out;
	}
	printf("order: %s\n", p.order.url);
	fflush(stdout);
	if ((rc = prepare_challenges(&p)) != 0)
		goto out;

	published = true;   /* from here on, clean up whatever was set */
	if (knot_edit(&p, true) != 0) {
		rc = EXIT_ERROR;
		goto out;
	}
	if (dns_wait(&p, true, PUBLISH_WAIT_MS, &took) != 0) {
		rc = EXIT_ERROR;
		goto out;
	}
	fprintf(stderr, "acme_probe: served by both servers after %.3f s\n", took);
	if ((rc = answer_and_wait(&p)) != 0 || (rc = order_wait(&p, false)) != 0 ||
	    (rc = finalize_and_download(&p)) != 0 || (rc = write_files(&p)) != 0)
		goto out;
	print_serial(p.pem);
	rc = EXIT_OK;
out:
	if (published) {
		if (knot_edit(&p, false) != 0) {
			fprintf(stderr, "acme_probe: the TXT records could not be removed\n");
			rc = EXIT_ERROR;
		} else if (dns_wait(&p, false, REMOVE_WAIT_MS, &took) != 0) {
			rc = EXIT_ERROR;
		} else {
			fprintf(stderr, "acme_probe: gone from both servers after %.3f s\n", took);
		}
	}
	if (p.client != NULL) {
		acme_client_get_stats(p.client, &st);
		printf("stats: requests %lu signed %lu badNonce-retries %lu nonce-fetches %lu\n",
		       st.requests, st.signed_posts, st.bad_nonce_retries, st.nonce_fetches);
	}
	printf("elapsed: %.3f\n", now_s() - t0);
	free(p.pem);
	acme_csr_free(p.csr);
	acme_dkey_free(p.key);
	acme_order_clear(&p.order);
	acme_client_free(p.client);
	acme_acct_free(p.acct);
	return rc;
}
