/*
 * listen.h - who may talk to regzoned: its two ZeroMQ sockets, the ipc
 * directories that guard them, CURVE and the ZAP handler.
 *
 * An ipc:// endpoint's socket lives in a directory regzoned keeps: created
 * when missing, and set to mode 0750 with listen.socket_group (0700
 * without) at every start, so only regzone's user and that group can
 * connect, as with knotd's control socket.  A directory that is not a
 * plain directory owned by regzoned's user, or that others may write
 * (sticky or world-writable, like /tmp), is refused rather than changed.
 * Another process already listening on the socket makes the start fail
 * instead of stealing the endpoint.
 *
 * With listen.curve both sockets are CURVE servers with the same secret
 * key, the ZAP domain "regzone" enforced (ZMQ_ZAP_ENFORCE_DOMAIN: no
 * handler means no access), and a ZAP handler bound before either socket
 * binds that admits only the listed client keys.  Every socket option is
 * checked; a failure refuses the start (CURVE never fails open).
 *
 * Limits on what a peer can make regzoned hold: a frame larger than
 * RZ_LISTEN_MAX_FRAME drops the peer's connection (ZMQ_MAXMSGSIZE), at most
 * RZ_LISTEN_RCVHWM messages wait per peer.  libzmq delivers a multipart
 * message only once it is complete, so the number of frames of one
 * message is bounded only by the peer's connection being dropped on an
 * oversized frame and by the peers allowed in; the intake keeps at most
 * four frames of any message.
 */
#ifndef RZ_LISTEN_H
#define RZ_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/request.h"

#define RZ_LISTEN_MAX_FRAME (RZ_REQ_MAX_BYTES + 16384)
#define RZ_LISTEN_RCVHWM 1000
#define RZ_CURVE_KEY_LEN 40     /* Z85 of 32 bytes */

/*
 * A CURVE key file: 40 Z85 characters that decode (zmq_z85_decode), then
 * optional white space, nothing else.  secret: the file must be a regular
 * file without group or other access (RZ_EPERM).  0, RZ_EIO (cannot read),
 * RZ_EPERM, RZ_ESYNTAX.  The file's content is never put into err.
 */
int rz_curve_key_read(const char *path, bool secret, char key[RZ_CURVE_KEY_LEN + 1],
                      char *err, size_t errlen);

/* The server's public key as a client needs it: listen.curve.public_key,
 * or the content of public_key_file.  0, RZ_ENOENT (neither given), or the
 * errors of rz_curve_key_read(). */
int rz_curve_server_public(const struct rz_config *cfg, char key[RZ_CURVE_KEY_LEN + 1],
                           char *err, size_t errlen);

/*
 * What regzoned --check verifies beyond the file's syntax: the CURVE
 * secret key (required by regzoned when listen.curve is on) is readable,
 * private and valid, and the configured public key, when there is one,
 * belongs to it; each ipc directory is one regzoned may use.  0 or an
 * RZ_E* code with err ("listen.curve.secret_key_file: ...").
 */
int rz_listen_check(const struct rz_config *cfg, char *err, size_t errlen);

/* The two sockets, and the ZAP handler's socket when CURVE is on. */
struct rz_listen {
	void *router;     /* requests (ZMQ_ROUTER) */
	void *pub;        /* feed (ZMQ_PUB) */
	void *zap;        /* ZMQ_REP bound at inproc://zeromq.zap.01, or NULL */
};

/* Prepare the ipc directories, bind the ZAP handler's socket (CURVE),
 * create, configure and bind both sockets.  0, or an RZ_E* code with err;
 * on failure nothing stays open. */
int rz_listen_open(const struct rz_config *cfg, void *zctx, struct rz_listen *l,
                   char *err, size_t errlen);

/* Close the sockets (NULL members are fine). */
void rz_listen_close(struct rz_listen *l);

/* Serve ZAP requests on l->zap until the context terminates (a thread's
 * body; rz_listen_close() closes the socket afterwards). */
void rz_zap_serve(void *zap, const struct rz_config *cfg);

#endif
