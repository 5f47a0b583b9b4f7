/*
 * ctl.h - what the parts of regzonectl share (not a public interface).
 *
 *   regzonectl.c  the command line: options, the commands table, usage,
 *                 and the helpers every command uses
 *   ctl_local.c   preview, migrate, keygen (no daemon)
 *   ctl_link.c    the request socket (DEALER, CURVE, replies) and the
 *                 one-request commands: enable, disable, renew, status
 *   ctl_wait.c    wait: the feed and the request socket together
 *   ctl_db.c      list, logs (read-only SQL) and retry (through the store)
 *   ctl_diff.c    diff: generated records against what knotd serves
 *   ctl_status.c  status without a DOMAIN: each Knot primary, its zones, and
 *                 the zones two primaries list
 */
#ifndef RZ_CTL_H
#define RZ_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "daemon/config.h"
#include "daemon/request.h"
#include "daemon/state.h"
#include "zonegen/zonegen.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

#define CTL_ID_MAX        RZ_REQ_ID_MAX   /* request ids: 1..128 of RZ_REQ_ID_CHARS */
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
	OPT_POS_OPTIONAL = 1u << 8,   /* not an option: the positional arguments may be left out */
};
#define OPT_DAEMON (OPT_TIMEOUT | OPT_JSON | OPT_KEY)

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
	const char *help;        /* its synopsis */
	const char *about;       /* what it does ("help COMMAND") */
};

#define CTL_DEFAULT_CONFIG "/etc/regzone/regzone.yaml"   /* after $REGZONE_CONFIG */

/* {"id","ok":true,"state"} or {"id"|null,"ok":false,"error":{"code","message"}} */
struct ctl_reply {
	char id[CTL_ID_MAX + 1];     /* "" when null */
	bool ok;
	struct rz_state state;      /* ok */
	char code[64];               /* !ok: [a-z_]+ */
	char message[1024];          /* !ok, cut when longer */
};

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

/* regzonectl.c */
int64_t now_ms(void);
void put_safe(FILE *f, const char *s);
bool copy_str(char *dst, size_t size, const char *s);
int name_index(const char *const *names, const char *s);
void print_names(FILE *f, const char *const *names);
int arg_domain(const char *in, char out[ZG_OWNER_SIZE]);
int arg_profile(const struct ctl_args *a, const struct rz_config *cfg,
                const struct zg_profile **p);
void user_name(char *buf, size_t len);
int print_json(json_t *v);
int state_print(const struct ctl_args *a, const struct rz_state *s);
/* A refusal: "regzonectl: CODE: MESSAGE" on stderr, and with --json also
 * {"ok":false,"error":{"code","message"}} on stdout (refusal_json alone:
 * that line only). */
void refusal_print(const struct ctl_args *a, const char *code, const char *message);
void refusal_json(const struct ctl_args *a, const char *code, const char *message);

/* ctl_db.c */
/* list --state values (NULL-terminated) */
extern const char *const list_state_names[];
/* PostgreSQL (database.conninfo): EXIT_OK, or EXIT_REFUSED with the
 * reason printed. */
int db_open(const struct rz_config *cfg, PGconn **db);
/* One parameterised statement; NULL (the reason printed, what naming it)
 * unless it ends in want. */
PGresult *db_run(PGconn *db, const char *what, const char *sql, int n,
                 const char *const *params, ExecStatusType want);

/* ctl_wait.c */
/* wait --until values (NULL-terminated) */
extern const char *const until_names[];

/* ctl_link.c */
int reply_parse(const json_t *o, struct ctl_reply *r, char *err, size_t errlen);
void reply_print_error(const struct ctl_args *a, const struct ctl_reply *r);
int curve_key_dir(const struct ctl_args *a, const struct rz_config *cfg, const char **dir);
int curve_setup(void *sock, const struct rz_config *cfg, const char *dir);
int sock_basics(void *s);
void *monitor_open(void *ctx, void *sock, const char *name, int events);
void monitor_close(void *sock, void *mon);
int recv_parts(void *sock, zmq_msg_t parts[], size_t max, size_t *n);
void close_parts(zmq_msg_t parts[], size_t max, size_t n);
int monitor_event(void *mon, uint16_t *event, uint32_t *value);
void link_close(struct ctl_link *l);
int link_open(struct ctl_link *l, const struct rz_config *cfg, const char *key_dir);
int link_send(struct ctl_link *l, const char *text, int ms);
int link_monitor(struct ctl_link *l);
int link_no_reply(const struct ctl_link *l, int secs);
int link_read_reply(struct ctl_link *l, struct ctl_reply *r, char *err, size_t errlen);
int link_call(struct ctl_link *l, const char *text, const char *id, int secs,
              struct ctl_reply *r);
void request_id(const struct ctl_args *a, char *id, size_t len);
char *request_text(const struct ctl_args *a, const char *id, const char *action,
                   const char *service, const char *domain);

/* The commands, one function each (the table is in regzonectl.c). */
int cmd_preview(const struct ctl_args *a, struct rz_config *cfg);
int cmd_migrate(const struct ctl_args *a, struct rz_config *cfg);
int cmd_keygen(const struct ctl_args *a, struct rz_config *cfg);
int cmd_enable(const struct ctl_args *a, struct rz_config *cfg);
int cmd_disable(const struct ctl_args *a, struct rz_config *cfg);
int cmd_renew(const struct ctl_args *a, struct rz_config *cfg);
int cmd_status(const struct ctl_args *a, struct rz_config *cfg);
int cmd_wait(const struct ctl_args *a, struct rz_config *cfg);
int cmd_list(const struct ctl_args *a, struct rz_config *cfg);
int cmd_logs(const struct ctl_args *a, struct rz_config *cfg);
int cmd_retry(const struct ctl_args *a, struct rz_config *cfg);
int cmd_diff(const struct ctl_args *a, struct rz_config *cfg);
int cmd_status_all(const struct ctl_args *a, struct rz_config *cfg);

/* ctl_budget.c: the rate-limit budget daemon-wide and the orders waiting
 * for it, read from the database (NULL: the reason printed on stderr), and
 * its lines for people. */
json_t *ctl_budget_json(const struct rz_config *cfg);
void ctl_budget_print(const json_t *b);

#endif
