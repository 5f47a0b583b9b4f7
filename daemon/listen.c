/*
 * listen.c - regzoned's sockets, their directories, CURVE and ZAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   /* libzmq 4.3 (draft API, implemented) */
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "regzone"
#define PUB_MAX_INBOUND 4096        /* a subscription is a topic: short */

int rz_curve_key_read(const char *path, bool secret, char key[RZ_CURVE_KEY_LEN + 1],
                      char *err, size_t errlen)
{
	char buf[128];
	uint8_t raw[32];
	struct stat sb;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret = RZ_ESYNTAX;

	if (fd < 0 || fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RZ_EIO;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return RZ_EIO;
	}
	if (secret && (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: a secret key must not be readable by group or others "
		         "(chmod 600)", path);
		close(fd);
		return RZ_EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = RZ_EIO;
		goto out;
	}
	buf[n] = '\0';
	len = (size_t)n;
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
		buf[--len] = '\0';
	if (len != RZ_CURVE_KEY_LEN || zmq_z85_decode(raw, buf) == NULL) {
		snprintf(err, errlen, "%s: not a CURVE key (40 Z85 characters, as written by "
		         "\"regzonectl keygen\")", path);
		goto out;
	}
	memcpy(key, buf, RZ_CURVE_KEY_LEN + 1);
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(raw, sizeof(raw));
	return ret;
}

int rz_curve_server_public(const struct rz_config *cfg, char key[RZ_CURVE_KEY_LEN + 1],
                           char *err, size_t errlen)
{
	uint8_t raw[32];

	if (cfg->curve_public_key != NULL) {
		if (strlen(cfg->curve_public_key) != RZ_CURVE_KEY_LEN ||
		    zmq_z85_decode(raw, cfg->curve_public_key) == NULL) {
			snprintf(err, errlen, "listen.curve.public_key: not a Z85 key");
			return RZ_ESYNTAX;
		}
		memcpy(key, cfg->curve_public_key, RZ_CURVE_KEY_LEN + 1);
		return 0;
	}
	if (cfg->curve_public_key_file != NULL)
		return rz_curve_key_read(cfg->curve_public_key_file, false, key, err, errlen);
	snprintf(err, errlen, "%s: listen.curve names no server public key for clients "
	         "(public_key or public_key_file)", cfg->path);
	return RZ_ENOENT;
}

/* The secret key, checked against the configured public key when there is
 * one.  secret is wiped by the caller. */
static int curve_secret(const struct rz_config *cfg, char secret[RZ_CURVE_KEY_LEN + 1],
                        char *err, size_t errlen)
{
	char pub[RZ_CURVE_KEY_LEN + 1], derived[RZ_CURVE_KEY_LEN + 1], why[512];
	int ret;

	if (cfg->curve_secret_file == NULL) {
		snprintf(err, errlen, "listen.curve.secret_key_file: regzoned needs the server's "
		         "secret key when listen.curve is set");
		return RZ_ECONFIG;
	}
	if ((ret = rz_curve_key_read(cfg->curve_secret_file, true, secret, why,
	                             sizeof(why))) != 0) {
		snprintf(err, errlen, "listen.curve.secret_key_file: %s", why);
		return ret;
	}
	if (zmq_curve_public(derived, secret) != 0) {
		snprintf(err, errlen, "listen.curve: CURVE is not available: %s", zmq_strerror(errno));
		return RZ_EIO;
	}
	ret = rz_curve_server_public(cfg, pub, why, sizeof(why));
	if (ret == RZ_ENOENT)
		return 0;
	if (ret != 0) {
		snprintf(err, errlen, "%s", why);
		return ret;
	}
	if (strcmp(pub, derived) != 0) {
		snprintf(err, errlen, "listen.curve: the public key given for clients does not "
		         "belong to secret_key_file (its public key is %s)", derived);
		return RZ_ECONFIG;
	}
	return 0;
}

/* The directory part of an ipc socket path. */
static int ipc_dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL || (size_t)(slash - path) >= len)
		return RZ_EINVAL;
	if (slash == path) {
		snprintf(dir, len, "/");
		return 0;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return 0;
}

/*
 * The directory of an ipc socket: created (parents must exist) when
 * missing, refused when it is not ours, then given its mode and group.
 * check_only: say what is wrong, change nothing.
 */
static int ipc_dir_prepare(const char *path, gid_t gid, bool check_only, char *err,
                           size_t errlen)
{
	mode_t mode = gid != (gid_t)-1 ? 0750 : 0700;
	char dir[RZ_IPC_PATH_MAX + 1];
	struct stat sb;

	if (ipc_dir_of(path, dir, sizeof(dir)) != 0 || strcmp(dir, "/") == 0) {
		snprintf(err, errlen, "%s: an ipc socket needs a directory of its own", path);
		return RZ_ECONFIG;
	}
	if (lstat(dir, &sb) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			return RZ_EIO;
		}
		if (check_only)
			return 0;   /* made at start-up */
		if (mkdir(dir, 0700) != 0 || lstat(dir, &sb) != 0) {
			snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
			return RZ_EIO;
		}
	}
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid()) {
		snprintf(err, errlen, "%s must be a directory owned by regzoned's user (uid %u): it "
		         "guards the ipc sockets", dir, (unsigned)geteuid());
		return RZ_EPERM;
	}
	if ((sb.st_mode & (S_ISVTX | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s is a shared directory (sticky or world-writable): give "
		         "the ipc sockets a directory of their own, such as /run/regzone", dir);
		return RZ_EPERM;
	}
	if (check_only)
		return 0;
	if ((gid != (gid_t)-1 && sb.st_gid != gid && chown(dir, (uid_t)-1, gid) != 0) ||
	    ((sb.st_mode & 07777) != mode && chmod(dir, mode) != 0)) {
		snprintf(err, errlen, "%s: cannot set mode %04o%s: %s", dir, (unsigned)mode,
		         gid != (gid_t)-1 ? " and the socket group" : "", strerror(errno));
		return RZ_EIO;
	}
	return 0;
}

/* Is a process listening on the Unix socket at path? */
static bool ipc_in_use(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	bool used;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	used = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return used;
}

/* Each ipc endpoint's directory (check_only: --check). */
static int ipc_prepare_all(const struct rz_config *cfg, bool check_only, char *err,
                           size_t errlen)
{
	const char *const eps[] = { cfg->requests, cfg->feed };

	for (size_t i = 0; i < 2; i++) {
		enum rz_endpoint_kind kind;
		const char *path = NULL;
		char why[160];
		int ret;

		if (rz_endpoint_parse(eps[i], &kind, &path, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: %s", eps[i], why);
			return RZ_ECONFIG;
		}
		if (kind != RZ_EP_IPC)
			continue;
		if ((ret = ipc_dir_prepare(path, cfg->socket_gid, check_only, err, errlen)) != 0)
			return ret;
		if (!check_only && ipc_in_use(path)) {
			snprintf(err, errlen, "%s: another process listens there (a regzoned "
			         "already running?)", eps[i]);
			return RZ_EBUSY;
		}
	}
	return 0;
}

int rz_listen_check(const struct rz_config *cfg, char *err, size_t errlen)
{
	char secret[RZ_CURVE_KEY_LEN + 1] = "";
	int ret = 0;

	if (cfg->curve)
		ret = curve_secret(cfg, secret, err, errlen);
	explicit_bzero(secret, sizeof(secret));
	if (ret == 0)
		ret = ipc_prepare_all(cfg, true, err, errlen);
	return ret;
}

#define SETOPT(s, opt, val, len) \
	do { \
		if (zmq_setsockopt((s), (opt), (val), (len)) != 0) { \
			snprintf(err, errlen, "%s: setting " #opt ": %s", what, zmq_strerror(errno)); \
			ret = RZ_EIO; \
			goto out; \
		} \
	} while (0)

/* A socket's options, CURVE included when the config has it. */
static int sock_setup(void *s, const char *what, int64_t max_in, const char *secret,
                      char *err, size_t errlen)
{
	int zero = 0, one = 1, hwm = RZ_LISTEN_RCVHWM, ret = 0;

	SETOPT(s, ZMQ_LINGER, &zero, sizeof(zero));
	SETOPT(s, ZMQ_MAXMSGSIZE, &max_in, sizeof(max_in));
	SETOPT(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (secret != NULL) {
		SETOPT(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
		SETOPT(s, ZMQ_CURVE_SECRETKEY, secret, RZ_CURVE_KEY_LEN);
		SETOPT(s, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN));
		SETOPT(s, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one));
	}
out:
	return ret;
}

/* After bind: the socket file itself no wider than its directory. */
static void ipc_chmod(const char *ep, gid_t gid)
{
	enum rz_endpoint_kind kind;
	const char *path = NULL;
	char why[160];

	if (rz_endpoint_parse(ep, &kind, &path, why, sizeof(why)) != 0 || kind != RZ_EP_IPC)
		return;
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)
		rz_log(RZ_LOG_WARN, "%s: chown: %s", path, strerror(errno));
	if (chmod(path, gid != (gid_t)-1 ? 0660 : 0600) != 0)
		rz_log(RZ_LOG_WARN, "%s: chmod: %s", path, strerror(errno));
}

int rz_listen_open(const struct rz_config *cfg, void *zctx, struct rz_listen *l,
                   char *err, size_t errlen)
{
	char secret[RZ_CURVE_KEY_LEN + 1] = "";
	const char *what = "ZAP handler";
	int zero = 0, ret;

	memset(l, 0, sizeof(*l));
	if ((ret = ipc_prepare_all(cfg, false, err, errlen)) != 0)
		return ret;
	if (cfg->curve) {
		if ((ret = curve_secret(cfg, secret, err, errlen)) != 0)
			goto out;
		/* The handler first: no CURVE socket ever binds without it. */
		if ((l->zap = zmq_socket(zctx, ZMQ_REP)) == NULL) {
			snprintf(err, errlen, "ZAP handler: %s", zmq_strerror(errno));
			ret = RZ_EIO;
			goto out;
		}
		SETOPT(l->zap, ZMQ_LINGER, &zero, sizeof(zero));
		if (zmq_bind(l->zap, ZAP_ENDPOINT) != 0) {
			snprintf(err, errlen, "ZAP handler: bind %s: %s", ZAP_ENDPOINT,
			         zmq_strerror(errno));
			ret = RZ_EIO;
			goto out;
		}
	}
	what = "requests socket";
	if ((l->router = zmq_socket(zctx, ZMQ_ROUTER)) == NULL ||
	    (l->pub = zmq_socket(zctx, ZMQ_PUB)) == NULL) {
		snprintf(err, errlen, "ZeroMQ sockets: %s", zmq_strerror(errno));
		ret = RZ_EIO;
		goto out;
	}
	if ((ret = sock_setup(l->router, "requests socket", RZ_LISTEN_MAX_FRAME,
	                      cfg->curve ? secret : NULL, err, errlen)) != 0 ||
	    (ret = sock_setup(l->pub, "feed socket", PUB_MAX_INBOUND, cfg->curve ? secret : NULL,
	                      err, errlen)) != 0)
		goto out;
	if (zmq_bind(l->pub, cfg->feed) != 0) {
		snprintf(err, errlen, "cannot bind feed endpoint %s: %s", cfg->feed,
		         zmq_strerror(errno));
		ret = RZ_EIO;
		goto out;
	}
	if (zmq_bind(l->router, cfg->requests) != 0) {
		snprintf(err, errlen, "cannot bind requests endpoint %s: %s", cfg->requests,
		         zmq_strerror(errno));
		ret = RZ_EIO;
		goto out;
	}
	ipc_chmod(cfg->feed, cfg->socket_gid);
	ipc_chmod(cfg->requests, cfg->socket_gid);
out:
	explicit_bzero(secret, sizeof(secret));
	if (ret != 0)
		rz_listen_close(l);
	return ret;
}

void rz_listen_close(struct rz_listen *l)
{
	if (l->router != NULL)
		zmq_close(l->router);
	if (l->pub != NULL)
		zmq_close(l->pub);
	if (l->zap != NULL)
		zmq_close(l->zap);
	memset(l, 0, sizeof(*l));
}

/* Is z85 one of the listed client keys? */
static bool client_allowed(const struct rz_config *cfg, const char *z85)
{
	for (size_t i = 0; i < cfg->n_curve_clients; i++)
		if (strcmp(z85, cfg->curve_clients[i]) == 0)
			return true;
	return false;
}

/* ZAP (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials; the reply: version, request id, status, text, user id,
 * metadata.  Anything but a listed CURVE key in domain "regzone" is 400. */
void rz_zap_serve(void *zap, const struct rz_config *cfg)
{
	time_t last_warn = 0;
	unsigned long quiet = 0;

	for (;;) {
		char frames[7][256];
		size_t sizes[7] = { 0 };
		int more = 1, nf = 0;
		size_t ml = sizeof(more);
		const char *status = "400", *text = "not allowed";
		char z85[RZ_CURVE_KEY_LEN + 1] = "";

		while (more && nf < 7) {
			int n = zmq_recv(zap, frames[nf], sizeof(frames[nf]), 0);

			if (n < 0)
				return;   /* ETERM: shutting down */
			sizes[nf++] = (size_t)n < sizeof(frames[0]) ? (size_t)n : sizeof(frames[0]);
			if (zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &ml) != 0)
				return;
		}
		while (more) {   /* drain anything unexpected */
			char junk[64];

			if (zmq_recv(zap, junk, sizeof(junk), 0) < 0 ||
			    zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &ml) != 0)
				return;
		}
		if (nf == 7 && sizes[0] == 3 && memcmp(frames[0], "1.0", 3) == 0 &&
		    sizes[2] == strlen(ZAP_DOMAIN) && memcmp(frames[2], ZAP_DOMAIN, sizes[2]) == 0 &&
		    sizes[5] == 5 && memcmp(frames[5], "CURVE", 5) == 0 && sizes[6] == 32 &&
		    zmq_z85_encode(z85, (uint8_t *)frames[6], 32) != NULL) {
			if (client_allowed(cfg, z85)) {
				status = "200";
				text = "OK";
			} else if (time(NULL) != last_warn) {
				rz_log(RZ_LOG_WARN, "refused a CURVE client with an unknown key %s%s", z85,
				       quiet > 0 ? " (and others since the last warning)" : "");
				last_warn = time(NULL);
				quiet = 0;
			} else {
				quiet++;
			}
		}
		if (zmq_send(zap, "1.0", 3, ZMQ_SNDMORE) < 0 ||
		    zmq_send(zap, frames[1], nf > 1 ? sizes[1] : 0, ZMQ_SNDMORE) < 0 ||
		    zmq_send(zap, status, 3, ZMQ_SNDMORE) < 0 ||
		    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE) < 0 ||
		    zmq_send(zap, z85, strcmp(status, "200") == 0 ? strlen(z85) : 0,
		             ZMQ_SNDMORE) < 0 ||
		    zmq_send(zap, "", 0, 0) < 0)
			return;
	}
}
