/*
 * dnscheck_probe - a small command line over zonegen/dnscheck.h for
 * tests/integration/dnscheck.sh.
 *
 *   dnscheck_probe [-t MS] query ADDR PORT OWNER TYPE
 *       print the answered records, one zone-file line each (zg_rr_format)
 *   dnscheck_probe [-t MS] check present|absent ADDR@PORT[,ADDR@PORT...] FILE
 *       print "ok", "not yet: ..." or "error: ..."
 *   dnscheck_probe [-t MS] soa ADDR PORT ZONE
 *       print the SOA serial
 *   dnscheck_probe [-t MS] threads N ROUNDS ADDR@PORT[,...] FILE
 *       N threads, each running ROUNDS "check present" and queries of the
 *       records at once; print "ok" when every call returned 0
 *
 * FILE holds zone-file lines "owner ttl IN TYPE data" (split at the first
 * four spaces; empty lines and lines starting with ';' are skipped).
 * Exit status: 0 ok, 1 not yet (ZG_EAGAIN), 2 any error or usage error.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zonegen/dnscheck.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define PROBE_MAX_SERVERS 8
#define PROBE_MAX_ANSWER  256

struct servers {
	char text[PROBE_MAX_SERVERS][64];
	struct zg_dns_server srv[PROBE_MAX_SERVERS];
	size_t n;
};

struct records {
	struct zg_rr *rr;
	size_t n;
};

static int usage(void)
{
	fprintf(stderr,
	        "usage: dnscheck_probe [-t MS] query ADDR PORT OWNER TYPE\n"
	        "       dnscheck_probe [-t MS] check present|absent ADDR@PORT[,...] FILE\n"
	        "       dnscheck_probe [-t MS] soa ADDR PORT ZONE\n"
	        "       dnscheck_probe [-t MS] threads N ROUNDS ADDR@PORT[,...] FILE\n");
	return 2;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return ZG_EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return ZG_EINVAL;
	*out = v;
	return 0;
}

/* "ADDR@PORT,ADDR@PORT": the port follows the last '@' of each item. */
static int parse_servers(const char *list, struct servers *s)
{
	const char *p = list;

	memset(s, 0, sizeof(*s));
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		char *at;
		unsigned long port;

		if (s->n == PROBE_MAX_SERVERS || len == 0 || len >= sizeof(s->text[0]))
			return ZG_EINVAL;
		memcpy(s->text[s->n], p, len);
		s->text[s->n][len] = '\0';
		at = strrchr(s->text[s->n], '@');
		if (at == NULL || parse_uint(at + 1, 65535, &port) != 0)
			return ZG_EINVAL;
		*at = '\0';
		s->srv[s->n].address = s->text[s->n];
		s->srv[s->n].port = (uint16_t)port;
		s->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	return s->n > 0 ? 0 : ZG_EINVAL;
}

/* Split off the next space-separated field of *s. */
static char *field(char **s)
{
	char *f = *s, *sp;

	if (f == NULL)
		return NULL;
	sp = strchr(f, ' ');
	if (sp != NULL) {
		*sp = '\0';
		*s = sp + 1;
	} else {
		*s = NULL;
	}
	return f;
}

static int load_records(const char *path, struct records *out)
{
	FILE *f = NULL;
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 64];
	unsigned lineno = 0;
	int ret = 0;

	out->rr = NULL;
	out->n = 0;
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "dnscheck_probe: %s: %s\n", path, strerror(errno));
		ret = ZG_EIO;
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *rest = line, *owner, *ttl, *class, *type;
		unsigned long v;
		struct zg_rr *tmp, *rr;
		enum zg_rtype t;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == ';')
			continue;
		owner = field(&rest);
		ttl = field(&rest);
		class = field(&rest);
		type = field(&rest);
		if (rest == NULL || parse_uint(ttl, UINT32_MAX, &v) != 0 || class == NULL ||
		    strcmp(class, "IN") != 0 || zg_rtype_from_name(type, &t) != 0 ||
		    strlen(owner) >= sizeof(rr->owner) || strlen(rest) >= sizeof(rr->data)) {
			fprintf(stderr, "dnscheck_probe: %s:%u: want 'owner ttl IN TYPE data'\n",
			        path, lineno);
			ret = ZG_ESYNTAX;
			goto out;
		}
		tmp = realloc(out->rr, (out->n + 1) * sizeof(*tmp));
		if (tmp == NULL) {
			ret = ZG_ENOMEM;
			goto out;
		}
		out->rr = tmp;
		rr = &out->rr[out->n++];
		memset(rr, 0, sizeof(*rr));
		strcpy(rr->owner, owner);
		rr->ttl = (uint32_t)v;
		rr->type = t;
		strcpy(rr->data, rest);
	}
	if (ferror(f))
		ret = ZG_EIO;
out:
	if (f != NULL)
		fclose(f);
	if (ret != 0) {
		free(out->rr);
		out->rr = NULL;
		out->n = 0;
	}
	return ret;
}

static int exit_code(int ret)
{
	return ret == 0 ? 0 : ret == ZG_EAGAIN ? 1 : 2;
}

static int cmd_query(int argc, char **argv, uint32_t timeout)
{
	struct zg_dns_server srv;
	struct zg_rr *rr = NULL;
	unsigned long port;
	enum zg_rtype t;
	char err[512] = "", line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32];
	size_t n = 0;
	int ret;

	if (argc != 4 || parse_uint(argv[1], 65535, &port) != 0 ||
	    zg_rtype_from_name(argv[3], &t) != 0)
		return usage();
	srv.address = argv[0];
	srv.port = (uint16_t)port;
	rr = calloc(PROBE_MAX_ANSWER, sizeof(*rr));
	if (rr == NULL)
		return 2;
	ret = zg_dns_query(&srv, argv[2], t, timeout, rr, PROBE_MAX_ANSWER, &n, err, sizeof(err));
	if (ret == 0) {
		for (size_t i = 0; i < n && ret == 0; i++)
			if ((ret = zg_rr_format(&rr[i], line, sizeof(line))) == 0)
				fputs(line, stdout);
	} else {
		fprintf(stderr, "dnscheck_probe: %s (%s)\n", err, zg_strerror(ret));
	}
	free(rr);
	return exit_code(ret);
}

static int cmd_check(int argc, char **argv, uint32_t timeout)
{
	struct servers s;
	struct records r = { NULL, 0 };
	char err[512] = "";
	int present, ret;

	if (argc != 3 || parse_servers(argv[1], &s) != 0)
		return usage();
	if (strcmp(argv[0], "present") == 0)
		present = 1;
	else if (strcmp(argv[0], "absent") == 0)
		present = 0;
	else
		return usage();
	if ((ret = load_records(argv[2], &r)) != 0)
		return 2;
	ret = zg_dns_check(s.srv, s.n, r.rr, r.n, present, timeout, err, sizeof(err));
	if (ret == 0)
		printf("ok\n");
	else if (ret == ZG_EAGAIN)
		printf("not yet: %s\n", err);
	else
		printf("error: %s (%s)\n", err, zg_strerror(ret));
	free(r.rr);
	return exit_code(ret);
}

static int cmd_soa(int argc, char **argv, uint32_t timeout)
{
	struct zg_dns_server srv;
	unsigned long port;
	uint32_t serial = 0;
	char err[512] = "";
	int ret;

	if (argc != 3 || parse_uint(argv[1], 65535, &port) != 0)
		return usage();
	srv.address = argv[0];
	srv.port = (uint16_t)port;
	ret = zg_dns_soa_serial(&srv, argv[2], timeout, &serial, err, sizeof(err));
	if (ret == 0)
		printf("%u\n", (unsigned)serial);
	else
		fprintf(stderr, "dnscheck_probe: %s (%s)\n", err, zg_strerror(ret));
	return exit_code(ret);
}

struct job {
	const struct servers *s;
	const struct records *r;
	unsigned long rounds;
	uint32_t timeout;
	unsigned long failures;
	char err[512];
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct zg_rr out[8];
	char err[512];
	size_t n;

	for (unsigned long k = 0; k < j->rounds; k++) {
		int ret = zg_dns_check(j->s->srv, j->s->n, j->r->rr, j->r->n, 1, j->timeout,
		                       err, sizeof(err));

		for (size_t i = 0; ret == 0 && i < j->r->n; i++) {
			const struct zg_rr *want = &j->r->rr[(k + i) % j->r->n];

			ret = zg_dns_query(&j->s->srv[k % j->s->n], want->owner, want->type,
			                   j->timeout, out, 8, &n, err, sizeof(err));
			if (ret == 0 && n == 0) {
				snprintf(err, sizeof(err), "no %s at %s", zg_rtype_name(want->type),
				         want->owner);
				ret = ZG_EIO;
			}
		}
		if (ret != 0) {
			if (j->failures++ == 0)
				snprintf(j->err, sizeof(j->err), "%s", err);
		}
	}
	return NULL;
}

static int cmd_threads(int argc, char **argv, uint32_t timeout)
{
	struct servers s;
	struct records r = { NULL, 0 };
	struct job *jobs = NULL;
	pthread_t *tids = NULL;
	unsigned long nthreads, rounds, failures = 0, started = 0;
	int ret = 0;

	if (argc != 4 || parse_uint(argv[0], 256, &nthreads) != 0 || nthreads == 0 ||
	    parse_uint(argv[1], 100000, &rounds) != 0 || parse_servers(argv[2], &s) != 0)
		return usage();
	if (load_records(argv[3], &r) != 0 || r.n == 0) {
		ret = 2;
		goto out;
	}
	jobs = calloc(nthreads, sizeof(*jobs));
	tids = calloc(nthreads, sizeof(*tids));
	if (jobs == NULL || tids == NULL) {
		ret = 2;
		goto out;
	}
	for (unsigned long i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){ .s = &s, .r = &r, .rounds = rounds, .timeout = timeout };
		if (pthread_create(&tids[i], NULL, job_run, &jobs[i]) != 0)
			break;
		started++;
	}
	for (unsigned long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	for (unsigned long i = 0; i < started; i++) {
		if (jobs[i].failures > 0 && failures == 0)
			printf("error: %s\n", jobs[i].err);
		failures += jobs[i].failures;
	}
	if (started != nthreads) {
		printf("error: started %lu of %lu threads\n", started, nthreads);
		ret = 2;
	} else if (failures > 0) {
		printf("error: %lu of %lu rounds failed\n", failures, nthreads * rounds);
		ret = 2;
	} else {
		printf("ok %lu threads x %lu rounds\n", nthreads, rounds);
	}
out:
	free(jobs);
	free(tids);
	free(r.rr);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long timeout = 1000;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		if (parse_uint(argv[2], 600000, &timeout) != 0 || timeout == 0)
			return usage();
		i = 3;
	}
	if (i >= argc)
		return usage();
	if (strcmp(argv[i], "query") == 0)
		return cmd_query(argc - i - 1, argv + i + 1, (uint32_t)timeout);
	if (strcmp(argv[i], "check") == 0)
		return cmd_check(argc - i - 1, argv + i + 1, (uint32_t)timeout);
	if (strcmp(argv[i], "soa") == 0)
		return cmd_soa(argc - i - 1, argv + i + 1, (uint32_t)timeout);
	if (strcmp(argv[i], "threads") == 0)
		return cmd_threads(argc - i - 1, argv + i + 1, (uint32_t)timeout);
	return usage();
}
