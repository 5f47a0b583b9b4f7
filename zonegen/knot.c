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
	int ret, code = 0;

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
	if ((ret = knot_ctl_send(k->ctl, KNOT_CTL_TYPE_BLOCK, NULL)) != KNOT_EOK) {
		seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
		return ZG_EIO;
	}
	for (;;) {
		knot_ctl_type_t type;
		knot_ctl_data_t d = { 0 };

		ret = knot_ctl_receive(k->ctl, &type, &d);
		if (ret != KNOT_EOK) {
			seterr(err, errlen, "%s: %s", cmd, knot_strerror(ret));
			return ZG_EIO;
		}
		if (type == KNOT_CTL_TYPE_BLOCK)
			break;
		if (type == KNOT_CTL_TYPE_END) {
			seterr(err, errlen, "%s: %s", cmd, "knotd ended the connection");
			return ZG_EIO;
		}
		if (d[KNOT_CTL_IDX_ERROR] != NULL) {
			if (r != NULL && r->nonode_ok && strstr(d[KNOT_CTL_IDX_ERROR], "no such node"))
				continue;   /* nothing at that owner */
			if (code == 0) {
				code = map_error(d[KNOT_CTL_IDX_ERROR]);
				seterr(err, errlen, "%s: %s", cmd, d[KNOT_CTL_IDX_ERROR]);
			}
			continue;
		}
		if (r == NULL || code != 0)
			continue;
		r->any_data = true;
		if (r->want_recs && (ret = copy_rec(r, &d)) != 0)
			code = ret;
		else if (r->want_signs && (ret = copy_sign(r, &d)) != 0)
			code = ret;
		else if (r->want_text && (ret = append_text(r, &d)) != 0)
			code = ret;
	}
	return code;
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

/* Nothing Knot's zone parser could read as syntax may reach zone-set. */
static int rec_safe(const struct zg_krec *rec, char *err, size_t errlen)
{
	const char *fields[] = { rec->owner, rec->type, rec->data };

	for (size_t i = 0; i < 3; i++) {
		bool quoted = false;

		for (const char *c = fields[i]; *c != '\0'; c++) {
			unsigned char ch = (unsigned char)*c;

			if (i == 2 && ch == '"') {
				quoted = !quoted;
				continue;
			}
			if (ch < 0x20 || ch > 0x7e || ch == ';' || ch == '(' || ch == ')' ||
			    ch == '\\' || ch == '"' || (i < 2 && ch == ' ')) {
				seterr(err, errlen, "refusing record %s %s: unsafe character",
				       rec->owner, rec->type);
				return ZG_EINVAL;
			}
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
