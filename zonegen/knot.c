/*
 * knot.c - knotd's control socket: zone transactions, reads, zone lookup.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libknot/libknot.h>

#include "zonegen/knot.h"
#include "zonegen/zg_err.h"

struct zg_knot {
	knot_ctl_t *ctl;
};

/* Collects the DATA units of one reply. */
struct reply {
	struct zg_krec *recs;
	size_t n;
	char *text;          /* for diff: "+"/"-" lines */
	size_t text_len;
	bool *removed;       /* diff as records: a '-' line (parallel to recs) */
	bool want_recs;
	bool want_signs;
	bool want_text;
	bool nonode_ok;      /* "no such node" means an empty owner */
	bool any_data;
};

static void seterr(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, a, b);
}

int zg_knot_open(const char *socket_path, uint32_t timeout_ms, struct zg_knot **out,
                 char *err, size_t errlen)
{
	struct zg_knot *k = calloc(1, sizeof(*k));
	int ret;

	*out = NULL;
	if (k == NULL || (k->ctl = knot_ctl_alloc()) == NULL) {
		free(k);
		seterr(err, errlen, "%s%s", "out of memory", "");
		return ZG_ENOMEM;
	}
	knot_ctl_set_timeout(k->ctl, (int)timeout_ms);
	ret = knot_ctl_connect(k->ctl, socket_path);
	if (ret != KNOT_EOK) {
		seterr(err, errlen, "cannot connect to knotd's control socket %s: %s",
		       socket_path, knot_strerror(ret));
		knot_ctl_free(k->ctl);
		free(k);
		return ZG_EIO;
	}
	*out = k;
	return 0;
}

void zg_knot_close(struct zg_knot *k)
{
	if (k == NULL)
		return;
	knot_ctl_send(k->ctl, KNOT_CTL_TYPE_END, NULL);
	knot_ctl_close(k->ctl);
	knot_ctl_free(k->ctl);
	free(k);
}

/* Knot's error text -> our code. */
static int map_error(const char *msg)
{
	if (strstr(msg, "too many transactions") != NULL)
		return ZG_EBUSY;
	if (strstr(msg, "no such zone") != NULL)
		return ZG_ENOZONE;
	if (strstr(msg, "no such node") != NULL || strstr(msg, "no such record") != NULL)
		return ZG_ENOENT;
	return ZG_EKNOT;
}

/*
 * Knot prints data as it was written: bring what it prints to the form
 * zonegen generates, so that equal records compare equal.  CAA dumps end
 * with a space on 3.2; names inside CNAME, MX and SRV may have capitals a
 * customer typed; addresses are re-rendered by the C library.
 */
static void normalise(struct zg_krec *rec)
{
	unsigned char bin[16];
	size_t len;

	for (len = strlen(rec->data); len > 0 && rec->data[len - 1] == ' '; len--)
		rec->data[len - 1] = '\0';
	if (strcasecmp(rec->type, "CNAME") == 0 || strcasecmp(rec->type, "MX") == 0 ||
	    strcasecmp(rec->type, "SRV") == 0) {
		for (char *c = rec->data; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	} else if (strcasecmp(rec->type, "A") == 0 && inet_pton(AF_INET, rec->data, bin) == 1) {
		inet_ntop(AF_INET, bin, rec->data, sizeof(rec->data));
	} else if (strcasecmp(rec->type, "AAAA") == 0 &&
	           inet_pton(AF_INET6, rec->data, bin) == 1) {
		inet_ntop(AF_INET6, bin, rec->data, sizeof(rec->data));
	}
}

static int copy_rec(struct reply *r, knot_ctl_data_t *d)
{
	const char *owner = (*d)[KNOT_CTL_IDX_OWNER], *type = (*d)[KNOT_CTL_IDX_TYPE];
	const char *ttl = (*d)[KNOT_CTL_IDX_TTL], *data = (*d)[KNOT_CTL_IDX_DATA];
	struct zg_krec *tmp, *rec;

	if (owner == NULL || type == NULL || data == NULL)
		return 0;   /* not a record (status lines and the like) */
	tmp = realloc(r->recs, (r->n + 1) * sizeof(*tmp));
	if (tmp == NULL)
		return ZG_ENOMEM;
	r->recs = tmp;
	rec = &r->recs[r->n++];
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->owner, sizeof(rec->owner), "%s", owner);
	for (char *c = rec->owner; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	rec->ttl = ttl != NULL ? (uint32_t)strtoul(ttl, NULL, 10) : 0;
	snprintf(rec->type, sizeof(rec->type), "%s", type);
	snprintf(rec->data, sizeof(rec->data), "%s", data);
	normalise(rec);
	return 0;
}

/* After copy_rec() of a diff line: whether it removes the record. */
static int copy_sign(struct reply *r, knot_ctl_data_t *d)
{
	const char *flags = (*d)[KNOT_CTL_IDX_FLAGS];
	bool *tmp;

	if (r->n == 0)
		return 0;
	if ((tmp = realloc(r->removed, r->n * sizeof(*tmp))) == NULL)
		return ZG_ENOMEM;
	r->removed = tmp;
	r->removed[r->n - 1] = flags != NULL && strchr(flags, '-') != NULL;
	return 0;
}

static int append_text(struct reply *r, knot_ctl_data_t *d)
{
	const char *flags = (*d)[KNOT_CTL_IDX_FLAGS];
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 64];
	int n;
	char *tmp;

	if ((*d)[KNOT_CTL_IDX_OWNER] == NULL || (*d)[KNOT_CTL_IDX_TYPE] == NULL)
		return 0;
	n = snprintf(line, sizeof(line), "%s%s %s %s %s\n",
	             flags != NULL && strchr(flags, '-') ? "-" : "+",
	             (*d)[KNOT_CTL_IDX_OWNER],
	             (*d)[KNOT_CTL_IDX_TTL] ? (*d)[KNOT_CTL_IDX_TTL] : "",
	             (*d)[KNOT_CTL_IDX_TYPE],
	             (*d)[KNOT_CTL_IDX_DATA] ? (*d)[KNOT_CTL_IDX_DATA] : "");
	if (n < 0)
		return ZG_EINVAL;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	tmp = realloc(r->text, r->text_len + (size_t)n + 1);
	if (tmp == NULL)
		return ZG_ENOMEM;
	memcpy(tmp + r->text_len, line, (size_t)n);
	r->text_len += (size_t)n;
	tmp[r->text_len] = '\0';
	r->text = tmp;
	return 0;
}

/*
 * Send the BLOCK that ends a command's units, then read the answer up to
 * the BLOCK that ends it, each unit to take(arg, unit): the connection
 * stays in step whatever take makes of them.  0, or ZG_EIO with the reason
 * (the connection is then out of step: close it).
 */
static int end_block(struct zg_knot *k, const char *cmd,
                     void (*take)(void *arg, knot_ctl_data_t *d), void *arg,
                     char *err, size_t errlen)
{
	int ret;

	if ((ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_BLOCK, NULL)) != KNOT_EOK) {
		seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
		return ZG_EIO;
	}
	for (;;) {
		knot_ctl_type_t type;
		knot_ctl_data_t d = { 0 };

		if ((ret = knot_ctl_receive(k->ctl, &type, &d)) != KNOT_EOK) {
			seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
			return ZG_EIO;
		}
		if (type == KNOT_CTL_TYPE_BLOCK)
			return 0;
		if (type == KNOT_CTL_TYPE_END) {
			seterr(err, errlen, "%s: %s", cmd, "knotd ended the connection");
			return ZG_EIO;
		}
		take(arg, &d);
	}
}

/* A one-zone command's answer: the first error fails it, records and
 * diff lines go to r. */
struct multi_ctx {
	struct reply *r;
	const char *cmd;
	char *err;
	size_t errlen;
	int code;
};

static void multi_take(void *arg, knot_ctl_data_t *d)
{
	struct multi_ctx *t = arg;
	struct reply *r = t->r;
	const char *e = (*d)[KNOT_CTL_IDX_ERROR];
	int ret;

	if (e != NULL) {
		if (r != NULL && r->nonode_ok && strstr(e, "no such node") != NULL)
			return;   /* nothing at that owner */
		if (t->code == 0) {
			t->code = map_error(e);
			seterr(t->err, t->errlen, "%s: %s", t->cmd, e);
		}
		return;
	}
	if (r == NULL || t->code != 0)
		return;
	r->any_data = true;
	if (r->want_recs && (ret = copy_rec(r, d)) != 0)
		t->code = ret;
	else if (r->want_signs && (ret = copy_sign(r, d)) != 0)
		t->code = ret;
	else if (r->want_text && (ret = append_text(r, d)) != 0)
		t->code = ret;
}

/*
 * One command, for one or several items: a DATA unit per record or owner
 * (knotd runs the command once per unit of the block), then BLOCK; then
 * every unit until the BLOCK that ends the answer.  An ERROR item in any
 * unit fails the command (its text goes to err; "no such node" only when
 * the reply does not accept it), but the answer is still read to its end
 * so the connection stays in step for the next command.
 */
static int ctl_multi(struct zg_knot *k, const char *cmd, const char *zone,
                     const struct zg_krec *recs, size_t n_recs,
                     const char *const *owners, size_t n_owners,
                     struct reply *r, char *err, size_t errlen)
{
	size_t units = n_recs + n_owners > 0 ? n_recs + n_owners : 1;
	struct multi_ctx t = { .r = r, .cmd = cmd, .err = err, .errlen = errlen };
	int ret;

	if (zone == NULL || zone[0] == '\0') {
		seterr(err, errlen, "%s: %s", cmd, "refusing an empty zone name");
		return ZG_EINVAL;
	}
	for (size_t i = 0; i < units; i++) {
		knot_ctl_data_t q = { [KNOT_CTL_IDX_CMD] = cmd, [KNOT_CTL_IDX_ZONE] = zone };
		char ttl[16];

		if (i < n_recs) {
			snprintf(ttl, sizeof(ttl), "%u", recs[i].ttl);
			q[KNOT_CTL_IDX_OWNER] = recs[i].owner;
			q[KNOT_CTL_IDX_TTL] = ttl;
			q[KNOT_CTL_IDX_TYPE] = recs[i].type;
			q[KNOT_CTL_IDX_DATA] = recs[i].data;
		} else if (i - n_recs < n_owners) {
			q[KNOT_CTL_IDX_OWNER] = owners[i - n_recs];
		}
		if ((ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_DATA, &q)) != KNOT_EOK) {
			seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
			return ZG_EIO;
		}
	}
	if ((ret = end_block(k, cmd, multi_take, &t, err, errlen)) != 0)
		return ret;
	return t.code;
}

static int ctl_cmd(struct zg_knot *k, const char *cmd, const char *zone,
                   const struct zg_krec *rec, const char *owner, struct reply *r,
                   char *err, size_t errlen)
{
	return ctl_multi(k, cmd, zone, rec, rec != NULL, &owner, owner != NULL, r, err, errlen);
}

int zg_knot_begin(struct zg_knot *k, const char *zone, char *err, size_t errlen)
{
	return ctl_cmd(k, "zone-begin", zone, NULL, NULL, NULL, err, errlen);
}

static int rec_safe(const struct zg_krec *rec, char *err, size_t errlen);

static int get_or_read(struct zg_knot *k, const char *cmd, const char *zone,
                       const char *const *owners, size_t n_owners,
                       struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	struct reply r = { .want_recs = true, .nonode_ok = true };
	int ret;

	*out = NULL;
	*n = 0;
	ret = ctl_multi(k, cmd, zone, NULL, 0, owners, n_owners, &r, err, errlen);
	if (ret != 0) {
		free(r.recs);
		return ret;
	}
	*out = r.recs;
	*n = r.n;
	return 0;
}

int zg_knot_get_many(struct zg_knot *k, const char *zone, const char *const *owners,
                     size_t n_owners, struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	if (n_owners == 0) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	return get_or_read(k, "zone-get", zone, owners, n_owners, out, n, err, errlen);
}

int zg_knot_set_many(struct zg_knot *k, const char *zone, const struct zg_krec *recs,
                     size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int ret = rec_safe(&recs[i], err, errlen);

		if (ret != 0)
			return ret;
	}
	return n == 0 ? 0 : ctl_multi(k, "zone-set", zone, recs, n, NULL, 0, NULL, err, errlen);
}

int zg_knot_unset_many(struct zg_knot *k, const char *zone, const struct zg_krec *recs,
                       size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int ret = rec_safe(&recs[i], err, errlen);

		if (ret != 0)
			return ret;
	}
	return n == 0 ? 0 : ctl_multi(k, "zone-unset", zone, recs, n, NULL, 0, NULL, err, errlen);
}

int zg_knot_get(struct zg_knot *k, const char *zone, const char *owner,
                struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	return get_or_read(k, "zone-get", zone, &owner, 1, out, n, err, errlen);
}

int zg_knot_read(struct zg_knot *k, const char *zone, const char *owner,
                 struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	return get_or_read(k, "zone-read", zone, &owner, 1, out, n, err, errlen);
}

/*
 * Nothing Knot's zone parser could read as syntax may reach zone-set.
 * Owner and type: printable ASCII without blanks or specials.  Data: the
 * same outside double quotes (blanks allowed); inside them anything
 * printable, for TXT text holds ';', '(' and ')' ("v=DMARC1; p=none"),
 * with '\' only as the escape of '"' or '\' that zg_txt_data() writes.
 */
static int rec_safe(const struct zg_krec *rec, char *err, size_t errlen)
{
	const char *fields[] = { rec->owner, rec->type, rec->data };

	for (size_t i = 0; i < 3; i++) {
		bool quoted = false;

		for (const char *c = fields[i]; *c != '\0'; c++) {
			unsigned char ch = (unsigned char)*c;

			if (ch < 0x20 || ch > 0x7e)
				goto unsafe;
			if (i == 2 && ch == '"') {
				quoted = !quoted;
				continue;
			}
			if (quoted && ch == '\\') {
				if (c[1] != '"' && c[1] != '\\')
					goto unsafe;
				c++;
				continue;
			}
			if (quoted)
				continue;
			if (ch == ';' || ch == '(' || ch == ')' || ch == '\\' || ch == '"' ||
			    (i < 2 && ch == ' '))
				goto unsafe;
		}
		if (quoted) {
			seterr(err, errlen, "refusing record %s %s: unbalanced quote",
			       rec->owner, rec->type);
			return ZG_EINVAL;
		}
	}
	if (rec->owner[0] == '\0' || rec->owner[strlen(rec->owner) - 1] != '.') {
		seterr(err, errlen, "refusing record %s %s: owner not fully qualified",
		       rec->owner, rec->type);
		return ZG_EINVAL;
	}
	return 0;
unsafe:
	seterr(err, errlen, "refusing record %s %s: unsafe character", rec->owner, rec->type);
	return ZG_EINVAL;
}

int zg_knot_set(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                char *err, size_t errlen)
{
	int ret = rec_safe(rec, err, errlen);

	return ret != 0 ? ret : ctl_cmd(k, "zone-set", zone, rec, NULL, NULL, err, errlen);
}

int zg_knot_unset(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                  char *err, size_t errlen)
{
	int ret = rec_safe(rec, err, errlen);

	return ret != 0 ? ret : ctl_cmd(k, "zone-unset", zone, rec, NULL, NULL, err, errlen);
}

int zg_knot_diff(struct zg_knot *k, const char *zone, char **text, char *err, size_t errlen)
{
	struct reply r = { .want_text = true };
	int ret = ctl_cmd(k, "zone-diff", zone, NULL, NULL, &r, err, errlen);

	*text = NULL;
	if (ret != 0) {
		free(r.text);
		return ret;
	}
	*text = r.text != NULL ? r.text : strdup("");
	return *text != NULL ? 0 : ZG_ENOMEM;
}

int zg_knot_diff_recs(struct zg_knot *k, const char *zone, struct zg_krec **recs,
                      bool **removed, size_t *n, char *err, size_t errlen)
{
	struct reply r = { .want_recs = true, .want_signs = true };
	int ret = ctl_cmd(k, "zone-diff", zone, NULL, NULL, &r, err, errlen);

	*recs = NULL;
	*removed = NULL;
	*n = 0;
	if (ret != 0 || (r.n > 0 && r.removed == NULL)) {
		free(r.recs);
		free(r.removed);
		return ret != 0 ? ret : ZG_ENOMEM;
	}
	*recs = r.recs;
	*removed = r.removed;
	*n = r.n;
	return 0;
}

int zg_knot_commit(struct zg_knot *k, const char *zone, char *err, size_t errlen)
{
	int ret = ctl_cmd(k, "zone-commit", zone, NULL, NULL, NULL, err, errlen);

	if (ret != 0)
		zg_knot_abort(k, zone);
	return ret;
}

void zg_knot_abort(struct zg_knot *k, const char *zone)
{
	char err[256];

	(void)ctl_cmd(k, "zone-abort", zone, NULL, NULL, NULL, err, sizeof(err));
}

/* The zone of a reply unit: its ZONE as knotd prints it (a trailing dot on
 * records, as sent on errors), compared without case; n when none. */
static size_t batch_zone_of(const struct zg_kbatch_zone *zones, size_t n, const char *name)
{
	size_t len;

	if (name == NULL)
		return n;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < n; i++)
		if (strlen(zones[i].zone) == len && strncasecmp(zones[i].zone, name, len) == 0)
			return i;
	return n;
}

static void batch_fail(struct zg_kbatch_zone *z, int code, const char *cmd, const char *msg)
{
	if (z->ret != 0)
		return;
	z->ret = code;
	snprintf(z->err, sizeof(z->err), "%s: %.400s", cmd, msg);
}

/* A batch's answer: each unit onto its zone. */
struct batch_ctx {
	struct zg_kbatch_zone *zones;
	size_t n_zones;
	const char *cmd;
	bool stray;                   /* an error knotd gave for no zone of ours */
	int code;                     /* out of memory */
};

static void batch_take(void *arg, knot_ctl_data_t *d)
{
	struct batch_ctx *t = arg;
	size_t zi = batch_zone_of(t->zones, t->n_zones, (*d)[KNOT_CTL_IDX_ZONE]);
	const char *e = (*d)[KNOT_CTL_IDX_ERROR];
	struct zg_kbatch_zone *z;
	struct reply r;

	if (zi == t->n_zones) {
		t->stray = t->stray || e != NULL;
		return;
	}
	z = &t->zones[zi];
	if (e != NULL) {
		if (!(strcmp(t->cmd, "zone-get") == 0 && strstr(e, "no such node") != NULL))
			batch_fail(z, map_error(e), t->cmd, e);
		return;
	}
	if (strcmp(t->cmd, "zone-get") != 0 || z->ret != 0 || t->code != 0)
		return;
	r = (struct reply){ .recs = z->recs, .n = z->n_recs };
	t->code = copy_rec(&r, d);
	z->recs = r.recs;
	z->n_recs = r.n;
}

int zg_knot_batch(struct zg_knot *k, const char *cmd, struct zg_kbatch_zone *zones,
                  size_t n_zones, const struct zg_kbatch_unit *units, size_t n_units,
                  char *err, size_t errlen)
{
	bool rec_cmd = strcmp(cmd, "zone-set") == 0 || strcmp(cmd, "zone-unset") == 0;
	struct batch_ctx t = { .zones = zones, .n_zones = n_zones, .cmd = cmd };
	size_t sent = 0;
	int ret;

	for (size_t i = 0; i < n_units; i++) {
		struct zg_kbatch_zone *z;
		char why[400];

		if (units[i].zone >= n_zones || zones[units[i].zone].zone == NULL ||
		    zones[units[i].zone].zone[0] == '\0') {
			seterr(err, errlen, "%s: %s", cmd, "a unit without its zone");
			return ZG_EINVAL;   /* never an empty ZONE: it means every zone */
		}
		z = &zones[units[i].zone];
		if (rec_cmd && (units[i].rec == NULL ||
		                (ret = rec_safe(units[i].rec, why, sizeof(why))) != 0))
			batch_fail(z, units[i].rec == NULL ? ZG_EINVAL : ret, cmd,
			           units[i].rec == NULL ? "no record" : why);
	}
	for (size_t i = 0; i < n_units; i++) {
		const struct zg_kbatch_unit *u = &units[i];
		knot_ctl_data_t q = { [KNOT_CTL_IDX_CMD] = cmd, [KNOT_CTL_IDX_ZONE] = zones[u->zone].zone };
		char ttl[16];

		if (zones[u->zone].ret != 0)
			continue;
		if (rec_cmd) {
			snprintf(ttl, sizeof(ttl), "%u", u->rec->ttl);
			q[KNOT_CTL_IDX_OWNER] = u->rec->owner;
			q[KNOT_CTL_IDX_TTL] = ttl;
			q[KNOT_CTL_IDX_TYPE] = u->rec->type;
			q[KNOT_CTL_IDX_DATA] = u->rec->data;
		} else if (u->owner != NULL) {
			q[KNOT_CTL_IDX_OWNER] = u->owner;
		}
		if ((ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_DATA, &q)) != KNOT_EOK) {
			seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
			return ZG_EIO;
		}
		sent++;
	}
	if (sent == 0)
		return 0;
	if ((ret = end_block(k, cmd, batch_take, &t, err, errlen)) != 0)
		return ret;
	if (t.code != 0)
		seterr(err, errlen, "%s: %s", cmd, "out of memory");
	if (t.code == 0 && t.stray) {
		/* knotd failed something it did not say which zone of: all in doubt */
		for (size_t i = 0; i < n_zones; i++)
			batch_fail(&zones[i], ZG_EKNOT, cmd, "an error knotd gave for no zone");
	}
	return t.code;
}

/* Zone z as Knot prints it -> name (size bytes): lowercase, without the
 * trailing dot.  false for an empty name or one that does not fit. */
static bool zone_name(const char *z, char *name, size_t size)
{
	size_t zlen = strlen(z);

	if (zlen > 1 && z[zlen - 1] == '.')
		zlen--;
	if (zlen == 0 || zlen >= size)
		return false;
	for (size_t i = 0; i < zlen; i++)
		name[i] = (z[i] >= 'A' && z[i] <= 'Z') ? (char)(z[i] - 'A' + 'a') : z[i];
	name[zlen] = '\0';
	return true;
}

int zg_knot_zones(struct zg_knot *k, char ***names, size_t *n, char *err, size_t errlen)
{
	knot_ctl_data_t q = { [KNOT_CTL_IDX_CMD] = "zone-status" };
	char **list = NULL;
	size_t count = 0, cap = 0;
	int ret, code = 0;

	*names = NULL;
	*n = 0;
	/* zone-status without a zone lists every zone: read-only, so the empty
	 * ZONE is safe here (and only here). */
	if ((ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_DATA, &q)) != KNOT_EOK ||
	    (ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_BLOCK, NULL)) != KNOT_EOK) {
		seterr(err, errlen, "zone-status: %s%s", knot_strerror(ret), "");
		return ZG_EIO;
	}
	for (;;) {
		knot_ctl_type_t type;
		knot_ctl_data_t d = { 0 };
		const char *z;
		char name[ZG_OWNER_SIZE];

		if ((ret = knot_ctl_receive(k->ctl, &type, &d)) != KNOT_EOK) {
			seterr(err, errlen, "zone-status: %s%s", knot_strerror(ret), "");
			code = ZG_EIO;
			break;
		}
		if (type == KNOT_CTL_TYPE_BLOCK || type == KNOT_CTL_TYPE_END)
			break;
		z = d[KNOT_CTL_IDX_ZONE];
		if (code != 0 || z == NULL || d[KNOT_CTL_IDX_ERROR] != NULL)
			continue;
		if (!zone_name(z, name, sizeof(name)))
			continue;
		if (count > 0 && strcmp(list[count - 1], name) == 0)
			continue;   /* several units per zone, one after the other */
		if (count == cap) {
			char **tmp = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof(*tmp));

			if (tmp == NULL) {
				code = ZG_ENOMEM;
				continue;
			}
			list = tmp;
		}
		if ((list[count] = strdup(name)) == NULL) {
			code = ZG_ENOMEM;
			continue;
		}
		count++;
	}
	if (code != 0) {
		zg_knot_zones_free(list, count);
		return code;
	}
	*names = list;
	*n = count;
	return 0;
}

void zg_knot_zones_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int zg_knot_zone_of(struct zg_knot *k, const char *domain, char *zone, size_t zonelen,
                    char *err, size_t errlen)
{
	for (const char *cand = zg_zone_first(domain); cand != NULL; cand = zg_zone_next(cand)) {
		char e[256] = "";
		int ret = ctl_cmd(k, "zone-status", cand, NULL, NULL, NULL, e, sizeof(e));

		if (ret == 0) {
			snprintf(zone, zonelen, "%s", cand);
			return 0;
		}
		if (ret != ZG_ENOZONE) {
			seterr(err, errlen, "%s%s", e, "");
			return ret;
		}
	}
	seterr(err, errlen, "no zone served by knotd holds %s%s", domain, "");
	return ZG_ENOENT;
}
