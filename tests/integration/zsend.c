/*
 * zsend - send raw request bytes to regzoned's request socket, for tests and
 * benchmarks.
 *
 *   zsend [-t MS] [-k CLIENT_KEY_DIR -s SERVER_PUBLIC_KEY] ENDPOINT -     one message from stdin
 *   zsend [...] ENDPOINT JSON                                           one message
 *   zsend [...] -m FILE ENDPOINT                                        one message per line of
 *                                                                       FILE, all in flight at once
 *   zsend [...] -B BYTES ENDPOINT                                       one message of BYTES bytes
 *   zsend [...] -F N ENDPOINT JSON                                      JSON as a message of N frames
 *   zsend [-t MS] [-k DIR -s KEY] -S TOPIC ENDPOINT                     subscribe to the feed, print
 *                                                                       "TOPIC BODY" per message
 * One reply per line on stdout.  -m prints "N sent, N replies, N ok, S s,
 * R req/s" on stderr.  Exit 0 when every reply came (-S: when a message
 * came), 3 on timeout, 2 on usage or setup errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static int read_key(const char *path, char key[41])
{
	FILE *f = fopen(path, "r");
	int ok = f != NULL && fread(key, 1, 40, f) == 40;

	key[40] = '\0';
	if (f != NULL)
		fclose(f);
	return ok ? 0 : -1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int recv_reply(void *s, int timeout_ms, FILE *out, int *ok)
{
	zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
	char *buf = malloc(1 << 20);
	int n;

	if (buf == NULL || zmq_poll(&it, 1, timeout_ms) <= 0) {
		free(buf);
		return -1;
	}
	n = zmq_recv(s, buf, 1 << 20, 0);           /* empty delimiter */
	if (n == 0)
		n = zmq_recv(s, buf, (1 << 20) - 1, 0);
	if (n < 0) {
		free(buf);
		return -1;
	}
	if (n > (1 << 20) - 1)
		n = (1 << 20) - 1;
	buf[n] = '\0';
	if (strstr(buf, "\"ok\":true") != NULL)
		(*ok)++;
	if (out != NULL)
		fprintf(out, "%s\n", buf);
	free(buf);
	return 0;
}

/* -S: every feed message for timeout ms. */
static int subscribe(void *s, int timeout_ms)
{
	double end = now() + timeout_ms / 1000.0;
	int got = 0;

	for (;;) {
		zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
		double left = end - now();
		char topic[512], body[65536];
		int n, m, more = 0;
		size_t ml = sizeof(more);

		if (left <= 0 || zmq_poll(&it, 1, (long)(left * 1000)) <= 0)
			break;
		n = zmq_recv(s, topic, sizeof(topic) - 1, 0);
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
		m = more ? zmq_recv(s, body, sizeof(body) - 1, 0) : 0;
		if (n < 0 || m < 0)
			break;
		topic[n < (int)sizeof(topic) ? n : (int)sizeof(topic) - 1] = '\0';
		body[m < (int)sizeof(body) ? m : (int)sizeof(body) - 1] = '\0';
		printf("%s %s\n", topic, body);
		fflush(stdout);
		got++;
	}
	return got > 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
	const char *keydir = NULL, *server = NULL, *many = NULL, *topic = NULL;
	int timeout = 10000, opt, zero = 0, hwm = 0, ok = 0;
	long big = -1, frames = 0;
	void *ctx, *s;
	char key[41], sec[41], path[4096];

	while ((opt = getopt(argc, argv, "t:k:s:m:B:F:S:")) != -1) {
		switch (opt) {
		case 't': timeout = atoi(optarg); break;
		case 'k': keydir = optarg; break;
		case 's': server = optarg; break;
		case 'm': many = optarg; break;
		case 'B': big = atol(optarg); break;
		case 'F': frames = atol(optarg); break;
		case 'S': topic = optarg; break;
		default: return 2;
		}
	}
	if (optind >= argc || (many == NULL && big < 0 && topic == NULL && optind + 1 >= argc)) {
		fprintf(stderr, "usage: zsend [-t MS] [-k DIR -s KEY] [-m FILE | -B BYTES | -F N | "
		        "-S TOPIC] ENDPOINT [JSON|-]\n");
		return 2;
	}
	ctx = zmq_ctx_new();
	s = zmq_socket(ctx, topic != NULL ? ZMQ_SUB : ZMQ_DEALER);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (keydir != NULL && server != NULL) {
		snprintf(path, sizeof(path), "%s/curve.key", keydir);
		if (read_key(path, sec) != 0)
			return 2;
		snprintf(path, sizeof(path), "%s/curve.pub", keydir);
		if (read_key(path, key) != 0)
			return 2;
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, 40);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, key, 40);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
	}
	if (topic != NULL && zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0)
		return 2;
	if (zmq_connect(s, argv[optind]) != 0) {
		fprintf(stderr, "zsend: %s\n", zmq_strerror(zmq_errno()));
		return 2;
	}
	if (topic != NULL) {
		int rc = subscribe(s, timeout);

		zmq_close(s);
		zmq_ctx_term(ctx);
		return rc;
	}
	if (big >= 0 || frames > 0) {
		/* A hostile message: BYTES bytes, or N frames (an empty delimiter,
		 * then the JSON again and again). */
		char *buf = big >= 0 ? malloc((size_t)big + 1) : NULL;
		int rc = 0;

		if (big >= 0) {
			if (buf == NULL)
				return 2;
			memset(buf, 'x', (size_t)big);
			zmq_send(s, "", 0, ZMQ_SNDMORE);
			zmq_send(s, buf, (size_t)big, 0);
		} else {
			const char *msg = argv[optind + 1];

			zmq_send(s, "", 0, ZMQ_SNDMORE);
			for (long i = 1; i < frames; i++)
				zmq_send(s, msg, strlen(msg), i + 1 < frames ? ZMQ_SNDMORE : 0);
		}
		free(buf);
		if (recv_reply(s, timeout, stdout, &ok) != 0) {
			fprintf(stderr, "zsend: no reply within %d ms\n", timeout);
			rc = 3;
		}
		zmq_close(s);
		zmq_ctx_term(ctx);
		return rc;
	}
	if (many == NULL) {
		const char *msg = argv[optind + 1];
		char *buf = NULL;
		size_t len;

		if (strcmp(msg, "-") == 0) {
			FILE *f = open_memstream(&buf, &len);
			char chunk[4096];
			size_t n;

			while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
				fwrite(chunk, 1, n, f);
			fclose(f);
		} else {
			len = strlen(msg);
		}
		zmq_send(s, "", 0, ZMQ_SNDMORE);
		zmq_send(s, buf != NULL ? buf : msg, len, 0);
		free(buf);
		if (recv_reply(s, timeout, stdout, &ok) != 0) {
			fprintf(stderr, "zsend: no reply within %d ms\n", timeout);
			zmq_close(s);
			zmq_ctx_term(ctx);
			return 3;
		}
	} else {
		FILE *f = fopen(many, "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int sent = 0, got = 0;
		double t0 = now(), t;

		if (f == NULL)
			return 2;
		while ((n = getline(&line, &cap, f)) > 0) {
			if (line[n - 1] == '\n')
				line[--n] = '\0';
			zmq_send(s, "", 0, ZMQ_SNDMORE);
			zmq_send(s, line, (size_t)n, 0);
			sent++;
		}
		free(line);
		fclose(f);
		while (got < sent && recv_reply(s, timeout, stdout, &ok) == 0)
			got++;
		t = now() - t0;
		fprintf(stderr, "%d sent, %d replies, %d ok, %.3f s, %.0f req/s\n", sent, got, ok, t,
		        got / (t > 0 ? t : 1e-9));
		if (got < sent) {
			zmq_close(s);
			zmq_ctx_term(ctx);
			return 3;
		}
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
