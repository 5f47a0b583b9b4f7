/*
 * ctl_link.c - regzonectl's link to the request socket and the one-request commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>


#include "daemon/ctl.h"
#include "daemon/db.h"
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

/* ------------------------------------------------------------------ replies */


int reply_parse(const json_t *o, struct ctl_reply *r, char *err, size_t errlen)
{
	const json_t *ok, *st, *e;
	char why[256];

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "reply must be a JSON object");
		return -1;
	}
	ok = json_object_get(o, "ok");
	if (!json_is_boolean(ok)) {
		snprintf(err, errlen, "\"ok\" must be a boolean");
		return -1;
	}
	r->ok = json_is_true(ok);
	if (rz_json_take_str(o, "id", !r->ok, false, r->id, sizeof(r->id), err, errlen) != 0)
		return -1;
	if (r->ok) {
		st = json_object_get(o, "state");
		if (rz_state_from_json(st, &r->state, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "state: %s", why);
			return -1;
		}
		return 0;
	}
	e = json_object_get(o, "error");
	if (!json_is_object(e)) {
		snprintf(err, errlen, "\"error\" must be an object");
		return -1;
	}
	if (rz_json_take_str(e, "code", false, false, r->code, sizeof(r->code), err,
	                     errlen) != 0 ||
	    rz_json_take_str(e, "message", false, true, r->message, sizeof(r->message), err,
	                     errlen) != 0)
		return -1;
	if (r->code[0] == '\0' || strspn(r->code, "abcdefghijklmnopqrstuvwxyz_") != strlen(r->code)) {
		snprintf(err, errlen, "\"code\" must be a lowercase word");
		return -1;
	}
	return 0;
}

void reply_print_error(const struct ctl_args *a, const struct ctl_reply *r)
{
	refusal_print(a, r->code, r->message);
}

/* ------------------------------------------------------------ ZeroMQ link */


/* The client's CURVE key directory when the config turns CURVE on:
 * EXIT_OK with *dir (NULL when CURVE is off), or EXIT_USAGE. */
int curve_key_dir(const struct ctl_args *a, const struct rz_config *cfg,
                         const char **dir)
{
	*dir = NULL;
	if (!cfg->curve)
		return EXIT_OK;
	*dir = a->key != NULL ? a->key : getenv("REGZONE_CURVE_KEY_DIR");
	if (*dir == NULL || (*dir)[0] == '\0') {
		fprintf(stderr, "regzonectl: %s turns CURVE on for the request socket: give this "
		        "client's key pair with --key DIR or REGZONE_CURVE_KEY_DIR (a directory "
		        "written by \"regzonectl keygen DIR\")\n", cfg->path);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Set sock up as a CURVE client of the server whose public key the config
 * names (listen.curve.public_key or public_key_file: regzonectl never needs
 * the server's secret key); EXIT_OK, EXIT_USAGE (client key) or
 * EXIT_REFUSED. */
int curve_setup(void *sock, const struct rz_config *cfg, const char *dir)
{
	char srv_pub[RZ_CURVE_KEY_LEN + 1], cl_sec[RZ_CURVE_KEY_LEN + 1] = "";
	char cl_pub[RZ_CURVE_KEY_LEN + 1], path[4096], err[4200];
	int rc = EXIT_USAGE;

	if ((size_t)snprintf(path, sizeof(path), "%s/curve.key", dir) >= sizeof(path)) {
		fprintf(stderr, "regzonectl: --key: path too long\n");
		return EXIT_USAGE;
	}
	if (rz_curve_key_read(path, true, cl_sec, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: this client's CURVE key: %s\n", err);
		goto out;
	}
	rc = EXIT_REFUSED;
	if (rz_curve_server_public(cfg, srv_pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: the server's CURVE public key: %s\n", err);
		goto out;
	}
	if (zmq_curve_public(cl_pub, cl_sec) != 0) {
		fprintf(stderr, "regzonectl: CURVE unavailable: %s\n", zmq_strerror(errno));
		goto out;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, srv_pub, RZ_CURVE_KEY_LEN) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, cl_pub, RZ_CURVE_KEY_LEN) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, cl_sec, RZ_CURVE_KEY_LEN) != 0) {
		fprintf(stderr, "regzonectl: CURVE: %s\n", zmq_strerror(errno));
		goto out;
	}
	rc = EXIT_OK;
out:
	explicit_bzero(cl_sec, sizeof(cl_sec));
	return rc;
}

/* LINGER 0 (nothing is kept after close) and a bound on what is read. */
int sock_basics(void *s)
{
	int zero = 0;
	int64_t max = CTL_MSG_MAX;

	return zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	       zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ? -1 : 0;
}

/* A PAIR receiving sock's events (set up before sock connects); NULL on failure. */
void *monitor_open(void *ctx, void *sock, const char *name, int events)
{
	void *mon;
	int zero = 0;

	if (zmq_socket_monitor(sock, name, events) != 0)
		return NULL;
	mon = zmq_socket(ctx, ZMQ_PAIR);
	if (mon == NULL || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_connect(mon, name) != 0) {
		zmq_close(mon);
		zmq_socket_monitor(sock, NULL, 0);
		return NULL;
	}
	return mon;
}

void monitor_close(void *sock, void *mon)
{
	if (mon == NULL)
		return;
	zmq_socket_monitor(sock, NULL, 0);
	zmq_close(mon);
}

/*
 * Receive one whole message without waiting: its first max frames go to
 * parts[] (initialised here; the caller closes parts[0..min(*n, max))), the
 * rest is counted in *n and dropped.  0, or -1 when nothing was there.
 */
int recv_parts(void *sock, zmq_msg_t parts[], size_t max, size_t *n)
{
	*n = 0;
	for (;;) {
		zmq_msg_t extra, *m = *n < max ? &parts[*n] : &extra;
		int more;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			return *n > 0 ? 0 : -1;
		}
		more = zmq_msg_more(m);
		if (m == &extra)
			zmq_msg_close(&extra);
		(*n)++;
		if (!more)
			return 0;
	}
}

void close_parts(zmq_msg_t parts[], size_t max, size_t n)
{
	for (size_t i = 0; i < n && i < max; i++)
		zmq_msg_close(&parts[i]);
}

/* One monitor event (libzmq 4.x: [u16 event, u32 value], [endpoint]): 0 or -1. */
int monitor_event(void *mon, uint16_t *event, uint32_t *value)
{
	zmq_msg_t parts[1];
	size_t n;
	int ret = -1;

	if (recv_parts(mon, parts, 1, &n) != 0)
		return -1;
	if (zmq_msg_size(&parts[0]) == 6) {
		memcpy(event, zmq_msg_data(&parts[0]), 2);
		memcpy(value, (char *)zmq_msg_data(&parts[0]) + 2, 4);
		ret = 0;
	}
	close_parts(parts, 1, n);
	return ret;
}

void link_close(struct ctl_link *l)
{
	monitor_close(l->req, l->req_mon);
	zmq_close(l->req);
	if (l->ctx != NULL)
		zmq_ctx_term(l->ctx);
	memset(l, 0, sizeof(*l));
}

/* Context and DEALER connected to listen.requests: EXIT_OK, else an exit
 * code with the message printed (and l closed). */
int link_open(struct ctl_link *l, const struct rz_config *cfg, const char *key_dir)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->endpoint = cfg->requests;
	l->key_dir = key_dir;
	if ((l->ctx = zmq_ctx_new()) == NULL || (l->req = zmq_socket(l->ctx, ZMQ_DEALER)) == NULL ||
	    sock_basics(l->req) != 0) {
		fprintf(stderr, "regzonectl: ZeroMQ: %s\n", zmq_strerror(errno));
		rc = EXIT_REFUSED;
		goto fail;
	}
	if (key_dir != NULL && (rc = curve_setup(l->req, cfg, key_dir)) != EXIT_OK)
		goto fail;
	l->req_mon = monitor_open(l->ctx, l->req, "inproc://regzonectl.req",
	                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	                          ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	if (l->req_mon == NULL || zmq_connect(l->req, l->endpoint) != 0) {
		fprintf(stderr, "regzonectl: cannot connect to %s: %s\n", l->endpoint,
		        zmq_strerror(errno));
		rc = EXIT_REFUSED;
		goto fail;
	}
	return EXIT_OK;
fail:
	link_close(l);
	return rc;
}

/* Send [empty, text]: 0, or -1 when it could not be queued within ms. */
int link_send(struct ctl_link *l, const char *text, int ms)
{
	size_t len = strlen(text);

	if (zmq_setsockopt(l->req, ZMQ_SNDTIMEO, &ms, sizeof(ms)) != 0)
		return -1;
	if (zmq_send(l->req, "", 0, ZMQ_SNDMORE) != 0 ||
	    zmq_send(l->req, text, len, 0) != (int)len)
		return -1;
	return 0;
}

/* Drain the DEALER's monitor.  EXIT_REFUSED (message printed) when regzoned
 * refused our key; other handshake failures are counted for the timeout
 * message, since a restarting daemon can cause them too. */
int link_monitor(struct ctl_link *l)
{
	uint16_t ev;
	uint32_t val;

	while (monitor_event(l->req_mon, &ev, &val) == 0) {
		if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && val == 400) {
			if (l->key_dir != NULL)
				fprintf(stderr, "regzonectl: unauthorized: regzoned at %s refused this "
				        "client's CURVE key (is %s/curve.pub listed under "
				        "listen.curve.clients?)\n", l->endpoint, l->key_dir);
			else
				fprintf(stderr, "regzonectl: unauthorized: regzoned at %s refused this "
				        "client\n", l->endpoint);
			return EXIT_REFUSED;
		}
		l->handshake_failures++;
	}
	return EXIT_OK;
}

int link_no_reply(const struct ctl_link *l, int secs)
{
	fprintf(stderr, "regzonectl: no reply from regzoned at %s within %d s\n", l->endpoint, secs);
	if (l->handshake_failures > 0)
		fprintf(stderr, "regzonectl: %u ZeroMQ handshake%s with it failed: check that both "
		        "sides agree on listen.curve (server key, this client's key)\n",
		        l->handshake_failures, l->handshake_failures == 1 ? "" : "s");
	return EXIT_UNREACHABLE;
}

/*
 * Read one message from the DEALER as a reply: 1 with *r filled, 0 when a
 * message came that is not a well-formed reply (err says why), -1 when
 * there was none.
 */
int link_read_reply(struct ctl_link *l, struct ctl_reply *r, char *err, size_t errlen)
{
	zmq_msg_t parts[2];
	json_error_t je;
	json_t *o = NULL;
	size_t n;
	int ret = 0;

	if (recv_parts(l->req, parts, 2, &n) != 0)
		return -1;
	if (n != 2 || zmq_msg_size(&parts[0]) != 0) {
		snprintf(err, errlen, "expected the frames [empty, json], got %zu frame%s%s", n,
		         n == 1 ? "" : "s", n >= 1 && zmq_msg_size(&parts[0]) != 0 ?
		         " not starting with an empty delimiter" : "");
		goto out;
	}
	o = json_loadb(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]),
	               JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		snprintf(err, errlen, "not JSON: %s", je.text);
		goto out;
	}
	if (reply_parse(o, r, err, errlen) == 0)
		ret = 1;
out:
	close_parts(parts, 2, n);
	json_decref(o);
	return ret;
}

/*
 * Send one request and wait up to secs for its reply.  EXIT_OK with *r
 * (either ok or an error reply), or an exit code with the message printed.
 */
int link_call(struct ctl_link *l, const char *text, const char *id, int secs,
                     struct ctl_reply *r)
{
	int64_t deadline = now_ms() + (int64_t)secs * 1000;
	char err[512];
	int rc;

	if (link_send(l, text, secs * 1000) != 0)
		return link_no_reply(l, secs);
	for (;;) {
		zmq_pollitem_t it[2] = {
			{ l->req, 0, ZMQ_POLLIN, 0 }, { l->req_mon, 0, ZMQ_POLLIN, 0 },
		};
		int64_t left = deadline - now_ms();
		int got;

		if (left <= 0)
			return link_no_reply(l, secs);
		if (zmq_poll(it, 2, (long)left) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "regzonectl: ZeroMQ: %s\n", zmq_strerror(errno));
			return EXIT_REFUSED;
		}
		if ((it[1].revents & ZMQ_POLLIN) && (rc = link_monitor(l)) != EXIT_OK)
			return rc;
		if (!(it[0].revents & ZMQ_POLLIN))
			continue;
		got = link_read_reply(l, r, err, sizeof(err));
		if (got == 1 && strcmp(r->id, id) != 0 && !(r->id[0] == '\0' && !r->ok)) {
			snprintf(err, sizeof(err), "it answers another request id");
			got = 0;
		}
		if (got == 0) {
			fprintf(stderr, "regzonectl: malformed reply from regzoned at %s: %s\n",
			        l->endpoint, err);
			return EXIT_REFUSED;
		}
		if (got == 1)
			return EXIT_OK;
	}
}

/* ----------------------------------------------------------- daemon commands */

/* --id, or "ctl-<host>-<pid>-<time>-<random hex>". */
void request_id(const struct ctl_args *a, char *id, size_t len)
{
	char host[256] = "";
	unsigned char rnd[8];
	char hex[sizeof(rnd) * 2 + 1];

	if (a->id != NULL) {
		snprintf(id, len, "%s", a->id);
		return;
	}
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "host");
	host[48] = '\0';
	for (char *c = host; *c != '\0'; c++)
		if (strchr(RZ_REQ_ID_CHARS, *c) == NULL || *c == '/' || *c == '@' || *c == ':')
			*c = '-';
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t t = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);

		memcpy(rnd, &t, sizeof(rnd));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	snprintf(id, len, "ctl-%s-%ld-%lld-%s", host, (long)getpid(), (long long)time(NULL), hex);
}

/* The request JSON text (malloc'ed), or NULL with the message printed. */
char *request_text(const struct ctl_args *a, const char *id, const char *action,
                          const char *service, const char *domain)
{
	json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "action", action,
	                        "service", service, "domain", domain);
	json_t *params = NULL;
	char *text = NULL;

	if (req == NULL)
		goto oom;
	if (strcmp(action, "enable") == 0) {
		if (a->profile != NULL && json_object_set_new(req, "profile",
		                                              json_string(a->profile)) != 0) {
			fprintf(stderr, "regzonectl: --profile is not valid UTF-8\n");
			goto out;
		}
		if (a->n_params > 0) {
			if ((params = json_object()) == NULL)
				goto oom;
			for (size_t i = 0; i < a->n_params; i++)
				if (json_object_set_new(params, a->params[i].key,
				                        json_string(a->params[i].val)) != 0) {
					fprintf(stderr, "regzonectl: --param %s: not valid UTF-8\n",
					        a->params[i].key);
					goto out;
				}
			if (json_object_set(req, "params", params) != 0)
				goto oom;
		}
	}
	if ((text = json_dumps(req, JSON_COMPACT)) == NULL)
		goto oom;
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	json_decref(params);
	json_decref(req);
	return text;
}

/* How long to wait before asking again after an "unavailable" (a
 * database restarting): 0.25 s doubling to 2 s. */
static int64_t again_ms(unsigned tries)
{
	return tries >= 3 ? 2000 : 250 << tries;
}

/* One request, one reply; a status is asked again (a new id) while the
 * daemon answers "unavailable" and time is left. */
static int request_reply(const struct ctl_args *a, struct ctl_link *l, const char *action,
                         const char *service, const char *domain, int secs,
                         struct ctl_reply *r)
{
	int64_t deadline = now_ms() + (int64_t)secs * 1000;
	char id[CTL_ID_MAX + 1];
	unsigned tries = 0;
	int rc;

	for (;;) {
		char *text;
		int64_t left = deadline - now_ms();

		request_id(a, id, sizeof(id));
		if ((text = request_text(a, id, action, service, domain)) == NULL)
			return EXIT_REFUSED;
		rc = link_call(l, text, id, left > 1000 ? (int)((left + 999) / 1000) : 1, r);
		free(text);
		if (rc != EXIT_OK || r->ok || strcmp(action, "status") != 0 ||
		    strcmp(r->code, "unavailable") != 0 ||
		    now_ms() + again_ms(tries) >= deadline)
			return rc;
		if (tries == 0)
			fprintf(stderr, "regzonectl: regzoned is unavailable for now (%s): asking "
			        "again until the timeout\n", r->message);
		usleep((useconds_t)(again_ms(tries++) * 1000));
	}
}

/* enable / disable / renew / status. */
static int run_request(const struct ctl_args *a, struct rz_config *cfg, const char *action)
{
	int secs = a->timeout_s > 0 ? a->timeout_s : CTL_REQ_TIMEOUT;
	char domain[ZG_OWNER_SIZE];
	const struct zg_profile *p;
	const char *dir;
	struct ctl_link l = { 0 };
	struct ctl_reply *r = NULL;
	int rc;

	if ((rc = curve_key_dir(a, cfg, &dir)) != EXIT_OK ||
	    (rc = arg_domain(a->pos[0], domain)) != EXIT_OK ||
	    (rc = arg_profile(a, cfg, &p)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		fprintf(stderr, "regzonectl: out of memory\n");
		goto out;
	}
	if ((rc = link_open(&l, cfg, dir)) != EXIT_OK ||
	    (rc = request_reply(a, &l, action, p->service, domain, secs, r)) != EXIT_OK)
		goto out;
	if (!r->ok) {
		reply_print_error(a, r);
		rc = EXIT_REFUSED;
	} else if (strcmp(r->state.domain, domain) != 0) {
		fprintf(stderr, "regzonectl: malformed reply from regzoned at %s: the state is "
		        "another domain's\n", l.endpoint);
		rc = EXIT_REFUSED;
	} else {
		rc = state_print(a, &r->state);
	}
out:
	if (rc == EXIT_UNREACHABLE)
		refusal_json(a, "unreachable", "no reply from regzoned within the timeout");
	link_close(&l);
	free(r);
	return rc;
}

int cmd_enable(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "enable");
}

int cmd_disable(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "disable");
}

int cmd_renew(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "renew");
}

int cmd_status(const struct ctl_args *a, struct rz_config *cfg)
{
	if (a->n_pos == 0)
		return cmd_status_all(a, cfg);
	return run_request(a, cfg, "status");
}
