/*
 * feed.c - state changes on the PUB socket.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "daemon/feed.h"

void rz_feed_init(struct rz_feed *f, void *pub)
{
	f->pub = pub;
	pthread_mutex_init(&f->lock, NULL);
}

void rz_feed_publish(struct rz_feed *f, const struct rz_state *st)
{
	json_t *j = rz_state_json(st);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text == NULL || f->pub == NULL) {
		free(text);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (zmq_send(f->pub, st->domain, strlen(st->domain), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
		zmq_send(f->pub, text, strlen(text), ZMQ_DONTWAIT);
	pthread_mutex_unlock(&f->lock);
	free(text);
}

void rz_feed_destroy(struct rz_feed *f)
{
	pthread_mutex_destroy(&f->lock);
}
