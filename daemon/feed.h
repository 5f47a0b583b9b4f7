/*
 * feed.h - the PUB feed: every state change as two frames, the domain (the
 * topic) and the state object (request.h's rz_state_json()).  Publishing
 * never blocks: a subscriber too slow to keep up loses messages (the
 * socket's high-water mark), never the daemon its time.
 */
#ifndef RZ_FEED_H
#define RZ_FEED_H

#include <pthread.h>

#include "daemon/request.h"

struct rz_feed {
	void *pub;               /* the bound ZMQ_PUB socket (listen.h) */
	pthread_mutex_t lock;    /* threads share the socket */
};

void rz_feed_init(struct rz_feed *f, void *pub);
void rz_feed_publish(struct rz_feed *f, const struct rz_state *st);
void rz_feed_destroy(struct rz_feed *f);

#endif
