/*
 * regzonectl - the operators' tool.
 *
 *   regzonectl -c FILE COMMAND [ARGS] [OPTIONS]
 *
 * Three kinds of command, top-down in this file:
 *   local      preview, keygen, migrate
 *   daemon     enable, disable, renew, status, wait: JSON requests on a
 *              ZeroMQ DEALER connected to listen.requests (frames out:
 *              [empty, json]; frames in: [empty, json]); wait also
 *              SUBscribes to listen.feed ([domain, state-json])
 *   database   list, logs, retry (PostgreSQL directly, PQexecParams only),
 *              and diff (PostgreSQL + Knot's control socket)
 *
 * Everything read from regzoned or the database is type-checked before use
 * and printed with control characters neutralised.  Key material is never
 * printed.
 *
 * Exit codes: 0 success, 1 refused request or failure, 2 usage error, 3
 * daemon unreachable.
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

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "zonegen/knot.h"
#include "zonegen/zonegen.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

#define CTL_ID_MAX        128        /* request ids: 1..128 of id_chars */
#define CTL_MSG_MAX       (1 << 20)  /* largest reply / feed message read */
#define CTL_TIMEOUT_MAX   86400
#define CTL_REQ_TIMEOUT   10         /* default --timeout of a request, s */
#define CTL_WAIT_TIMEOUT  60         /* default --timeout of wait, s */
#define CTL_FEED_SETTLE   1000       /* ms wait gives the feed to connect */

/* Options, as bits: each command says which it takes and which it needs. */
enum {
	OPT_PROFILE = 1u << 0,
	OPT_PARAM = 1u << 1,
	OPT_ID = 1u << 2,
	OPT_UNTIL = 1u << 3,
	OPT_STATE = 1u << 4,
	OPT_TIMEOUT = 1u << 5,
	OPT_JSON = 1u << 6,
	OPT_KEY = 1u << 7,
};
#define OPT_DAEMON (OPT_TIMEOUT | OPT_JSON | OPT_KEY)

static const char *const opt_names[] = {
	"--profile", "--param", "--id", "--until", "--state", "--timeout", "--json", "--key",
};

static const char id_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@/+=-";

struct ctl_args {
	const char *config;
	const char *profile;
	const char *id;
	const char *until;
	const char *state;
	const char *timeout;
	const char *key;
	int json;
	unsigned seen;           /* OPT_* given on the command line */
	int timeout_s;           /* --timeout, checked; 0 when absent */
	struct zg_kv params[ZG_MAX_PARAMS];
	size_t n_params;
	char *pos[4];            /* positional arguments after the command */
	size_t n_pos;
};

struct ctl_cmd {
	const char *name;
	int (*run)(const struct ctl_args *a, struct rz_config *cfg);
	size_t n_pos;            /* positional arguments it takes */
	int needs_config;
	unsigned opts;           /* OPT_* it accepts */
	unsigned required;       /* OPT_* it needs */
	const char *help;
};

/* ------------------------------------------------------------ small helpers */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Print text that came from regzoned or the database on one line: line
 * breaks and tabs become spaces, other control characters '?', so it can
 * never drive the terminal. */
static void put_safe(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		fputc(c, f);
	}
}

/* Copy at most size-1 bytes; true when s fit.  A cut never splits a UTF-8
 * sequence, so what is cut still makes a JSON string. */
static bool copy_str(char *dst, size_t size, const char *s)
{
	size_t len;
	unsigned char lead;
	size_t need, have;

	if ((size_t)snprintf(dst, size, "%s", s) < size)
		return true;
	len = strlen(dst);
	have = 0;
	while (len > 0 && have < 4 && ((unsigned char)dst[len - 1] & 0xc0) == 0x80) {
		len--;
		have++;
	}
	if (len > 0 && (lead = (unsigned char)dst[len - 1]) >= 0xc0) {
		need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
		if (have < need)
			dst[len - 1] = '\0';   /* the sequence was cut: drop it */
	}
	return false;
}

/* A name from a NULL-terminated list: its index, or -1. */
static int name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static void print_names(FILE *f, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		fprintf(f, "%s%s", i > 0 ? "|" : "", names[i]);
}

/* The DOMAIN argument in normal form: EXIT_OK or EXIT_REFUSED (message printed). */
static int arg_domain(const char *in, char out[ZG_OWNER_SIZE])
{
	char err[512];

	if (zg_dname_check(in, out, ZG_OWNER_SIZE, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: invalid domain: %s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* --profile, or the default profile: EXIT_OK or EXIT_REFUSED. */
static int arg_profile(const struct ctl_args *a, const struct rz_config *cfg,
                       const struct zg_profile **p)
{
	*p = rz_config_profile(cfg, a->profile);
	if (*p == NULL) {
		fprintf(stderr, "regzonectl: unknown profile '%s'\n",
		        a->profile != NULL ? a->profile : "(default)");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* Who runs this, for the audit trail. */
static void user_name(char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)getuid());
	if (getuid() == 0 && sudo != NULL && sudo[0] != '\0') {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " via sudo by %s", sudo);
	}
}

static int load_config(const struct ctl_args *a, struct rz_config **cfg)
{
	char err[1024];

	if (a->config == NULL) {
		fprintf(stderr, "regzonectl: -c FILE is required for this command\n");
		return EXIT_USAGE;
	}
	if (rz_config_load(a->config, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

static int cmd_preview(const struct ctl_args *a, struct rz_config *cfg)
{
	const struct zg_profile *p = rz_config_profile(cfg, a->profile);
	char domain[ZG_OWNER_SIZE], err[512], names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	struct zg_rr rrs[ZG_MAX_RECORDS];
	size_t n, n_names;

	if (p == NULL) {
		fprintf(stderr, "regzonectl: unknown profile '%s'\n", a->profile);
		return EXIT_REFUSED;
	}
	if (zg_dname_check(a->pos[0], domain, sizeof(domain), err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: invalid domain: %s\n", err);
		return EXIT_REFUSED;
	}
	if (zg_expand(p, domain, a->params, a->n_params, rrs, &n, err, sizeof(err)) != 0 ||
	    zg_cert_names(p, domain, names, &n_names) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	printf("; regzone: profile '%s' (service %s) for %s\n", p->name, p->service, domain);
	if (zg_render(rrs, n, stdout) != 0)
		return EXIT_REFUSED;
	printf("; certificate names:");
	for (size_t i = 0; i < n_names; i++)
		printf(" %s", names[i]);
	printf("\n");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
}

static int cmd_migrate(const struct ctl_args *a, struct rz_config *cfg)
{
	PGconn *db = NULL;
	char err[1024];
	int applied = 0, rc = EXIT_REFUSED;

	(void)a;
	if (db_connect(cfg, &db, err, sizeof(err)) != 0 ||
	    db_migrate(db, &applied, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		goto out;
	}
	printf("%d migration%s applied, schema at version %d\n", applied,
	       applied == 1 ? "" : "s",
	       db_n_migrations ? db_migrations[db_n_migrations - 1].version : 0);
	rc = EXIT_OK;
out:
	PQfinish(db);
	return rc;
}

/* Write text to path, created new with mode; refuses to overwrite. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		fprintf(stderr, "regzonectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		fprintf(stderr, "regzonectl: %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static int cmd_keygen(const struct ctl_args *a, struct rz_config *cfg)
{
	char pub[41], sec[41], pubpath[4096], secpath[4096], line[64];
	int rc = EXIT_REFUSED;

	(void)cfg;
	if (mkdir(a->pos[0], 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "regzonectl: %s: %s\n", a->pos[0], strerror(errno));
		return EXIT_REFUSED;
	}
	snprintf(secpath, sizeof(secpath), "%s/curve.key", a->pos[0]);
	snprintf(pubpath, sizeof(pubpath), "%s/curve.pub", a->pos[0]);
	if (zmq_curve_keypair(pub, sec) != 0) {
		fprintf(stderr, "regzonectl: CURVE unavailable: %s\n", zmq_strerror(errno));
		return EXIT_REFUSED;
	}
	snprintf(line, sizeof(line), "%s\n", sec);
	if (write_new(secpath, line, 0600) != 0)
		goto out;
	snprintf(line, sizeof(line), "%s\n", pub);
	if (write_new(pubpath, line, 0644) != 0) {
		unlink(secpath);
		goto out;
	}
	printf("secret key: %s (mode 0600)\npublic key: %s\n%s\n", secpath, pubpath, pub);
	rc = EXIT_OK;
out:
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(line, sizeof(line));
	return rc;
}

/* -------------------------------------------------------------- state object */

static const char *const desired_names[] = { "enabled", "disabled", NULL };
static const char *const dns_names[] = {
	"pending", "published", "conflict", "removing", "removed", "error", NULL
};
static const char *const cert_names[] = {
	"none", "ordering", "issued", "renewing", "failed", NULL
};

/* DESIGN.md "State object", checked.  "" stands for null. */
struct ctl_state {
	char domain[ZG_OWNER_SIZE];
	char service[64];
	char desired[16];
	char dns[16];
	char cert_state[16];
	char not_after[64];
	char serial[160];
	bool active;
	char last_error[4096];   /* longer ones are cut, never refused */
	char updated_at[64];
};

/*
 * Take string member key of o into buf.  null is accepted (as "") only when
 * nullable; a value that does not fit is refused unless cut.  names, when
 * not NULL, lists the values allowed.  0, or -1 with the reason in err.
 */
static int take_str(const json_t *o, const char *key, bool nullable, bool cut,
                    const char *const *names, char *buf, size_t len,
                    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	buf[0] = '\0';
	if (v == NULL) {
		snprintf(err, errlen, "\"%s\" is missing", key);
		return -1;
	}
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, errlen, "\"%s\" must be a string%s", key, nullable ? " or null" : "");
		return -1;
	}
	if (!copy_str(buf, len, json_string_value(v)) && !cut) {
		snprintf(err, errlen, "\"%s\" is too long", key);
		return -1;
	}
	if (names != NULL && name_index(names, buf) < 0) {
		snprintf(err, errlen, "\"%s\" has an unknown value", key);
		return -1;
	}
	return 0;
}

/* A state object from regzoned, strictly: 0, or -1 with the reason in err. */
static int state_parse(const json_t *o, struct ctl_state *s, char *err, size_t errlen)
{
	const json_t *cert, *active;
	char tmp[ZG_OWNER_SIZE], e[256];

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "state must be an object");
		return -1;
	}
	if (take_str(o, "domain", false, false, NULL, s->domain, sizeof(s->domain), err, errlen) ||
	    take_str(o, "service", false, false, NULL, s->service, sizeof(s->service), err, errlen) ||
	    take_str(o, "desired", false, false, desired_names, s->desired, sizeof(s->desired),
	             err, errlen) ||
	    take_str(o, "dns", false, false, dns_names, s->dns, sizeof(s->dns), err, errlen) ||
	    take_str(o, "last_error", true, true, NULL, s->last_error, sizeof(s->last_error),
	             err, errlen) ||
	    take_str(o, "updated_at", true, false, NULL, s->updated_at, sizeof(s->updated_at),
	             err, errlen))
		return -1;
	if (zg_dname_check(s->domain, tmp, sizeof(tmp), e, sizeof(e)) != 0 ||
	    strcmp(tmp, s->domain) != 0) {
		snprintf(err, errlen, "\"domain\" is not a domain in normal form");
		return -1;
	}
	cert = json_object_get(o, "certificate");
	if (!json_is_object(cert)) {
		snprintf(err, errlen, "\"certificate\" must be an object");
		return -1;
	}
	if (take_str(cert, "state", false, false, cert_names, s->cert_state,
	             sizeof(s->cert_state), err, errlen) ||
	    take_str(cert, "not_after", true, false, NULL, s->not_after, sizeof(s->not_after),
	             err, errlen) ||
	    take_str(cert, "serial", true, false, NULL, s->serial, sizeof(s->serial), err, errlen))
		return -1;
	active = json_object_get(o, "active");
	if (!json_is_boolean(active)) {
		snprintf(err, errlen, "\"active\" must be a boolean");
		return -1;
	}
	s->active = json_is_true(active);
	return 0;
}

/* The state object, as status --json, list --json and the contract show it:
 * a new reference, or NULL when out of memory. */
static json_t *state_json(const struct ctl_state *s)
{
#define NUL_IF_EMPTY(x) ((x)[0] != '\0' ? (x) : NULL)
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s?, s:s?}, s:b, s:s?, s:s}",
	                 "domain", s->domain, "service", s->service,
	                 "desired", s->desired, "dns", s->dns,
	                 "certificate", "state", s->cert_state,
	                 "not_after", NUL_IF_EMPTY(s->not_after),
	                 "serial", NUL_IF_EMPTY(s->serial),
	                 "active", (int)s->active,
	                 "last_error", NUL_IF_EMPTY(s->last_error),
	                 "updated_at", s->updated_at);
#undef NUL_IF_EMPTY
}

/* Print one JSON value on one line; EXIT_OK or EXIT_REFUSED. */
static int print_json(json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = EXIT_REFUSED;

	if (text == NULL)
		fprintf(stderr, "regzonectl: out of memory\n");
	else if (printf("%s\n", text) > 0)
		rc = EXIT_OK;
	free(text);
	return rc;
}

static void state_print_human(const struct ctl_state *s)
{
	printf("domain       ");
	put_safe(stdout, s->domain);
	printf("\nservice      ");
	put_safe(stdout, s->service);
	printf("\ndesired      %s\ndns          %s\ncertificate  %s", s->desired, s->dns,
	       s->cert_state);
	if (s->not_after[0] != '\0') {
		printf(", not after ");
		put_safe(stdout, s->not_after);
	}
	if (s->serial[0] != '\0') {
		printf(", serial ");
		put_safe(stdout, s->serial);
	}
	printf("\nactive       %s\nlast error   ", s->active ? "yes" : "no");
	put_safe(stdout, s->last_error[0] != '\0' ? s->last_error : "-");
	printf("\nupdated at   ");
	put_safe(stdout, s->updated_at[0] != '\0' ? s->updated_at : "-");
	printf("\n");
}

/* A state as the user asked for it (--json: one line). */
static int state_print(const struct ctl_args *a, const struct ctl_state *s)
{
	json_t *j;
	int rc;

	if (!a->json) {
		state_print_human(s);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
	}
	j = state_json(s);
	rc = print_json(j);
	json_decref(j);
	return rc;
}

/* ------------------------------------------------------------------ replies */

/* {"id","ok":true,"state"} or {"id"|null,"ok":false,"error":{"code","message"}} */
struct ctl_reply {
	char id[CTL_ID_MAX + 1];     /* "" when null */
	bool ok;
	struct ctl_state state;      /* ok */
	char code[64];               /* !ok: [a-z_]+ */
	char message[1024];          /* !ok, cut when longer */
};

static int reply_parse(const json_t *o, struct ctl_reply *r, char *err, size_t errlen)
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
	if (take_str(o, "id", !r->ok, false, NULL, r->id, sizeof(r->id), err, errlen) != 0)
		return -1;
	if (r->ok) {
		st = json_object_get(o, "state");
		if (state_parse(st, &r->state, why, sizeof(why)) != 0) {
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
	if (take_str(e, "code", false, false, NULL, r->code, sizeof(r->code), err, errlen) != 0 ||
	    take_str(e, "message", false, true, NULL, r->message, sizeof(r->message),
	             err, errlen) != 0)
		return -1;
	if (r->code[0] == '\0' || strspn(r->code, "abcdefghijklmnopqrstuvwxyz_") != strlen(r->code)) {
		snprintf(err, errlen, "\"code\" must be a lowercase word");
		return -1;
	}
	return 0;
}

static void reply_print_error(const struct ctl_reply *r)
{
	fprintf(stderr, "regzonectl: %s: ", r->code);
	put_safe(stderr, r->message);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ ZeroMQ link */

/*
 * The request socket, from the client side: a DEALER connected to
 * listen.requests.  A request goes out as [empty, json] so that regzoned's
 * ROUTER sees [identity, empty, json]; its reply [identity, empty, json]
 * arrives here as [empty, json].  A PAIR reads the DEALER's monitor so a
 * refused CURVE key is told apart from silence.
 */
struct ctl_link {
	void *ctx;
	void *req;
	void *req_mon;
	const char *endpoint;
	const char *key_dir;         /* CURVE on: the client's key pair */
	unsigned handshake_failures;
};

/* The client's CURVE key directory when the config turns CURVE on:
 * EXIT_OK with *dir (NULL when CURVE is off), or EXIT_USAGE. */
static int curve_key_dir(const struct ctl_args *a, const struct rz_config *cfg,
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
static int curve_setup(void *sock, const struct rz_config *cfg, const char *dir)
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
static int sock_basics(void *s)
{
	int zero = 0;
	int64_t max = CTL_MSG_MAX;

	return zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	       zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max)) != 0 ? -1 : 0;
}

/* A PAIR receiving sock's events (set up before sock connects); NULL on failure. */
static void *monitor_open(void *ctx, void *sock, const char *name, int events)
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

static void monitor_close(void *sock, void *mon)
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
static int recv_parts(void *sock, zmq_msg_t parts[], size_t max, size_t *n)
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

static void close_parts(zmq_msg_t parts[], size_t max, size_t n)
{
	for (size_t i = 0; i < n && i < max; i++)
		zmq_msg_close(&parts[i]);
}

/* One monitor event (libzmq 4.x: [u16 event, u32 value], [endpoint]): 0 or -1. */
static int monitor_event(void *mon, uint16_t *event, uint32_t *value)
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

static void link_close(struct ctl_link *l)
{
	monitor_close(l->req, l->req_mon);
	zmq_close(l->req);
	if (l->ctx != NULL)
		zmq_ctx_term(l->ctx);
	memset(l, 0, sizeof(*l));
}

/* Context and DEALER connected to listen.requests: EXIT_OK, else an exit
 * code with the message printed (and l closed). */
static int link_open(struct ctl_link *l, const struct rz_config *cfg, const char *key_dir)
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
static int link_send(struct ctl_link *l, const char *text, int ms)
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
static int link_monitor(struct ctl_link *l)
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

static int link_no_reply(const struct ctl_link *l, int secs)
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
static int link_read_reply(struct ctl_link *l, struct ctl_reply *r, char *err, size_t errlen)
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
static int link_call(struct ctl_link *l, const char *text, const char *id, int secs,
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
static void request_id(const struct ctl_args *a, char *id, size_t len)
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
		if (strchr(id_chars, *c) == NULL || *c == '/' || *c == '@' || *c == ':')
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
static char *request_text(const struct ctl_args *a, const char *id, const char *action,
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

/* enable / disable / renew / status: one request, one reply. */
static int run_request(const struct ctl_args *a, struct rz_config *cfg, const char *action)
{
	int secs = a->timeout_s > 0 ? a->timeout_s : CTL_REQ_TIMEOUT;
	char domain[ZG_OWNER_SIZE], id[CTL_ID_MAX + 1];
	const struct zg_profile *p;
	const char *dir;
	struct ctl_link l = { 0 };
	struct ctl_reply *r = NULL;
	char *text = NULL;
	int rc;

	if ((rc = curve_key_dir(a, cfg, &dir)) != EXIT_OK ||
	    (rc = arg_domain(a->pos[0], domain)) != EXIT_OK ||
	    (rc = arg_profile(a, cfg, &p)) != EXIT_OK)
		return rc;
	request_id(a, id, sizeof(id));
	rc = EXIT_REFUSED;
	if ((text = request_text(a, id, action, p->service, domain)) == NULL)
		goto out;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		fprintf(stderr, "regzonectl: out of memory\n");
		goto out;
	}
	if ((rc = link_open(&l, cfg, dir)) != EXIT_OK ||
	    (rc = link_call(&l, text, id, secs, r)) != EXIT_OK)
		goto out;
	if (!r->ok) {
		reply_print_error(r);
		rc = EXIT_REFUSED;
	} else if (strcmp(r->state.domain, domain) != 0) {
		fprintf(stderr, "regzonectl: malformed reply from regzoned at %s: the state is "
		        "another domain's\n", l.endpoint);
		rc = EXIT_REFUSED;
	} else {
		rc = state_print(a, &r->state);
	}
out:
	link_close(&l);
	free(r);
	free(text);
	return rc;
}

static int cmd_enable(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "enable");
}

static int cmd_disable(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "disable");
}

static int cmd_renew(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "renew");
}

static int cmd_status(const struct ctl_args *a, struct rz_config *cfg)
{
	return run_request(a, cfg, "status");
}

/* wait --until: when a state counts as reached. */
static bool until_active(const struct ctl_state *s)
{
	return s->active;
}

static bool until_published(const struct ctl_state *s)
{
	return strcmp(s->dns, "published") == 0;
}

static bool until_conflict(const struct ctl_state *s)
{
	return strcmp(s->dns, "conflict") == 0;
}

static bool until_disabled(const struct ctl_state *s)
{
	return strcmp(s->desired, "disabled") == 0 && strcmp(s->dns, "removed") == 0;
}

static bool until_failed(const struct ctl_state *s)
{
	return strcmp(s->dns, "error") == 0 || strcmp(s->cert_state, "failed") == 0;
}

static const char *const until_names[] = {
	"active", "published", "conflict", "disabled", "failed", NULL
};
static bool (*const until_tests[])(const struct ctl_state *) = {
	until_active, until_published, until_conflict, until_disabled, until_failed,
};

struct ctl_wait {
	const struct ctl_args *a;
	struct ctl_link l;
	void *sub;                   /* SUB on listen.feed, topic = domain */
	void *sub_mon;               /* its handshakes */
	char domain[ZG_OWNER_SIZE];
	const char *service;
	bool (*reached)(const struct ctl_state *);
	char id_base[CTL_ID_MAX - 16];
	unsigned n_sent;             /* status requests sent: ids id_base-1.. */
	bool answered;               /* regzoned said something (reply or feed) */
	bool have_last;
	bool feed_warned;
	struct ctl_state last;
	struct ctl_reply reply;
	struct ctl_state feed_state;
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
static int wait_consider(struct ctl_wait *w, const struct ctl_state *s)
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
	if (state_parse(o, &w->feed_state, why, sizeof(why)) != 0) {
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
	if (!w->reply.ok) {
		reply_print_error(&w->reply);
		*rc = EXIT_REFUSED;
		return -1;
	}
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
static int cmd_wait(const struct ctl_args *a, struct rz_config *cfg)
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

/* --------------------------------------------------------- database commands */

/* Timestamps as the state object shows them (UTC, RFC 3339). */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define SQL_TS_MS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static int db_open(const struct rz_config *cfg, PGconn **db)
{
	char err[1024];

	if (db_connect(cfg, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* One parameterised statement; NULL (message printed) unless it ends in want. */
static PGresult *db_run(PGconn *db, const char *what, const char *sql, int n,
                        const char *const *params, ExecStatusType want)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != want) {
		const char *msg = r != NULL ? PQresultErrorMessage(r) : "";

		if (msg == NULL || msg[0] == '\0')
			msg = PQerrorMessage(db);
		fprintf(stderr, "regzonectl: %s: %.*s\n", what, (int)strcspn(msg, "\n"), msg);
		PQclear(r);
		return NULL;
	}
	return r;
}

static int db_cmd(PGconn *db, const char *what, const char *sql, int n,
                  const char *const *params)
{
	PGresult *r = db_run(db, what, sql, n, params, PGRES_COMMAND_OK);

	PQclear(r);
	return r != NULL ? 0 : -1;
}

/* The columns state_from_row() reads, as regzoned's status shows a state:
 * the certificate is the newest unrevoked one. */
#define STATE_COLS \
	"s.domain, s.service, s.desired, s.dns, s.cert_state, " \
	"coalesce(" SQL_TS("c.not_after") ", ''), coalesce(c.serial, ''), s.active, " \
	"coalesce(s.last_error, ''), " SQL_TS_MS("s.updated_at") " "
#define STATE_FROM \
	"FROM services s LEFT JOIN LATERAL (SELECT not_after, serial FROM certificates " \
	"WHERE domain = s.domain AND service = s.service AND revoked_at IS NULL " \
	"ORDER BY not_after DESC LIMIT 1) c ON true "

static void state_from_row(const PGresult *r, int row, struct ctl_state *s)
{
	memset(s, 0, sizeof(*s));
	copy_str(s->domain, sizeof(s->domain), PQgetvalue(r, row, 0));
	copy_str(s->service, sizeof(s->service), PQgetvalue(r, row, 1));
	copy_str(s->desired, sizeof(s->desired), PQgetvalue(r, row, 2));
	copy_str(s->dns, sizeof(s->dns), PQgetvalue(r, row, 3));
	copy_str(s->cert_state, sizeof(s->cert_state), PQgetvalue(r, row, 4));
	copy_str(s->not_after, sizeof(s->not_after), PQgetvalue(r, row, 5));
	copy_str(s->serial, sizeof(s->serial), PQgetvalue(r, row, 6));
	s->active = strcmp(PQgetvalue(r, row, 7), "t") == 0;
	copy_str(s->last_error, sizeof(s->last_error), PQgetvalue(r, row, 8));
	copy_str(s->updated_at, sizeof(s->updated_at), PQgetvalue(r, row, 9));
}

/* list --state S: which rows S selects.  A value is always a parameter. */
static const char *const list_state_names[] = {
	"pending", "published", "conflict", "removing", "removed", "error",
	"active", "enabled", "disabled", NULL
};
static const struct { const char *where; int n_params; } list_state_where[] = {
	{ "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 },
	{ "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 },
	{ "WHERE s.active ", 0 }, { "WHERE s.desired = $1 ", 1 }, { "WHERE s.desired = $1 ", 1 },
};

static void list_table(const struct ctl_state *st, size_t n)
{
	static const char *const head[] = {
		"DOMAIN", "SERVICE", "DESIRED", "DNS", "CERTIFICATE", "ACTIVE", "UPDATED", "LAST ERROR"
	};
	enum { NCOL = sizeof(head) / sizeof(head[0]) };
	size_t w[NCOL];

	for (size_t c = 0; c < NCOL; c++)
		w[c] = strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		const char *v[NCOL - 1] = {
			st[i].domain, st[i].service, st[i].desired, st[i].dns, st[i].cert_state,
			st[i].active ? "yes" : "no", st[i].updated_at,
		};

		for (size_t c = 0; c < NCOL - 1; c++)
			if (strlen(v[c]) > w[c])
				w[c] = strlen(v[c]);
	}
	for (size_t c = 0; c + 1 < NCOL; c++)
		printf("%-*s  ", (int)w[c], head[c]);
	printf("%s\n", head[NCOL - 1]);
	for (size_t i = 0; i < n; i++) {
		const char *v[NCOL] = {
			st[i].domain, st[i].service, st[i].desired, st[i].dns, st[i].cert_state,
			st[i].active ? "yes" : "no", st[i].updated_at,
			st[i].last_error[0] != '\0' ? st[i].last_error : "-",
		};

		for (size_t c = 0; c < NCOL; c++) {
			put_safe(stdout, v[c]);
			if (c + 1 < NCOL)
				printf("%*s", (int)(w[c] - strlen(v[c]) + 2), "");
		}
		printf("\n");
	}
}

static int cmd_list(const struct ctl_args *a, struct rz_config *cfg)
{
	char sql[1024];
	const char *param[1] = { a->state };
	struct ctl_state *st = NULL;
	PGconn *db = NULL;
	PGresult *r = NULL;
	json_t *arr = NULL;
	int rc, n, k = -1;

	if (a->state != NULL)
		k = name_index(list_state_names, a->state);    /* checked by check_values() */
	snprintf(sql, sizeof(sql), "SELECT " STATE_COLS STATE_FROM "%s ORDER BY s.domain, s.service",
	         k >= 0 ? list_state_where[k].where : "");
	if ((rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	if ((r = db_run(db, "list", sql, k >= 0 ? list_state_where[k].n_params : 0, param, PGRES_TUPLES_OK)) == NULL)
		goto out;
	n = PQntuples(r);
	if ((st = calloc((size_t)n + 1, sizeof(*st))) == NULL ||
	    (a->json && (arr = json_array()) == NULL)) {
		fprintf(stderr, "regzonectl: out of memory\n");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		state_from_row(r, i, &st[i]);
		if (arr != NULL && json_array_append_new(arr, state_json(&st[i])) != 0) {
			fprintf(stderr, "regzonectl: out of memory\n");
			goto out;
		}
	}
	if (arr != NULL) {
		rc = print_json(arr);
		goto out;
	}
	list_table(st, (size_t)n);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	json_decref(arr);
	free(st);
	PQclear(r);
	PQfinish(db);
	return rc;
}

/* Whether domain has a services row: 1, 0, or -1 (message printed). */
static int domain_known(PGconn *db, const char *domain)
{
	const char *p[1] = { domain };
	PGresult *r = db_run(db, "services", "SELECT 1 FROM services WHERE domain = $1 LIMIT 1",
	                     1, p, PGRES_TUPLES_OK);
	int known;

	if (r == NULL)
		return -1;
	known = PQntuples(r) > 0;
	PQclear(r);
	return known;
}

static int logs_json(const PGresult *r)
{
	json_t *arr = json_array(), *detail;
	int rc = EXIT_REFUSED;

	if (arr == NULL)
		goto oom;
	for (int i = 0; i < PQntuples(r); i++) {
		json_error_t je;

		detail = NULL;
		if (!PQgetisnull(r, i, 4) &&
		    (detail = json_loads(PQgetvalue(r, i, 4), JSON_DECODE_ANY, &je)) == NULL) {
			fprintf(stderr, "regzonectl: audit row %d: detail is not JSON: %s\n", i, je.text);
			goto out;
		}
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s, s:o?}",
		                          "at", PQgetvalue(r, i, 0), "kind", PQgetvalue(r, i, 1),
		                          "event_id", PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
		                          "message", PQgetvalue(r, i, 3), "detail", detail)) != 0)
			goto oom;
	}
	rc = print_json(arr);
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	json_decref(arr);
	return rc;
}

/* logs DOMAIN: the audit trail, oldest first. */
static int cmd_logs(const struct ctl_args *a, struct rz_config *cfg)
{
	char domain[ZG_OWNER_SIZE];
	const char *p[1] = { domain };
	PGconn *db = NULL;
	PGresult *r = NULL;
	int rc, n, known;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK || (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	r = db_run(db, "audit", "SELECT " SQL_TS_MS("at") ", kind, event_id, message, detail::text "
	           "FROM audit WHERE domain = $1 ORDER BY id", 1, p, PGRES_TUPLES_OK);
	if (r == NULL)
		goto out;
	n = PQntuples(r);
	if (n == 0) {
		if ((known = domain_known(db, domain)) < 0)
			goto out;
		if (!known) {
			fprintf(stderr, "regzonectl: no such domain: %s\n", domain);
			goto out;
		}
	}
	if (a->json) {
		rc = logs_json(r);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		put_safe(stdout, PQgetvalue(r, i, 0));
		printf(" ");
		put_safe(stdout, PQgetvalue(r, i, 1));
		if (!PQgetisnull(r, i, 2)) {
			printf(" [");
			put_safe(stdout, PQgetvalue(r, i, 2));
			printf("]");
		}
		printf(" ");
		put_safe(stdout, PQgetvalue(r, i, 3));
		printf("\n");
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	PQclear(r);
	PQfinish(db);
	return rc;
}

/*
 * retry DOMAIN, in one transaction: every unclaimed job of the domain due
 * now with its attempts reset; a dns state of conflict or error back to
 * pending (enabled) or removing (disabled); an audit row per service; then
 * NOTIFY rz_jobs, delivered at commit, wakes regzoned's workers.
 */
static int retry_service(PGconn *db, const char *domain, const PGresult *svc, int row,
                         const char *user, FILE *out)
{
	const char *service = PQgetvalue(svc, row, 0), *desired = PQgetvalue(svc, row, 1);
	const char *dns = PQgetvalue(svc, row, 2);
	const char *to = strcmp(desired, "enabled") == 0 ? "pending" : "removing";
	bool reset = strcmp(dns, "conflict") == 0 || strcmp(dns, "error") == 0;
	const char *p[4] = { domain, service, NULL, NULL };
	char message[512], *detail = NULL;
	const char *sep = "";
	PGresult *jobs = NULL, *running = NULL;
	json_t *d = NULL, *kinds = NULL;
	int ret = -1, n;

	jobs = db_run(db, "rescheduling jobs", "UPDATE jobs SET next_attempt_at = now(), "
	              "attempts = 0, last_error = NULL, updated_at = now() "
	              "WHERE domain = $1 AND service = $2 AND claimed_by IS NULL "
	              "RETURNING kind", 2, p, PGRES_TUPLES_OK);
	if (jobs == NULL)
		goto out;
	running = db_run(db, "jobs", "SELECT kind FROM jobs WHERE domain = $1 AND service = $2 "
	                 "AND claimed_by IS NOT NULL ORDER BY kind", 2, p, PGRES_TUPLES_OK);
	if (running == NULL)
		goto out;
	if (reset) {
		p[2] = to;
		if (db_cmd(db, "resetting the dns state", "UPDATE services SET dns = $3, "
		           "updated_at = now() WHERE domain = $1 AND service = $2", 3, p) != 0)
			goto out;
	}
	n = PQntuples(jobs);
	if ((kinds = json_array()) == NULL)
		goto oom;
	for (int i = 0; i < n; i++)
		if (json_array_append_new(kinds, json_string(PQgetvalue(jobs, i, 0))) != 0)
			goto oom;
	d = json_pack("{s:s, s:s, s:O}", "by", "regzonectl", "user", user, "jobs_due_now", kinds);
	if (d == NULL)
		goto oom;
	if (reset && json_object_set_new(d, "dns", json_pack("{s:s, s:s}", "from", dns, "to", to)) != 0)
		goto oom;
	if ((detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto oom;
	snprintf(message, sizeof(message), "retry requested by regzonectl (user %s)", user);
	p[2] = message;
	p[3] = detail;
	if (db_cmd(db, "audit", "INSERT INTO audit (domain, service, kind, message, detail) "
	           "VALUES ($1, $2, 'event', $3, $4::jsonb)", 4, p) != 0)
		goto out;

	fprintf(out, "%s (", domain);
	put_safe(out, service);
	fprintf(out, "):");
	if (reset) {
		fprintf(out, " dns %s -> %s", dns, to);
		sep = ";";
	}
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s", i == 0 ? sep : ",");
		fprintf(out, "%s", i == 0 ? " jobs due now: " : " ");
		put_safe(out, PQgetvalue(jobs, i, 0));
		sep = ";";
	}
	for (int i = 0; i < PQntuples(running); i++) {
		fprintf(out, "%s", i == 0 ? sep : ",");
		fprintf(out, "%s", i == 0 ? " running, left alone: " : " ");
		put_safe(out, PQgetvalue(running, i, 0));
		sep = ";";
	}
	if (n == 0 && !reset)
		fprintf(out, "%s nothing was waiting", sep);
	fprintf(out, "\n");
	ret = 0;
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	free(detail);
	json_decref(d);
	json_decref(kinds);
	PQclear(running);
	PQclear(jobs);
	return ret;
}

static int cmd_retry(const struct ctl_args *a, struct rz_config *cfg)
{
	char domain[ZG_OWNER_SIZE], user[320], *report = NULL;
	const char *p[1] = { domain };
	size_t report_len = 0;
	PGconn *db = NULL;
	PGresult *svc = NULL;
	FILE *out = NULL;
	bool in_tx = false;
	int rc;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK || (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	user_name(user, sizeof(user));
	/* What was done is printed only once it is committed. */
	if ((out = open_memstream(&report, &report_len)) == NULL) {
		fprintf(stderr, "regzonectl: %s\n", strerror(errno));
		goto out;
	}
	if (db_cmd(db, "BEGIN", "BEGIN", 0, NULL) != 0)
		goto out;
	in_tx = true;
	svc = db_run(db, "services", "SELECT service, desired, dns FROM services "
	             "WHERE domain = $1 ORDER BY service FOR UPDATE", 1, p, PGRES_TUPLES_OK);
	if (svc == NULL)
		goto out;
	if (PQntuples(svc) == 0) {
		fprintf(stderr, "regzonectl: no such domain: %s\n", domain);
		goto out;
	}
	for (int i = 0; i < PQntuples(svc); i++)
		if (retry_service(db, domain, svc, i, user, out) != 0)
			goto out;
	if (db_cmd(db, "NOTIFY", "NOTIFY rz_jobs", 0, NULL) != 0 ||
	    db_cmd(db, "COMMIT", "COMMIT", 0, NULL) != 0)
		goto out;
	in_tx = false;
	if (fclose(out) != 0) {
		out = NULL;
		fprintf(stderr, "regzonectl: %s\n", strerror(errno));
		goto out;
	}
	out = NULL;
	printf("%sretry recorded in the audit trail; regzoned's workers notified (rz_jobs)\n",
	       report);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	if (in_tx) {
		PGresult *rb = PQexecParams(db, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);

		PQclear(rb);
	}
	if (out != NULL)
		fclose(out);
	free(report);
	PQclear(svc);
	PQfinish(db);
	return rc;
}

/* ------------------------------------------------------------------ diff */

/* The records diff looks at: every one a profile generates for the domain
 * (its owner and type set the scope), and whether regzone wants it now. */
struct diff_set {
	struct zg_krec *recs;
	bool *wanted;
	size_t n;
};

/* Expand p for domain with params and add the records. */
static int diff_add(struct diff_set *d, const struct zg_profile *p, const char *domain,
                    const struct zg_kv *params, size_t n_params, bool wanted,
                    const char *origin)
{
	struct zg_rr *rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs));
	struct zg_krec *recs;
	bool *w;
	char err[512];
	size_t n;
	int rc = EXIT_REFUSED;

	if (rrs == NULL)
		goto oom;
	if (zg_expand(p, domain, params, n_params, rrs, &n, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: profile '%s' (%s) for %s: %s\n", p->name, origin,
		        domain, err);
		goto out;
	}
	if ((recs = realloc(d->recs, (d->n + n) * sizeof(*recs))) == NULL)
		goto oom;
	d->recs = recs;
	if ((w = realloc(d->wanted, (d->n + n) * sizeof(*w))) == NULL)
		goto oom;
	d->wanted = w;
	for (size_t i = 0; i < n; i++) {
		zg_krec_from_rr(&rrs[i], &d->recs[d->n]);
		d->wanted[d->n++] = wanted;
	}
	rc = EXIT_OK;
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	free(rrs);
	return rc;
}

/* The stored params (a jsonb object of strings) as zg_kv pointing into *obj. */
static int diff_params(const char *text, json_t **obj, struct zg_kv *kv, size_t *n)
{
	json_error_t je;
	const char *key;
	json_t *v;

	*n = 0;
	*obj = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*obj) || json_object_size(*obj) > ZG_MAX_PARAMS)
		return -1;
	json_object_foreach(*obj, key, v) {
		if (!json_is_string(v))
			return -1;
		kv[*n].key = key;
		kv[(*n)++].val = json_string_value(v);
	}
	return 0;
}

/* What regzone generates for domain: the services rows' profiles and params
 * (nothing wanted while disabled), or --profile / --param when given, or
 * the default profile for an unknown domain. */
static int diff_generated(const struct ctl_args *a, const struct rz_config *cfg, PGconn *db,
                          const char *domain, struct diff_set *d)
{
	const char *p[1] = { domain };
	const struct zg_profile *prof;
	PGresult *r = NULL;
	json_t *obj = NULL;
	int rc = EXIT_REFUSED;

	if (!(a->seen & (OPT_PROFILE | OPT_PARAM))) {
		r = db_run(db, "services", "SELECT service, profile, params::text, desired "
		           "FROM services WHERE domain = $1 ORDER BY service", 1, p, PGRES_TUPLES_OK);
		if (r == NULL)
			return EXIT_REFUSED;
	}
	if (r == NULL || PQntuples(r) == 0) {
		PQclear(r);
		if ((rc = arg_profile(a, cfg, &prof)) != EXIT_OK)
			return rc;
		return diff_add(d, prof, domain, a->params, a->n_params, true,
		                a->seen & (OPT_PROFILE | OPT_PARAM) ? "given" : "default");
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct zg_kv kv[ZG_MAX_PARAMS];
		size_t n;

		prof = rz_config_profile(cfg, PQgetvalue(r, i, 1));
		if (prof == NULL) {
			fprintf(stderr, "regzonectl: %s (", domain);
			put_safe(stderr, PQgetvalue(r, i, 0));
			fprintf(stderr, ") uses profile '");
			put_safe(stderr, PQgetvalue(r, i, 1));
			fprintf(stderr, "', which %s does not define\n", cfg->path);
			goto out;
		}
		if (diff_params(PQgetvalue(r, i, 2), &obj, kv, &n) != 0) {
			fprintf(stderr, "regzonectl: %s: stored params are not an object of strings\n",
			        domain);
			goto out;
		}
		if ((rc = diff_add(d, prof, domain, kv, n, strcmp(PQgetvalue(r, i, 3), "enabled") == 0,
		                   "stored")) != EXIT_OK)
			goto out;
		rc = EXIT_REFUSED;
		json_decref(obj);
		obj = NULL;
	}
	rc = EXIT_OK;
out:
	json_decref(obj);
	PQclear(r);
	return rc;
}

/* A served record the profile would replace: same owner and type, except
 * TXT, whose sets are additive (a customer's SPF beside a verification
 * token is no difference, as the writer's conflict rules say). */
static bool diff_in_scope(const struct diff_set *d, const struct zg_krec *rec)
{
	if (strcasecmp(rec->type, "TXT") == 0)
		return false;
	for (size_t i = 0; i < d->n; i++)
		if (strcasecmp(d->recs[i].owner, rec->owner) == 0 &&
		    strcasecmp(d->recs[i].type, rec->type) == 0)
			return true;
	return false;
}

static bool diff_wanted(const struct diff_set *d, size_t upto, const struct zg_krec *rec)
{
	for (size_t i = 0; i < upto; i++)
		if (d->wanted[i] && zg_krec_equal(&d->recs[i], rec))
			return true;
	return false;
}

static void diff_line(char sign, const struct zg_krec *rec)
{
	printf("%c ", sign);
	put_safe(stdout, rec->owner);
	printf(" %u ", rec->ttl);
	put_safe(stdout, rec->type);
	printf(" ");
	put_safe(stdout, rec->data);
	printf("\n");
}

/* Served vs generated at one owner: the number of lines printed, or -1. */
static int diff_owner(struct zg_knot *k, const char *zone, const struct diff_set *d,
                      const char *owner)
{
	struct zg_krec *served = NULL;
	size_t n_served;
	char err[512];
	int lines = 0;

	if (zg_knot_read(k, zone, owner, &served, &n_served, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: knotd: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < n_served; i++)
		if (diff_in_scope(d, &served[i]) && !diff_wanted(d, d->n, &served[i])) {
			diff_line('-', &served[i]);
			lines++;
		}
	for (size_t i = 0; i < d->n; i++) {
		bool there = false;

		if (!d->wanted[i] || strcasecmp(d->recs[i].owner, owner) != 0 ||
		    diff_wanted(d, i, &d->recs[i]))   /* printed already */
			continue;
		for (size_t j = 0; j < n_served && !there; j++)
			there = zg_krec_equal(&d->recs[i], &served[j]);
		if (!there) {
			diff_line('+', &d->recs[i]);
			lines++;
		}
	}
	free(served);
	return lines;
}

/* diff DOMAIN: "+" generated but not served, "-" served (same owner and
 * type) but not generated; "in sync" when there is neither. */
static int cmd_diff(const struct ctl_args *a, struct rz_config *cfg)
{
	char domain[ZG_OWNER_SIZE], zone[ZG_OWNER_SIZE], err[512];
	struct diff_set d = { 0 };
	struct zg_knot *k = NULL;
	PGconn *db = NULL;
	int rc, lines = 0;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK)
		return rc;
	if (!(a->seen & (OPT_PROFILE | OPT_PARAM)) && (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	if ((rc = diff_generated(a, cfg, db, domain, &d)) != EXIT_OK)
		goto out;
	rc = EXIT_REFUSED;
	if (zg_knot_open(cfg->knot_socket, cfg->knot_timeout_ms, &k, err, sizeof(err)) != 0 ||
	    zg_knot_zone_of(k, domain, zone, sizeof(zone), err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: knotd: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < d.n; i++) {
		bool seen = false;
		int n;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcasecmp(d.recs[j].owner, d.recs[i].owner) == 0;
		if (seen)
			continue;
		if ((n = diff_owner(k, zone, &d, d.recs[i].owner)) < 0)
			goto out;
		lines += n;
	}
	if (lines == 0)
		printf("in sync\n");
	rc = fflush(stdout) != 0 ? EXIT_REFUSED : lines == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	zg_knot_close(k);
	PQfinish(db);
	free(d.recs);
	free(d.wanted);
	return rc;
}

/* ------------------------------------------------------------- command line */

static const struct ctl_cmd commands[] = {
	{ "preview", cmd_preview, 1, 1, OPT_PROFILE | OPT_PARAM, 0,
	  "preview DOMAIN [--profile P] [--param K=V]..." },
	{ "migrate", cmd_migrate, 0, 1, 0, 0, "migrate" },
	{ "keygen", cmd_keygen, 1, 0, 0, 0, "keygen DIR" },
	{ "enable", cmd_enable, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_PARAM | OPT_ID, 0,
	  "enable DOMAIN [--profile P] [--param K=V]... [--id ID] [--json]" },
	{ "disable", cmd_disable, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID, 0,
	  "disable DOMAIN [--id ID] [--json]" },
	{ "renew", cmd_renew, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID, 0,
	  "renew DOMAIN [--id ID] [--json]" },
	{ "status", cmd_status, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID, 0,
	  "status DOMAIN [--json]" },
	{ "wait", cmd_wait, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_UNTIL, OPT_UNTIL,
	  "wait DOMAIN --until active|published|conflict|disabled|failed [--timeout S] [--json]" },
	{ "list", cmd_list, 0, 1, OPT_STATE | OPT_JSON, 0, "list [--state S] [--json]" },
	{ "diff", cmd_diff, 1, 1, OPT_PROFILE | OPT_PARAM, 0,
	  "diff DOMAIN [--profile P] [--param K=V]..." },
	{ "retry", cmd_retry, 1, 1, 0, 0, "retry DOMAIN" },
	{ "logs", cmd_logs, 1, 1, OPT_JSON, 0, "logs DOMAIN [--json]" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: regzonectl -c FILE COMMAND [ARGS] [OPTIONS]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "options (before or after the command):\n"
	        "  -c, --config FILE  regzone's configuration, as for regzoned\n"
	        "  --timeout S        seconds to wait for regzoned (default %d; wait: %d)\n"
	        "  --key DIR          this client's CURVE key pair (\"keygen DIR\") when\n"
	        "                     listen.curve is on; default $REGZONE_CURVE_KEY_DIR\n"
	        "  --json             print states (and logs) as JSON, one line\n"
	        "  --profile P        enable/preview/diff: the profile; other daemon commands:\n"
	        "                     the service it provides (default profile otherwise)\n"
	        "  --state S          list: one of ", CTL_REQ_TIMEOUT, CTL_WAIT_TIMEOUT);
	print_names(f, list_state_names);
	fprintf(f, "\n"
	        "diff compares the stored profile and params (or --profile/--param when\n"
	        "given) with what knotd serves at the same owners and types.\n"
	        "exit status: 0 success, 1 refused or failed, 2 usage error,\n"
	        "             3 regzoned unreachable\n");
}

/* Options may come before or after the command; returns EXIT_USAGE on error. */
static int parse_args(int argc, char **argv, struct ctl_args *a, const char **cmd)
{
	static const struct { const char *name; size_t off; unsigned bit; } valued[] = {
		{ "-c", offsetof(struct ctl_args, config), 0 },
		{ "--config", offsetof(struct ctl_args, config), 0 },
		{ "--profile", offsetof(struct ctl_args, profile), OPT_PROFILE },
		{ "--id", offsetof(struct ctl_args, id), OPT_ID },
		{ "--until", offsetof(struct ctl_args, until), OPT_UNTIL },
		{ "--state", offsetof(struct ctl_args, state), OPT_STATE },
		{ "--timeout", offsetof(struct ctl_args, timeout), OPT_TIMEOUT },
		{ "--key", offsetof(struct ctl_args, key), OPT_KEY },
	};

	*cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		size_t k;

		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(arg, valued[k].name) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (i + 1 >= argc) {
				fprintf(stderr, "regzonectl: %s needs a value\n", arg);
				return EXIT_USAGE;
			}
			*(const char **)((char *)a + valued[k].off) = argv[++i];
			a->seen |= valued[k].bit;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = 1;
			a->seen |= OPT_JSON;
		} else if (strcmp(arg, "--param") == 0) {
			char *eq;

			if (i + 1 >= argc || (eq = strchr(argv[i + 1], '=')) == NULL ||
			    eq == argv[i + 1]) {
				fprintf(stderr, "regzonectl: --param needs K=V\n");
				return EXIT_USAGE;
			}
			if (a->n_params == ZG_MAX_PARAMS) {
				fprintf(stderr, "regzonectl: too many --param\n");
				return EXIT_USAGE;
			}
			*eq = '\0';
			for (size_t j = 0; j < a->n_params; j++)
				if (strcmp(a->params[j].key, argv[i + 1]) == 0) {
					fprintf(stderr, "regzonectl: --param %s given twice\n", argv[i + 1]);
					return EXIT_USAGE;
				}
			a->params[a->n_params].key = argv[++i];
			a->params[a->n_params++].val = eq + 1;
			a->seen |= OPT_PARAM;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			fprintf(stderr, "regzonectl: unknown option '%s'\n", arg);
			return EXIT_USAGE;
		} else if (*cmd == NULL) {
			*cmd = arg;
		} else if (a->n_pos < sizeof(a->pos) / sizeof(a->pos[0])) {
			a->pos[a->n_pos++] = argv[i];
		} else {
			fprintf(stderr, "regzonectl: too many arguments\n");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* Options the command does not take or needs, and values of the wrong
 * form: EXIT_USAGE with a message, before anything else is done. */
static int check_options(struct ctl_args *a, const struct ctl_cmd *c)
{
	for (size_t b = 0; b < sizeof(opt_names) / sizeof(opt_names[0]); b++) {
		if ((a->seen & ~c->opts) & (1u << b)) {
			fprintf(stderr, "regzonectl: %s does not take %s\n", c->name, opt_names[b]);
			return EXIT_USAGE;
		}
		if ((c->required & ~a->seen) & (1u << b)) {
			fprintf(stderr, "regzonectl: %s needs %s\nusage: regzonectl -c FILE %s\n",
			        c->name, opt_names[b], c->help);
			return EXIT_USAGE;
		}
	}
	if (a->timeout != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(a->timeout, &end, 10);
		if (errno != 0 || end == a->timeout || *end != '\0' || v < 1 || v > CTL_TIMEOUT_MAX) {
			fprintf(stderr, "regzonectl: --timeout needs whole seconds, 1..%d\n",
			        CTL_TIMEOUT_MAX);
			return EXIT_USAGE;
		}
		a->timeout_s = (int)v;
	}
	if (a->id != NULL && (a->id[0] == '\0' || strlen(a->id) > CTL_ID_MAX ||
	                      strspn(a->id, id_chars) != strlen(a->id))) {
		fprintf(stderr, "regzonectl: --id needs 1..%d characters of A-Z a-z 0-9 . _ : @ / + = -\n",
		        CTL_ID_MAX);
		return EXIT_USAGE;
	}
	if (a->until != NULL && name_index(until_names, a->until) < 0) {
		fprintf(stderr, "regzonectl: --until needs one of ");
		print_names(stderr, until_names);
		fprintf(stderr, "\n");
		return EXIT_USAGE;
	}
	if (a->state != NULL && name_index(list_state_names, a->state) < 0) {
		fprintf(stderr, "regzonectl: --state needs one of ");
		print_names(stderr, list_state_names);
		fprintf(stderr, "\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl_args a;
	struct rz_config *cfg = NULL;
	const struct ctl_cmd *c = NULL;
	const char *cmd;
	int rc;

	memset(&a, 0, sizeof(a));
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if ((rc = parse_args(argc, argv, &a, &cmd)) != EXIT_OK)
		return rc;
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL) {
		fprintf(stderr, "regzonectl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (a.n_pos != c->n_pos) {
		fprintf(stderr, "usage: regzonectl -c FILE %s\n", c->help);
		return EXIT_USAGE;
	}
	if ((rc = check_options(&a, c)) != EXIT_OK)
		return rc;
	if (c->needs_config && (rc = load_config(&a, &cfg)) != EXIT_OK)
		return rc;
	rz_log_set_level(RZ_LOG_WARN);
	rc = c->run(&a, cfg);
	rz_config_free(cfg);
	return rc;
}
