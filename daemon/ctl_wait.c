/*
 * ctl_wait.c - regzonectl wait: the feed and the request socket together.
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


/* wait --until: when a state counts as reached. */
static bool until_active(const struct rz_state *s)
{
	return s->active;
}

static bool until_published(const struct rz_state *s)
{
	return s->dns == RZ_DNS_PUBLISHED;
}

static bool until_conflict(const struct rz_state *s)
{
	return s->dns == RZ_DNS_CONFLICT;
}

static bool until_disabled(const struct rz_state *s)
{
	return s->desired == RZ_DESIRED_DISABLED && s->dns == RZ_DNS_REMOVED;
}

static bool until_failed(const struct rz_state *s)
{
	return s->dns == RZ_DNS_ERROR || s->cert == RZ_CERT_FAILED;
}

const char *const until_names[] = {
	"active", "published", "conflict", "disabled", "failed", NULL
};
static bool (*const until_tests[])(const struct rz_state *) = {
	until_active, until_published, until_conflict, until_disabled, until_failed,
};

struct ctl_wait {
	const struct ctl_args *a;
	struct ctl_link l;
	void *sub;                   /* SUB on listen.feed, topic = domain */
	void *sub_mon;               /* its handshakes */
	char domain[ZG_OWNER_SIZE];
	const char *service;
	bool (*reached)(const struct rz_state *);
	char id_base[CTL_ID_MAX - 16];
	unsigned n_sent;             /* status requests sent: ids id_base-1.. */
	bool answered;               /* regzoned said something (reply or feed) */
	bool have_last;
	bool feed_warned;
	unsigned n_unavailable;      /* "unavailable" replies so far */
	int64_t again_at;            /* ask for the state again then (0: no) */
	struct rz_state last;
	struct ctl_reply reply;
	struct rz_state feed_state;
};

/* Ask for the current state again (after the feed (re)connects). */
static int wait_send_status(struct ctl_wait *w, int64_t deadline)
{
	char id[CTL_ID_MAX + 1];
	char *text;
	int64_t left = deadline - now_ms();
	int ret;

	if (left <= 0)
		return 0;
	snprintf(id, sizeof(id), "%s-%u", w->id_base, ++w->n_sent);
	if ((text = request_text(w->a, id, "status", w->service, w->domain)) == NULL)
		return -1;
	ret = link_send(&w->l, text, (int)left);
	free(text);
	return ret == 0 || errno == EAGAIN ? 0 : -1;
}

/* A state seen: 1 when it meets the condition (printed), else 0. */
static int wait_consider(struct ctl_wait *w, const struct rz_state *s)
{
	if (strcmp(s->domain, w->domain) != 0 || strcmp(s->service, w->service) != 0)
		return 0;
	if (!w->have_last || strcmp(s->updated_at, w->last.updated_at) >= 0) {
		w->last = *s;
		w->have_last = true;
	}
	return w->reached(s) ? 1 : 0;
}

static void wait_feed_warn(struct ctl_wait *w, const char *why)
{
	if (w->feed_warned)
		return;
	w->feed_warned = true;
	fprintf(stderr, "regzonectl: warning: ignoring a malformed message on the feed: %s\n", why);
}

/* One feed message: 1 when its state meets the condition, else 0. */
static int wait_feed(struct ctl_wait *w)
{
	zmq_msg_t parts[2];
	json_error_t je;
	json_t *o = NULL;
	char why[256];
	size_t n, dlen = strlen(w->domain);
	int ret = 0;

	if (recv_parts(w->sub, parts, 2, &n) != 0)
		return 0;
	/* ZeroMQ subscriptions match prefixes: the topic must be the domain. */
	if (zmq_msg_size(&parts[0]) != dlen || memcmp(zmq_msg_data(&parts[0]), w->domain, dlen) != 0)
		goto out;
	if (n != 2) {
		wait_feed_warn(w, "expected the frames [domain, state]");
		goto out;
	}
	o = json_loadb(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		wait_feed_warn(w, je.text);
		goto out;
	}
	if (rz_state_from_json(o, &w->feed_state, why, sizeof(why)) != 0) {
		wait_feed_warn(w, why);
		goto out;
	}
	w->answered = true;
	ret = wait_consider(w, &w->feed_state);
out:
	close_parts(parts, 2, n);
	json_decref(o);
	return ret;
}

/*
 * One reply on the DEALER: 1 when its state meets the condition (printed
 * by the caller), 0 to go on, or -1 when the wait must stop with *rc.
 */
static int wait_reply(struct ctl_wait *w, int *rc)
{
	char err[512];
	size_t blen = strlen(w->id_base);
	int got = link_read_reply(&w->l, &w->reply, err, sizeof(err));

	if (got < 0)
		return 0;
	if (got == 0) {
		fprintf(stderr, "regzonectl: malformed reply from regzoned at %s: %s\n",
		        w->l.endpoint, err);
		*rc = EXIT_REFUSED;
		return -1;
	}
	if (w->reply.id[0] != '\0' &&
	    (strncmp(w->reply.id, w->id_base, blen) != 0 || w->reply.id[blen] != '-'))
		return 0;    /* not one of ours */
	w->answered = true;
	if (!w->reply.ok && strcmp(w->reply.code, "unavailable") == 0) {
		/* a database restarting: ask again (cmd_wait), until the timeout */
		if (w->n_unavailable++ == 0)
			fprintf(stderr, "regzonectl: regzoned is unavailable for now (%s): asking "
			        "again until the timeout\n", w->reply.message);
		w->again_at = now_ms() + (w->n_unavailable > 3 ? 2000 : 250 << (w->n_unavailable - 1));
		return 0;
	}
	if (!w->reply.ok) {
		reply_print_error(w->a, &w->reply);
		*rc = EXIT_REFUSED;
		return -1;
	}
	w->again_at = 0;
	return wait_consider(w, &w->reply.state);
}

/* Wait for the feed's first handshake, at most ms: true when it came. */
static bool wait_feed_up(struct ctl_wait *w, int64_t ms)
{
	int64_t until = now_ms() + ms;

	for (;;) {
		zmq_pollitem_t it = { w->sub_mon, 0, ZMQ_POLLIN, 0 };
		int64_t left = until - now_ms();
		uint16_t ev;
		uint32_t val;

		if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0)
			return false;
		while (monitor_event(w->sub_mon, &ev, &val) == 0)
			if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
				return true;
	}
}

static int wait_open_feed(struct ctl_wait *w, const struct rz_config *cfg)
{
	int rc;

	if ((w->sub = zmq_socket(w->l.ctx, ZMQ_SUB)) == NULL || sock_basics(w->sub) != 0) {
		fprintf(stderr, "regzonectl: ZeroMQ: %s\n", zmq_strerror(errno));
		return EXIT_REFUSED;
	}
	/* With CURVE on, the feed is CURVE too: the same key pair. */
	if (w->l.key_dir != NULL && (rc = curve_setup(w->sub, cfg, w->l.key_dir)) != EXIT_OK)
		return rc;
	if (zmq_setsockopt(w->sub, ZMQ_SUBSCRIBE, w->domain, strlen(w->domain)) != 0 ||
	    (w->sub_mon = monitor_open(w->l.ctx, w->sub, "inproc://regzonectl.feed",
	                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED)) == NULL ||
	    zmq_connect(w->sub, cfg->feed) != 0) {
		fprintf(stderr, "regzonectl: cannot subscribe to %s: %s\n", cfg->feed,
		        zmq_strerror(errno));
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/*
 * wait DOMAIN --until COND: subscribe to the domain's topic first, then ask
 * for its state, so no change between the two is missed; after that every
 * feed message and reply is checked.  Each later (re)connection of the feed
 * (regzoned restarted) asks for the state again.
 */
int cmd_wait(const struct ctl_args *a, struct rz_config *cfg)
{
	int secs = a->timeout_s > 0 ? a->timeout_s : CTL_WAIT_TIMEOUT;
	const struct zg_profile *p;
	const char *dir;
	struct ctl_wait *w;
	int64_t deadline;
	int rc;

	if ((rc = curve_key_dir(a, cfg, &dir)) != EXIT_OK)
		return rc;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		fprintf(stderr, "regzonectl: out of memory\n");
		return EXIT_REFUSED;
	}
	w->a = a;
	w->reached = until_tests[name_index(until_names, a->until)];
	if ((rc = arg_domain(a->pos[0], w->domain)) != EXIT_OK ||
	    (rc = arg_profile(a, cfg, &p)) != EXIT_OK)
		goto out;
	w->service = p->service;
	request_id(a, w->id_base, sizeof(w->id_base));   /* wait takes no --id */
	deadline = now_ms() + (int64_t)secs * 1000;
	if ((rc = link_open(&w->l, cfg, dir)) != EXIT_OK || (rc = wait_open_feed(w, cfg)) != EXIT_OK)
		goto out;
	wait_feed_up(w, CTL_FEED_SETTLE < (int64_t)secs * 1000 ? CTL_FEED_SETTLE : secs * 500);
	rc = EXIT_REFUSED;
	if (wait_send_status(w, deadline) != 0) {
		fprintf(stderr, "regzonectl: cannot send to %s: %s\n", w->l.endpoint,
		        zmq_strerror(errno));
		goto out;
	}
	for (;;) {
		zmq_pollitem_t it[4] = {
			{ w->l.req, 0, ZMQ_POLLIN, 0 }, { w->l.req_mon, 0, ZMQ_POLLIN, 0 },
			{ w->sub, 0, ZMQ_POLLIN, 0 }, { w->sub_mon, 0, ZMQ_POLLIN, 0 },
		};
		int64_t left = deadline - now_ms();
		uint16_t ev;
		uint32_t val;
		int got;

		if (left <= 0)
			break;
		if (w->again_at > 0 && w->again_at <= now_ms()) {
			w->again_at = 0;
			if (wait_send_status(w, deadline) != 0) {
				fprintf(stderr, "regzonectl: cannot send to %s: %s\n", w->l.endpoint,
				        zmq_strerror(errno));
				goto out;
			}
		}
		if (w->again_at > 0 && w->again_at - now_ms() < left)
			left = w->again_at - now_ms() > 0 ? w->again_at - now_ms() : 0;
		if (zmq_poll(it, 4, (long)left) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "regzonectl: ZeroMQ: %s\n", zmq_strerror(errno));
			goto out;
		}
		if ((it[1].revents & ZMQ_POLLIN) && (rc = link_monitor(&w->l)) != EXIT_OK)
			goto out;
		rc = EXIT_REFUSED;
		if (it[3].revents & ZMQ_POLLIN)
			while (monitor_event(w->sub_mon, &ev, &val) == 0)
				if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED &&
				    wait_send_status(w, deadline) != 0) {
					fprintf(stderr, "regzonectl: cannot send to %s: %s\n",
					        w->l.endpoint, zmq_strerror(errno));
					goto out;
				}
		if ((it[0].revents & ZMQ_POLLIN) && (got = wait_reply(w, &rc)) != 0) {
			if (got > 0)
				rc = state_print(a, &w->reply.state);
			goto out;
		}
		if ((it[2].revents & ZMQ_POLLIN) && wait_feed(w) == 1) {
			rc = state_print(a, &w->feed_state);
			goto out;
		}
	}
	if (!w->answered) {
		rc = link_no_reply(&w->l, secs);
		refusal_json(a, "unreachable", "no reply from regzoned within the timeout");
		goto out;
	}
	if (!w->have_last && w->n_unavailable > 0) {
		reply_print_error(a, &w->reply);
		rc = EXIT_REFUSED;
		goto out;
	}
	fprintf(stderr, "regzonectl: %s did not reach \"%s\" within %d s%s\n", w->domain,
	        a->until, secs, w->have_last ? " (last state seen on stdout)" : "");
	rc = EXIT_REFUSED;
	if (w->have_last)
		(void)state_print(a, &w->last);
out:
	monitor_close(w->sub, w->sub_mon);
	zmq_close(w->sub);
	link_close(&w->l);
	free(w);
	return rc;
}

