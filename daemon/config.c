/*
 * config.c - load regzone.yaml into struct rz_config.
 *
 * The file is read whole (at most CFG_MAX_FILE bytes) and composed by
 * libyaml's document API, which keeps each node's start mark.  That tree is
 * then walked with the schema tables below: one row per key with its type,
 * the offset of the field it fills, whether it is required, its range and
 * its default.  The first problem ends the load with "FILE:LINE:COL: msg"
 * (1-based) at the node that caused it.  Nothing is ever taken from a node
 * before its type has been checked.
 *
 * Everything the loader stores is owned by the struct and released by
 * rz_config_free(), which walks the same tables, so a half-filled struct
 * left by an error is freed like a complete one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "daemon/config.h"
#include "daemon/rz_err.h"
#include "zonegen/zonegen.h"

#define CFG_MAX_FILE    (1024 * 1024)  /* a config file is never this big */
#define CFG_MAX_KEYS    16             /* rows in one section */
#define CFG_MAX_STRING  4096           /* one string value */
#define CFG_NAME_SIZE   128            /* "profiles.NAME.records[N]" */
#define CFG_NAME_MAX    32             /* profile and parameter names */

enum cfg_type {
	CT_STRING,      /* char *, non-empty scalar */
	CT_UINT,        /* uint8/16/32 (row size), decimal, in [min, max] */
	CT_BOOL,        /* bool, plain true or false */
	CT_ENUM,        /* a name turned into an enum field by row conv */
	CT_WORD,        /* char *, one of row names */
	CT_STRLIST,     /* char ** + size_t count, at least min items */
	CT_SERVERS,     /* struct rz_server * + size_t count */
	CT_SECTION,     /* nested mapping, its fields in the same struct */
	CT_PROFILES,    /* name -> profile mapping */
	CT_PARAMS,      /* name -> parameter mapping (inside a profile) */
	CT_RECORDS,     /* sequence of record templates (inside a profile) */
	CT__MAX
};

struct cfg_ctx {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

/* Key and value node of each row of a section, NULL when absent. */
struct cfg_seen {
	const yaml_node_t *key[CFG_MAX_KEYS];
	const yaml_node_t *val[CFG_MAX_KEYS];
};

struct cfg_key;

struct cfg_section {
	const struct cfg_key *keys;
	size_t n_keys;
	/* Checks across keys once all are loaded; where is the section's mark. */
	int (*check)(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
	             const char *name, void *base);
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;             /* the field, from the section's base */
	size_t size;            /* CT_UINT: sizeof the field */
	size_t off_n;           /* lists: the size_t item count */
	bool required;
	uint32_t min, max;      /* CT_UINT: range; lists: min items */
	uint32_t def;           /* CT_UINT, CT_BOOL: value when absent */
	const char *def_name;   /* CT_ENUM, CT_WORD: name when absent, NULL: none */
	int (*conv)(const char *s, void *field);  /* CT_ENUM: 0 or RZ_ENOENT */
	const char *const *names;   /* CT_WORD: accepted names, NULL-terminated */
	const char *hint;       /* CT_ENUM, CT_WORD: the accepted names, for messages */
	const char *(*vcheck)(const char *s);     /* strings: NULL or why not */
	const struct cfg_section *sub;  /* CT_SECTION and the element schemas */
};

typedef int (*cfg_load_fn)(struct cfg_ctx *c, const struct cfg_key *row,
                           const yaml_node_t *key, const yaml_node_t *val,
                           const char *name, void *base);
typedef void (*cfg_free_fn)(const struct cfg_key *row, void *base);

static int cfg_section_load(struct cfg_ctx *c, const struct cfg_section *sec,
                            const yaml_node_t *map, yaml_mark_t where,
                            const char *name, void *base);
static void cfg_section_free(const struct cfg_section *sec, void *base);

/* ---- errors --------------------------------------------------------- */

static int cfg_errv(struct cfg_ctx *c, yaml_mark_t m, int code, const char *fmt, va_list ap)
{
	int n;

	if (c->errlen == 0)
		return code;
	n = snprintf(c->err, c->errlen, "%s:%zu:%zu: ", c->path, m.line + 1, m.column + 1);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	/* Values come from the file: keep the message one printable line. */
	for (char *p = c->err; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return code;
}

static int cfg_err(struct cfg_ctx *c, yaml_mark_t m, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int cfg_err(struct cfg_ctx *c, yaml_mark_t m, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = cfg_errv(c, m, code, fmt, ap);
	va_end(ap);
	return code;
}

/* An error not tied to a position ("FILE: msg"). */
static int cfg_err_file(const char *path, char *err, size_t errlen, int code,
                        const char *what)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s: %s", path, what);
	return code;
}

/* ---- nodes ---------------------------------------------------------- */

static const yaml_node_t *cfg_node(struct cfg_ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

static bool cfg_is_scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE;
}

static const char *cfg_scalar(const yaml_node_t *n)
{
	return cfg_is_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

static bool cfg_is_plain(const yaml_node_t *n)
{
	return cfg_is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A plain scalar YAML reads as null: "", "~", "null". */
static bool cfg_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!cfg_is_plain(n))
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(cfg_scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

static size_t cfg_items(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t cfg_pairs(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* The string of a scalar that must hold one: not null, not empty, no NUL
 * byte, not absurdly long. */
static int cfg_string(struct cfg_ctx *c, const char *what, const yaml_node_t *v,
                      const char **out)
{
	const char *s = cfg_scalar(v);

	if (s == NULL)
		return cfg_err(c, v->start_mark, RZ_ETYPE, "'%s' must be a string", what);
	if (cfg_is_null(v))
		return cfg_err(c, v->start_mark, RZ_ETYPE, "'%s' has no value", what);
	if (v->data.scalar.length == 0)
		return cfg_err(c, v->start_mark, RZ_ECONFIG, "'%s' must not be empty", what);
	if (strlen(s) != v->data.scalar.length)
		return cfg_err(c, v->start_mark, RZ_ECONFIG, "'%s' contains a NUL character", what);
	if (v->data.scalar.length > CFG_MAX_STRING)
		return cfg_err(c, v->start_mark, RZ_ETOOLONG, "'%s' is longer than %d bytes",
		               what, CFG_MAX_STRING);
	*out = s;
	return 0;
}

static int cfg_strdup(struct cfg_ctx *c, const yaml_node_t *v, const char *s, char **out)
{
	*out = strdup(s);
	if (*out == NULL)
		return cfg_err(c, v->start_mark, RZ_ENOMEM, "out of memory");
	return 0;
}

/* Decimal, no sign, no leading zero; a YAML quoted scalar is a string. */
static int cfg_uint(struct cfg_ctx *c, const char *what, const yaml_node_t *v,
                    uint32_t min, uint32_t max, uint32_t *out)
{
	const char *s = cfg_scalar(v);
	uint64_t n = 0;
	bool neg = false;

	if (!cfg_is_plain(v) || s[0] == '\0')
		return cfg_err(c, v->start_mark, RZ_ETYPE, "'%s' must be an integer", what);
	if (s[0] == '-' && s[1] != '\0') {
		neg = true;
		s++;
	}
	if (strspn(s, "0123456789") != strlen(s))
		return cfg_err(c, v->start_mark, RZ_ETYPE, "'%s' must be an integer", what);
	if (s[0] == '0' && s[1] != '\0')
		return cfg_err(c, v->start_mark, RZ_ETYPE,
		               "'%s' must be a decimal integer without leading zeros", what);
	for (; *s != '\0' && n <= UINT32_MAX; s++)
		n = n * 10 + (uint64_t)(*s - '0');
	if (neg || n < min || n > max)
		return cfg_err(c, v->start_mark, RZ_ERANGE, "'%s' must be between %u and %u",
		               what, min, max);
	*out = (uint32_t)n;
	return 0;
}

/* ---- value checks (vcheck) ------------------------------------------ */

static const char *cfg_check_https(const char *s)
{
	if (strncasecmp(s, "https://", 8) != 0 || s[8] == '\0' || s[8] == '/')
		return "must be an https:// URL";
	if (strpbrk(s, " \t\"<>\\^`{|}") != NULL)
		return "must be a URL without spaces or quotes";
	return NULL;
}

/* A CURVE public key in Z85: 40 characters of the Z85 alphabet. */
static const char *cfg_check_z85(const char *s)
{
	static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
	                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

	if (strlen(s) != 40 || strspn(s, z85) != 40)
		return "must list Z85 public keys of 40 characters";
	return NULL;
}

static const char *cfg_check_z85_key(const char *s)
{
	return cfg_check_z85(s) != NULL ? "must be a Z85 public key of 40 characters" : NULL;
}

/* [first][rest]{0,31}: profile and parameter names. */
static bool cfg_name_ok(const char *s, const char *first, const char *rest)
{
	size_t len = strlen(s);

	return len >= 1 && len <= CFG_NAME_MAX && strchr(first, s[0]) != NULL &&
	       strspn(s + 1, rest) == len - 1;
}

#define CFG_LOWER "abcdefghijklmnopqrstuvwxyz"
#define CFG_DIGIT "0123456789"

/* ---- enums (conv) --------------------------------------------------- */

static const char *const key_type_names[RZ_KEY__MAX] = {
	[RZ_KEY_P256] = "p256", [RZ_KEY_P384] = "p384",
	[RZ_KEY_RSA2048] = "rsa2048", [RZ_KEY_RSA3072] = "rsa3072",
};

static const char *const log_level_names[] = { "error", "warning", "info", "debug", NULL };

static int cfg_conv_key_type(const char *s, void *field)
{
	for (int i = 0; i < RZ_KEY__MAX; i++) {
		if (strcmp(s, key_type_names[i]) == 0) {
			*(enum rz_key_type *)field = (enum rz_key_type)i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

static int cfg_conv_rtype(const char *s, void *field)
{
	return zg_rtype_from_name(s, (enum zg_rtype *)field) == 0 ? 0 : RZ_ENOENT;
}

static int cfg_conv_ptype(const char *s, void *field)
{
	return zg_ptype_from_name(s, (enum zg_ptype *)field) == 0 ? 0 : RZ_ENOENT;
}

/* ---- loaders, one per type ------------------------------------------ */

#define FIELD(base, off) ((void *)((char *)(base) + (off)))

static int cfg_load_string(struct cfg_ctx *c, const struct cfg_key *row,
                           const yaml_node_t *key, const yaml_node_t *val,
                           const char *name, void *base)
{
	const char *s = NULL, *why = NULL;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_string(c, row->name, val, &s)) != 0)
		return ret;
	if (row->vcheck != NULL && (why = row->vcheck(s)) != NULL)
		return cfg_err(c, val->start_mark, RZ_ECONFIG, "'%s' %s", row->name, why);
	return cfg_strdup(c, val, s, FIELD(base, row->off));
}

static void cfg_store_uint(const struct cfg_key *row, void *base, uint32_t v)
{
	void *f = FIELD(base, row->off);

	switch (row->size) {
	case sizeof(uint8_t):
		*(uint8_t *)f = (uint8_t)v;
		break;
	case sizeof(uint16_t):
		*(uint16_t *)f = (uint16_t)v;
		break;
	default:
		*(uint32_t *)f = v;
		break;
	}
}

static int cfg_load_uint(struct cfg_ctx *c, const struct cfg_key *row,
                         const yaml_node_t *key, const yaml_node_t *val,
                         const char *name, void *base)
{
	uint32_t v = 0;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_uint(c, row->name, val, row->min, row->max, &v)) != 0)
		return ret;
	cfg_store_uint(row, base, v);
	return 0;
}

static int cfg_load_bool(struct cfg_ctx *c, const struct cfg_key *row,
                         const yaml_node_t *key, const yaml_node_t *val,
                         const char *name, void *base)
{
	static const char *const names[] = { "false", "true" };
	const char *s = cfg_scalar(val);

	(void)key;
	(void)name;
	for (size_t i = 0; cfg_is_plain(val) && i < 2; i++) {
		if (strcmp(s, names[i]) == 0) {
			*(bool *)FIELD(base, row->off) = i == 1;
			return 0;
		}
	}
	return cfg_err(c, val->start_mark, RZ_ETYPE, "'%s' must be true or false", row->name);
}

static int cfg_load_enum(struct cfg_ctx *c, const struct cfg_key *row,
                         const yaml_node_t *key, const yaml_node_t *val,
                         const char *name, void *base)
{
	const char *s = NULL;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_string(c, row->name, val, &s)) != 0)
		return ret;
	if (row->conv(s, FIELD(base, row->off)) != 0)
		return cfg_err(c, val->start_mark, RZ_ECONFIG,
		               "invalid '%s' value '%.64s' (expected %s)", row->name, s, row->hint);
	return 0;
}

static const char *cfg_word(const struct cfg_key *row, const char *s)
{
	for (size_t i = 0; row->names[i] != NULL; i++)
		if (strcmp(s, row->names[i]) == 0)
			return row->names[i];
	return NULL;
}

static int cfg_load_word(struct cfg_ctx *c, const struct cfg_key *row,
                         const yaml_node_t *key, const yaml_node_t *val,
                         const char *name, void *base)
{
	const char *s = NULL;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_string(c, row->name, val, &s)) != 0)
		return ret;
	if (cfg_word(row, s) == NULL)
		return cfg_err(c, val->start_mark, RZ_ECONFIG,
		               "invalid '%s' value '%.64s' (expected %s)", row->name, s, row->hint);
	return cfg_strdup(c, val, s, FIELD(base, row->off));
}

/* Common part of the list types: a sequence of at least row->min items. */
static int cfg_seq(struct cfg_ctx *c, const struct cfg_key *row, const yaml_node_t *val)
{
	if (val->type != YAML_SEQUENCE_NODE)
		return cfg_err(c, val->start_mark, RZ_ETYPE, "'%s' must be a sequence", row->name);
	if (cfg_items(val) < row->min)
		return cfg_err(c, val->start_mark, RZ_ECONFIG, "'%s' needs at least %u item%s",
		               row->name, row->min, row->min == 1 ? "" : "s");
	return 0;
}

static int cfg_load_strlist(struct cfg_ctx *c, const struct cfg_key *row,
                            const yaml_node_t *key, const yaml_node_t *val,
                            const char *name, void *base)
{
	char ***list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);
	size_t count;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_seq(c, row, val)) != 0)
		return ret;
	count = cfg_items(val);
	if (count == 0)
		return 0;
	if ((*list = calloc(count, sizeof(**list))) == NULL)
		return cfg_err(c, val->start_mark, RZ_ENOMEM, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = cfg_node(c, val->data.sequence.items.start[i]);
		const char *s = NULL, *why = NULL;

		if (item == NULL)
			return cfg_err(c, val->start_mark, RZ_ESYNTAX, "broken YAML document");
		if ((ret = cfg_string(c, row->name, item, &s)) != 0)
			return ret;
		if (row->vcheck != NULL && (why = row->vcheck(s)) != NULL)
			return cfg_err(c, item->start_mark, RZ_ECONFIG, "'%s' %s", row->name, why);
		if ((ret = cfg_strdup(c, item, s, &(*list)[i])) != 0)
			return ret;
	}
	return 0;
}

/* "ADDRESS@PORT", the address an IPv4 or IPv6 literal; stored normalised. */
static int cfg_server(struct cfg_ctx *c, const yaml_node_t *item, const char *s,
                      struct rz_server *out)
{
	static const int families[] = { AF_INET, AF_INET6 };
	char addr[INET6_ADDRSTRLEN] = "", norm[INET6_ADDRSTRLEN] = "";
	unsigned char bin[16];
	const char *at = strrchr(s, '@'), *port = NULL;
	uint32_t p = 0;
	int ret;

	if (at == NULL || at == s || at[1] == '\0' || (size_t)(at - s) >= sizeof(addr))
		return cfg_err(c, item->start_mark, RZ_ECONFIG,
		               "invalid server '%.64s': expected ADDRESS@PORT", s);
	memcpy(addr, s, (size_t)(at - s));
	addr[at - s] = '\0';
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && norm[0] == '\0'; i++)
		if (inet_pton(families[i], addr, bin) == 1 &&
		    inet_ntop(families[i], bin, norm, sizeof(norm)) == NULL)
			norm[0] = '\0';
	if (norm[0] == '\0')
		return cfg_err(c, item->start_mark, RZ_ECONFIG, "invalid server '%.64s': "
		               "'%s' is not an IPv4 or IPv6 address", s, addr);
	port = at + 1;
	for (; *port != '\0' && strchr(CFG_DIGIT, *port) != NULL && p <= 65535; port++)
		p = p * 10 + (uint32_t)(*port - '0');
	if (*port != '\0' || p < 1 || p > 65535 || at[1] == '0')
		return cfg_err(c, item->start_mark, RZ_ERANGE, "invalid server '%.64s': "
		               "port must be a number between 1 and 65535", s);
	if ((ret = cfg_strdup(c, item, norm, &out->address)) != 0)
		return ret;
	out->port = (uint16_t)p;
	return 0;
}

static int cfg_load_servers(struct cfg_ctx *c, const struct cfg_key *row,
                            const yaml_node_t *key, const yaml_node_t *val,
                            const char *name, void *base)
{
	struct rz_server **list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);
	size_t count;
	int ret;

	(void)key;
	(void)name;
	if ((ret = cfg_seq(c, row, val)) != 0)
		return ret;
	count = cfg_items(val);
	if (count == 0)
		return 0;
	if ((*list = calloc(count, sizeof(**list))) == NULL)
		return cfg_err(c, val->start_mark, RZ_ENOMEM, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = cfg_node(c, val->data.sequence.items.start[i]);
		const char *s = NULL;

		if (item == NULL)
			return cfg_err(c, val->start_mark, RZ_ESYNTAX, "broken YAML document");
		if ((ret = cfg_string(c, row->name, item, &s)) != 0)
			return ret;
		if ((ret = cfg_server(c, item, s, &(*list)[i])) != 0)
			return ret;
		for (size_t j = 0; j < i; j++)
			if ((*list)[j].port == (*list)[i].port &&
			    strcmp((*list)[j].address, (*list)[i].address) == 0)
				return cfg_err(c, item->start_mark, RZ_ECONFIG,
				               "server '%.64s' is listed twice", s);
	}
	return 0;
}

static int cfg_load_section(struct cfg_ctx *c, const struct cfg_key *row,
                            const yaml_node_t *key, const yaml_node_t *val,
                            const char *name, void *base)
{
	char sub[CFG_NAME_SIZE];

	snprintf(sub, sizeof(sub), "%s%s%s", name, name[0] != '\0' ? "." : "", row->name);
	return cfg_section_load(c, row->sub, val, key->start_mark, sub, base);
}

/*
 * The mappings keyed by a user-chosen name (profiles, params): each key a
 * valid name, no name twice, each value loaded with row->sub into one
 * element of an array of elem_size bytes whose first member is char *name.
 */
struct cfg_named {
	const char *what;       /* "profile", "parameter" */
	size_t elem_size;
	const char *first, *rest;   /* name alphabet */
	const char *rule;       /* the same in words */
	const char *reserved;   /* a name that may not be used, or NULL */
	size_t max;             /* most elements */
};

static int cfg_load_named(struct cfg_ctx *c, const struct cfg_key *row,
                          const struct cfg_named *nd, const yaml_node_t *val,
                          const char *name, void *base)
{
	void **arr = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);
	size_t count;
	char sub[CFG_NAME_SIZE];
	int ret;

	if (val->type != YAML_MAPPING_NODE)
		return cfg_err(c, val->start_mark, RZ_ETYPE, "'%s' must be a mapping", row->name);
	count = cfg_pairs(val);
	if (count < row->min)
		return cfg_err(c, val->start_mark, RZ_ECONFIG, "'%s' must define at least one %s",
		               row->name, nd->what);
	if (count > nd->max)
		return cfg_err(c, val->start_mark, RZ_ERANGE, "'%s' has more than %zu %ss",
		               row->name, nd->max, nd->what);
	if (count == 0)
		return 0;
	if ((*arr = calloc(count, nd->elem_size)) == NULL)
		return cfg_err(c, val->start_mark, RZ_ENOMEM, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_pair_t *pair = &val->data.mapping.pairs.start[i];
		const yaml_node_t *k = cfg_node(c, pair->key), *v = cfg_node(c, pair->value);
		char *elem = (char *)*arr + i * nd->elem_size;
		const char *s = cfg_scalar(k);

		if (k == NULL || v == NULL)
			return cfg_err(c, val->start_mark, RZ_ESYNTAX, "broken YAML document");
		if (s == NULL || strlen(s) != k->data.scalar.length)
			return cfg_err(c, k->start_mark, RZ_ETYPE, "%s names must be strings",
			               nd->what);
		if (!cfg_name_ok(s, nd->first, nd->rest))
			return cfg_err(c, k->start_mark, RZ_ECONFIG, "invalid %s name '%.64s' (%s, "
			               "at most %d characters)", nd->what, s, nd->rule, CFG_NAME_MAX);
		if (nd->reserved != NULL && strcmp(s, nd->reserved) == 0)
			return cfg_err(c, k->start_mark, RZ_ECONFIG, "%s name '%s' is reserved",
			               nd->what, s);
		for (size_t j = 0; j < i; j++)
			if (strcmp(*(char **)((char *)*arr + j * nd->elem_size), s) == 0)
				return cfg_err(c, k->start_mark, RZ_ECONFIG, "%s '%s' is defined twice",
				               nd->what, s);
		if ((ret = cfg_strdup(c, k, s, (char **)elem)) != 0)
			return ret;
		snprintf(sub, sizeof(sub), "%s%s%s.%s", name, name[0] != '\0' ? "." : "",
		         row->name, s);
		if ((ret = cfg_section_load(c, row->sub, v, k->start_mark, sub, elem)) != 0)
			return ret;
	}
	return 0;
}

static const struct cfg_named cfg_named_profiles = {
	"profile", sizeof(struct zg_profile), CFG_LOWER CFG_DIGIT, CFG_LOWER CFG_DIGIT "-",
	"lowercase letters, digits and '-', not starting with '-'", NULL, SIZE_MAX,
};
static const struct cfg_named cfg_named_params = {
	"parameter", sizeof(struct zg_param), CFG_LOWER, CFG_LOWER CFG_DIGIT "_",
	"lowercase letters, digits and '_', starting with a letter", "domain", ZG_MAX_PARAMS,
};

/* Both element types start with their name, as cfg_load_named assumes. */
_Static_assert(offsetof(struct zg_profile, name) == 0, "zg_profile.name first");
_Static_assert(offsetof(struct zg_param, name) == 0, "zg_param.name first");

static int cfg_load_profiles(struct cfg_ctx *c, const struct cfg_key *row,
                             const yaml_node_t *key, const yaml_node_t *val,
                             const char *name, void *base)
{
	(void)key;
	return cfg_load_named(c, row, &cfg_named_profiles, val, name, base);
}

static int cfg_load_params(struct cfg_ctx *c, const struct cfg_key *row,
                           const yaml_node_t *key, const yaml_node_t *val,
                           const char *name, void *base)
{
	(void)key;
	return cfg_load_named(c, row, &cfg_named_params, val, name, base);
}

static int cfg_load_records(struct cfg_ctx *c, const struct cfg_key *row,
                            const yaml_node_t *key, const yaml_node_t *val,
                            const char *name, void *base)
{
	struct zg_profile *p = base;
	char sub[CFG_NAME_SIZE];
	size_t count;
	int ret;

	(void)key;
	if ((ret = cfg_seq(c, row, val)) != 0)
		return ret;
	count = cfg_items(val);
	if ((p->records = calloc(count, sizeof(*p->records))) == NULL)
		return cfg_err(c, val->start_mark, RZ_ENOMEM, "out of memory");
	p->n_records = count;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = cfg_node(c, val->data.sequence.items.start[i]);

		if (item == NULL)
			return cfg_err(c, val->start_mark, RZ_ESYNTAX, "broken YAML document");
		snprintf(sub, sizeof(sub), "%s.records[%zu]", name, i);
		ret = cfg_section_load(c, row->sub, item, item->start_mark, sub, &p->records[i]);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* ---- freeing, one per type ------------------------------------------ */

static void cfg_free_string(const struct cfg_key *row, void *base)
{
	char **s = FIELD(base, row->off);

	free(*s);
	*s = NULL;
}

static void cfg_free_strlist(const struct cfg_key *row, void *base)
{
	char ***list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);

	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void cfg_free_servers(const struct cfg_key *row, void *base)
{
	struct rz_server **list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);

	for (size_t i = 0; i < *n; i++)
		free((*list)[i].address);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void cfg_free_section(const struct cfg_key *row, void *base)
{
	cfg_section_free(row->sub, base);
}

/* A profile's own fields are zonegen's to free. */
static void cfg_free_profiles(const struct cfg_key *row, void *base)
{
	struct zg_profile **list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);

	for (size_t i = 0; i < *n; i++)
		zg_profile_clear(&(*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static const struct {
	cfg_load_fn load;
	cfg_free_fn free;       /* NULL: nothing owned */
} cfg_types[CT__MAX] = {
	[CT_STRING] = { cfg_load_string, cfg_free_string },
	[CT_UINT] = { cfg_load_uint, NULL },
	[CT_BOOL] = { cfg_load_bool, NULL },
	[CT_ENUM] = { cfg_load_enum, NULL },
	[CT_WORD] = { cfg_load_word, cfg_free_string },
	[CT_STRLIST] = { cfg_load_strlist, cfg_free_strlist },
	[CT_SERVERS] = { cfg_load_servers, cfg_free_servers },
	[CT_SECTION] = { cfg_load_section, cfg_free_section },
	[CT_PROFILES] = { cfg_load_profiles, cfg_free_profiles },
	[CT_PARAMS] = { cfg_load_params, NULL },      /* zg_profile_clear() */
	[CT_RECORDS] = { cfg_load_records, NULL },    /* zg_profile_clear() */
};

/* ---- the schema ----------------------------------------------------- */

#define C_OFF(f) offsetof(struct rz_config, f)
#define K_STR(n, f, req, chk) \
	{ .name = n, .type = CT_STRING, .off = C_OFF(f), .required = req, .vcheck = chk }
#define K_UINT(n, f, lo, hi, d) \
	{ .name = n, .type = CT_UINT, .off = C_OFF(f), .size = sizeof(((struct rz_config *)0)->f), \
	  .min = lo, .max = hi, .def = d }
#define K_BOOL(n, f, d) { .name = n, .type = CT_BOOL, .off = C_OFF(f), .def = d }
#define K_LIST(n, f, nf, req, lo, chk) \
	{ .name = n, .type = CT_STRLIST, .off = C_OFF(f), .off_n = C_OFF(nf), .required = req, \
	  .min = lo, .vcheck = chk }
#define K_SECTION(n, s, req) { .name = n, .type = CT_SECTION, .required = req, .sub = &s }
#define SECTION(keys, chk) { keys, sizeof(keys) / sizeof(keys[0]), chk }

enum { CURVE_SECRET, CURVE_PUBLIC, CURVE_PUBLIC_FILE, CURVE_CLIENTS };
static const struct cfg_key curve_keys[] = {
	[CURVE_SECRET] = K_STR("secret_key_file", curve_secret_file, false, NULL),
	[CURVE_PUBLIC] = K_STR("public_key", curve_public_key, false, cfg_check_z85_key),
	[CURVE_PUBLIC_FILE] = K_STR("public_key_file", curve_public_key_file, false, NULL),
	[CURVE_CLIENTS] = K_LIST("clients", curve_clients, n_curve_clients, true, 1, cfg_check_z85),
};

static int cfg_check_curve(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                           const char *name, void *base)
{
	struct rz_config *cfg = base;

	if (seen->val[CURVE_PUBLIC] != NULL && seen->val[CURVE_PUBLIC_FILE] != NULL)
		return cfg_err(c, seen->key[CURVE_PUBLIC_FILE]->start_mark, RZ_ECONFIG,
		               "'%s' takes 'public_key' or 'public_key_file', not both", name);
	if (seen->val[CURVE_SECRET] == NULL && seen->val[CURVE_PUBLIC] == NULL &&
	    seen->val[CURVE_PUBLIC_FILE] == NULL)
		return cfg_err(c, where, RZ_ECONFIG, "'%s' needs 'secret_key_file' (regzoned) or "
		               "the server's 'public_key' / 'public_key_file' (clients)", name);
	cfg->curve = true;
	return 0;
}
static const struct cfg_section curve_section = SECTION(curve_keys, cfg_check_curve);

int rz_endpoint_parse(const char *ep, enum rz_endpoint_kind *kind, const char **path,
                      char *why, size_t whylen)
{
	const char *rest;

	if (path != NULL)
		*path = NULL;
	if (strncmp(ep, "ipc://", 6) == 0) {
		rest = ep + 6;
		if (rest[0] != '/') {
			snprintf(why, whylen, "an ipc:// endpoint needs an absolute path");
			return RZ_EINVAL;
		}
		if (strlen(rest) > RZ_IPC_PATH_MAX) {
			snprintf(why, whylen, "the ipc:// path is longer than %d bytes (a Unix socket "
			         "address)", RZ_IPC_PATH_MAX);
			return RZ_EINVAL;
		}
		if (strpbrk(rest, "\n\r\t ") != NULL || strstr(rest, "/../") != NULL ||
		    rest[strlen(rest) - 1] == '/') {
			snprintf(why, whylen, "the ipc:// path must name a socket file, without "
			         "spaces or '..'");
			return RZ_EINVAL;
		}
		*kind = RZ_EP_IPC;
		if (path != NULL)
			*path = rest;
		return 0;
	}
	if (strncmp(ep, "tcp://", 6) == 0) {
		rest = ep + 6;
		if (strrchr(rest, ':') == NULL || strrchr(rest, ':') == rest ||
		    strrchr(rest, ':')[1] == '\0' || strpbrk(rest, " \t\r\n/") != NULL) {
			snprintf(why, whylen, "a tcp:// endpoint is tcp://ADDRESS:PORT");
			return RZ_EINVAL;
		}
		*kind = RZ_EP_TCP;
		return 0;
	}
	snprintf(why, whylen, "only ipc:// and tcp:// endpoints are supported");
	return RZ_EINVAL;
}

/* A group name, resolved now: --check tells a missing group at once. */
static int cfg_group(struct cfg_ctx *c, const yaml_node_t *v, const char *key,
                     const char *group, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int e;

	*gid = (gid_t)-1;
	if (group == NULL)
		return 0;
	e = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
	if (e != 0 || res == NULL)
		return cfg_err(c, v->start_mark, RZ_ECONFIG, "'%s': no group '%.64s' on this system%s%s",
		               key, group, e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
	*gid = gr.gr_gid;
	return 0;
}

enum { LISTEN_REQUESTS, LISTEN_FEED, LISTEN_GROUP, LISTEN_INSECURE, LISTEN_CURVE };
static const struct cfg_key listen_keys[] = {
	[LISTEN_REQUESTS] = K_STR("requests", requests, false, NULL),
	[LISTEN_FEED] = K_STR("feed", feed, false, NULL),
	[LISTEN_GROUP] = K_STR("socket_group", socket_group, false, NULL),
	[LISTEN_INSECURE] = K_BOOL("insecure_tcp", insecure_tcp, false),
	[LISTEN_CURVE] = K_SECTION("curve", curve_section, false),
};

/* Who may talk to regzone: an ipc:// socket is the file system's (the
 * directory regzoned keeps), a tcp:// one needs CURVE unless insecure_tcp
 * says otherwise, explicitly. */
static int cfg_check_listen(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                            const char *name, void *base)
{
	struct rz_config *cfg = base;
	static const struct { int key; size_t off; const char *def, *risk; } eps[] = {
		{ LISTEN_REQUESTS, C_OFF(requests), RZ_DEFAULT_REQUESTS,
		  "could publish records and get certificates" },
		{ LISTEN_FEED, C_OFF(feed), RZ_DEFAULT_FEED, "could read every domain's state" },
	};
	enum rz_endpoint_kind kind[2];
	char why[160];
	int ret;

	(void)name;
	for (size_t i = 0; i < 2; i++) {
		char **f = FIELD(cfg, eps[i].off);
		yaml_mark_t m = seen != NULL && seen->val[eps[i].key] != NULL ?
		                seen->val[eps[i].key]->start_mark : where;

		if (*f == NULL && (*f = strdup(eps[i].def)) == NULL)
			return cfg_err(c, m, RZ_ENOMEM, "out of memory");
		if (rz_endpoint_parse(*f, &kind[i], NULL, why, sizeof(why)) != 0)
			return cfg_err(c, m, RZ_ECONFIG, "'%s': %s", listen_keys[eps[i].key].name, why);
		if (kind[i] == RZ_EP_TCP && !cfg->curve && !cfg->insecure_tcp)
			return cfg_err(c, m, RZ_ECONFIG, "'%s' is a tcp:// endpoint without CURVE: "
			               "anyone who reaches it %s; set 'listen.curve' (or "
			               "'listen.insecure_tcp: true' to accept that explicitly)",
			               listen_keys[eps[i].key].name, eps[i].risk);
	}
	if (strcmp(cfg->requests, cfg->feed) == 0)
		return cfg_err(c, seen != NULL && seen->val[LISTEN_FEED] != NULL ?
		               seen->val[LISTEN_FEED]->start_mark : where, RZ_ECONFIG,
		               "'requests' and 'feed' must be different endpoints");
	if (seen != NULL && seen->val[LISTEN_GROUP] != NULL &&
	    (ret = cfg_group(c, seen->val[LISTEN_GROUP], "socket_group", cfg->socket_group,
	                     &cfg->socket_gid)) != 0)
		return ret;
	return 0;
}
static const struct cfg_section listen_section = SECTION(listen_keys, cfg_check_listen);

static const struct cfg_key database_keys[] = {
	K_STR("conninfo", db_conninfo, true, NULL),
	K_UINT("connect_timeout_s", db_connect_timeout_s, 1, 300, 10),
	K_UINT("statement_timeout_ms", db_statement_timeout_ms, 0, 3600000, 30000),
};
static const struct cfg_section database_section = SECTION(database_keys, NULL);

static const struct cfg_key knot_keys[] = {
	K_STR("socket", knot_socket, true, NULL),
	K_UINT("timeout_ms", knot_timeout_ms, 100, 60000, 5000),
};
static const struct cfg_section knot_section = SECTION(knot_keys, NULL);

static const struct cfg_key dns_keys[] = {
	{ .name = "servers", .type = CT_SERVERS, .off = C_OFF(servers), .off_n = C_OFF(n_servers),
	  .required = true, .min = 1 },
	K_UINT("timeout_ms", dns_timeout_ms, 50, 10000, 1000),
	K_UINT("check_max_s", dns_check_max_s, 10, 86400, 600),
};
static const struct cfg_section dns_section = SECTION(dns_keys, NULL);

enum { EAB_KID, EAB_HMAC_KEY };
static const struct cfg_key eab_keys[] = {
	[EAB_KID] = K_STR("kid", acme_eab_kid, false, NULL),
	[EAB_HMAC_KEY] = K_STR("hmac_key", acme_eab_hmac_key, false, NULL),
};

static int cfg_check_eab(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                         const char *name, void *base)
{
	(void)base;
	if ((seen->val[EAB_KID] == NULL) != (seen->val[EAB_HMAC_KEY] == NULL))
		return cfg_err(c, where, RZ_ECONFIG, "'%s' needs both 'kid' and 'hmac_key'", name);
	return 0;
}
static const struct cfg_section eab_section = SECTION(eab_keys, cfg_check_eab);

/* Let's Encrypt's limits by default (shared/NOTES-knot-pebble.md). */
static const struct cfg_key limit_keys[] = {
	K_UINT("new_orders", lim_new_orders, 0, 1000000, 300),
	K_UINT("new_orders_window_s", lim_new_orders_window_s, 1, 31 * 86400, 3 * 3600),
	K_UINT("certs_per_domain", lim_certs_per_domain, 0, 1000000, 50),
	K_UINT("certs_per_domain_window_s", lim_certs_per_domain_window_s, 1, 31 * 86400,
	       7 * 86400),
	K_UINT("certs_per_names", lim_certs_per_names, 0, 1000000, 5),
	K_UINT("certs_per_names_window_s", lim_certs_per_names_window_s, 1, 31 * 86400,
	       7 * 86400),
	K_UINT("failed_validations", lim_failed_validations, 0, 1000000, 5),
	K_UINT("failed_validations_window_s", lim_failed_validations_window_s, 1, 31 * 86400,
	       3600),
};
static const struct cfg_section limit_section = SECTION(limit_keys, NULL);

static const struct cfg_key acme_keys[] = {
	K_STR("directory", acme_directory, true, cfg_check_https),
	K_LIST("contact", acme_contact, n_acme_contact, false, 0, NULL),
	K_BOOL("terms_agreed", acme_terms_agreed, false),
	K_STR("account_key", acme_account_key, true, NULL),
	K_STR("ca_bundle", acme_ca_bundle, false, NULL),
	{ .name = "key_type", .type = CT_ENUM, .off = C_OFF(acme_key_type), .def_name = "p256",
	  .conv = cfg_conv_key_type, .hint = "p256, p384, rsa2048 or rsa3072" },
	K_UINT("renew_percent", acme_renew_percent, 50, 90, 66),
	K_UINT("concurrency", acme_concurrency, 1, 100, 10),
	K_SECTION("eab", eab_section, false),
	K_BOOL("revoke_on_disable", acme_revoke_on_disable, false),
	K_SECTION("limits", limit_section, false),
	K_STR("public_suffix_list", acme_psl, false, NULL),
};
static const struct cfg_section acme_section = SECTION(acme_keys, NULL);

/* NAME=VALUE for the hook's environment: a shell variable name that is
 * not one the contract sets, a value without control characters. */
static const char *cfg_check_hook_env(const char *s)
{
	static const char *const reserved[] = {
		"REGZONE_DOMAIN", "REGZONE_CERT_DIR", "REGZONE_ACTION", "REGZONE_SERVICE",
	};
	size_t n = strcspn(s, "=");

	if (s[n] != '=' || n == 0 || strchr(CFG_DIGIT, s[0]) != NULL ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" CFG_DIGIT "_") != n)
		return "entries must be NAME=VALUE with NAME of letters, digits and '_'";
	for (const char *v = s + n + 1; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return "values must not contain control characters";
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == n && strncmp(s, reserved[i], n) == 0)
			return "must not set a variable regzone sets itself (REGZONE_DOMAIN, "
			       "REGZONE_CERT_DIR, REGZONE_ACTION, REGZONE_SERVICE)";
	return NULL;
}

enum { CERT_AUTO, CERT_DIR, CERT_GROUP, CERT_HOOK, CERT_HOOK_TIMEOUT, CERT_HOOK_FAILURES,
       CERT_HOOK_ENV };
static const struct cfg_key cert_keys[] = {
	[CERT_AUTO] = K_BOOL("auto", cert_auto, true),
	[CERT_DIR] = K_STR("dir", cert_dir, true, NULL),
	[CERT_GROUP] = K_STR("group", cert_group, false, NULL),
	[CERT_HOOK] = K_STR("deploy_hook", deploy_hook, false, NULL),
	[CERT_HOOK_TIMEOUT] = K_UINT("hook_timeout_s", hook_timeout_s, 1, 3600, 60),
	[CERT_HOOK_FAILURES] = K_UINT("hook_max_failures", hook_max_failures, 1, 1000, 10),
	[CERT_HOOK_ENV] = K_LIST("hook_env", hook_env, n_hook_env, false, 0, cfg_check_hook_env),
};

static int cfg_check_cert(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                          const char *name, void *base)
{
	struct rz_config *cfg = base;

	(void)where;
	(void)name;
	for (size_t i = 0; i < cfg->n_hook_env; i++) {
		size_t n = strcspn(cfg->hook_env[i], "=");

		for (size_t j = 0; j < i; j++)
			if (strncmp(cfg->hook_env[j], cfg->hook_env[i], n + 1) == 0)
				return cfg_err(c, seen->val[CERT_HOOK_ENV]->start_mark, RZ_ECONFIG,
				               "'hook_env' sets %.*s twice", (int)n, cfg->hook_env[i]);
	}
	if (seen->val[CERT_GROUP] != NULL)
		return cfg_group(c, seen->val[CERT_GROUP], "group", cfg->cert_group, &cfg->cert_gid);
	return 0;
}
static const struct cfg_section cert_section = SECTION(cert_keys, cfg_check_cert);

/* Parameters: name -> { type, default }. */
#define P_OFF(f) offsetof(struct zg_param, f)
enum { PARAM_TYPE, PARAM_DEFAULT };
static const struct cfg_key param_keys[] = {
	[PARAM_TYPE] = { .name = "type", .type = CT_ENUM, .off = P_OFF(type), .required = true,
	                 .conv = cfg_conv_ptype, .hint = "hostname, ipv4, ipv6 or text" },
	[PARAM_DEFAULT] = { .name = "default", .type = CT_STRING, .off = P_OFF(def) },
};

static int cfg_check_param(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                           const char *name, void *base)
{
	const struct zg_param *p = base;
	char why[256] = "";
	int ret;

	(void)where;
	(void)name;
	if (p->def == NULL)
		return 0;
	if ((ret = zg_param_value_check(p->type, p->def, why, sizeof(why))) != 0)
		return cfg_err(c, seen->val[PARAM_DEFAULT]->start_mark, ret,
		               "invalid default for parameter '%s': %s", p->name, why);
	return 0;
}
static const struct cfg_section param_section = SECTION(param_keys, cfg_check_param);

/* Record templates.  The rows are indexed so that masks can name them. */
#define R_OFF(f) offsetof(struct zg_rtmpl, f)
#define R_SIZE(f) sizeof(((struct zg_rtmpl *)0)->f)
enum {
	REC_OWNER, REC_TYPE, REC_TTL, REC_PRIORITY, REC_WEIGHT, REC_PORT, REC_FLAGS,
	REC_TARGET, REC_ADDRESS, REC_TEXT, REC_TAG, REC__MAX
};
static const struct cfg_key record_keys[REC__MAX] = {
	[REC_OWNER] = { .name = "owner", .type = CT_STRING, .off = R_OFF(owner), .required = true },
	[REC_TYPE] = { .name = "type", .type = CT_ENUM, .off = R_OFF(type), .required = true,
	               .conv = cfg_conv_rtype, .hint = "A, AAAA, CNAME, SRV, TXT, MX or CAA" },
	[REC_TTL] = { .name = "ttl", .type = CT_UINT, .off = R_OFF(ttl), .size = R_SIZE(ttl),
	              .min = 60, .max = 604800 },
	[REC_PRIORITY] = { .name = "priority", .type = CT_UINT, .off = R_OFF(priority),
	                   .size = R_SIZE(priority), .max = 65535 },
	[REC_WEIGHT] = { .name = "weight", .type = CT_UINT, .off = R_OFF(weight),
	                 .size = R_SIZE(weight), .max = 65535 },
	[REC_PORT] = { .name = "port", .type = CT_UINT, .off = R_OFF(port), .size = R_SIZE(port),
	               .max = 65535 },
	[REC_FLAGS] = { .name = "flags", .type = CT_UINT, .off = R_OFF(flags),
	                .size = R_SIZE(flags), .max = 255 },
	[REC_TARGET] = { .name = "target", .type = CT_STRING, .off = R_OFF(target) },
	[REC_ADDRESS] = { .name = "address", .type = CT_STRING, .off = R_OFF(address) },
	[REC_TEXT] = { .name = "text", .type = CT_STRING, .off = R_OFF(text) },
	[REC_TAG] = { .name = "tag", .type = CT_STRING, .off = R_OFF(tag) },
};

#define B(k) (1u << (k))
/* Keys each record type takes beside owner, type and ttl, and those it needs. */
static const struct { unsigned allow, need; } record_fields[ZG_RR__MAX] = {
	[ZG_RR_A] = { B(REC_ADDRESS), B(REC_ADDRESS) },
	[ZG_RR_AAAA] = { B(REC_ADDRESS), B(REC_ADDRESS) },
	[ZG_RR_CNAME] = { B(REC_TARGET), B(REC_TARGET) },
	[ZG_RR_SRV] = { B(REC_PRIORITY) | B(REC_WEIGHT) | B(REC_PORT) | B(REC_TARGET),
	                B(REC_PRIORITY) | B(REC_WEIGHT) | B(REC_PORT) | B(REC_TARGET) },
	[ZG_RR_TXT] = { B(REC_TEXT), B(REC_TEXT) },
	[ZG_RR_MX] = { B(REC_PRIORITY) | B(REC_TARGET), B(REC_PRIORITY) | B(REC_TARGET) },
	[ZG_RR_CAA] = { B(REC_FLAGS) | B(REC_TAG) | B(REC_TEXT), B(REC_TAG) | B(REC_TEXT) },
};
#define RECORD_ALWAYS (B(REC_OWNER) | B(REC_TYPE) | B(REC_TTL))

static int cfg_check_record(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                            const char *name, void *base)
{
	const struct zg_rtmpl *r = base;
	const char *tname = zg_rtype_name(r->type);
	unsigned allow, need;

	(void)name;
	if (tname == NULL)
		return cfg_err(c, where, RZ_ECONFIG, "invalid record type");
	allow = record_fields[r->type].allow | RECORD_ALWAYS;
	need = record_fields[r->type].need;
	for (size_t i = 0; i < REC__MAX; i++) {
		if (seen->key[i] != NULL && !(allow & B(i)))
			return cfg_err(c, seen->key[i]->start_mark, RZ_ECONFIG,
			               "'%s' does not apply to a %s record", record_keys[i].name, tname);
	}
	for (size_t i = 0; i < REC__MAX; i++) {
		if (seen->key[i] == NULL && (need & B(i)))
			return cfg_err(c, where, RZ_ECONFIG, "%s record needs '%s'", tname,
			               record_keys[i].name);
	}
	return 0;
}
static const struct cfg_section record_section = SECTION(record_keys, cfg_check_record);

/* Profiles: name -> { service, ttl, params, records, certificate }. */
#define PR_OFF(f) offsetof(struct zg_profile, f)
enum { PROF_SERVICE, PROF_TTL, PROF_PARAMS, PROF_RECORDS, PROF_CERTIFICATE };
static const struct cfg_key profile_keys[] = {
	[PROF_SERVICE] = { .name = "service", .type = CT_STRING, .off = PR_OFF(service),
	                   .required = true },
	[PROF_TTL] = { .name = "ttl", .type = CT_UINT, .off = PR_OFF(ttl),
	               .size = sizeof(uint32_t), .min = 60, .max = 604800, .def = 3600 },
	[PROF_PARAMS] = { .name = "params", .type = CT_PARAMS, .off = PR_OFF(params),
	                  .off_n = PR_OFF(n_params), .sub = &param_section },
	[PROF_RECORDS] = { .name = "records", .type = CT_RECORDS, .required = true, .min = 1,
	                   .sub = &record_section },
	[PROF_CERTIFICATE] = { .name = "certificate", .type = CT_STRLIST,
	                       .off = PR_OFF(cert_names), .off_n = PR_OFF(n_cert_names) },
};

/* Records are checked once the whole profile is in, as they may name
 * parameters declared further down. */
static int cfg_check_profile(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                             const char *name, void *base)
{
	const struct zg_profile *p = base;
	const yaml_node_t *recs = seen->val[PROF_RECORDS];
	char why[256] = "";
	int ret;

	(void)name;
	for (size_t i = 0; i < p->n_records; i++) {
		const yaml_node_t *item = cfg_node(c, recs->data.sequence.items.start[i]);

		if ((ret = zg_rtmpl_check(p, &p->records[i], why, sizeof(why))) != 0)
			return cfg_err(c, item->start_mark, ret, "%s", why);
	}
	if ((ret = zg_profile_check(p, why, sizeof(why))) != 0)
		return cfg_err(c, where, ret, "%s", why);
	return 0;
}
static const struct cfg_section profile_section = SECTION(profile_keys, cfg_check_profile);

enum {
	TOP_LISTEN, TOP_DATABASE, TOP_KNOT, TOP_DNS, TOP_ACME, TOP_CERTIFICATES, TOP_WORKERS,
	TOP_LOG_LEVEL, TOP_DEFAULT_PROFILE, TOP_PROFILES
};
static const struct cfg_key top_keys[] = {
	[TOP_LISTEN] = K_SECTION("listen", listen_section, false),
	[TOP_DATABASE] = K_SECTION("database", database_section, true),
	[TOP_KNOT] = K_SECTION("knot", knot_section, true),
	[TOP_DNS] = K_SECTION("dns", dns_section, true),
	[TOP_ACME] = K_SECTION("acme", acme_section, true),
	[TOP_CERTIFICATES] = K_SECTION("certificates", cert_section, true),
	[TOP_WORKERS] = K_UINT("workers", workers, 0, 64, 4),
	[TOP_LOG_LEVEL] = { .name = "log_level", .type = CT_WORD, .off = C_OFF(log_level),
	                    .def_name = "info", .names = log_level_names,
	                    .hint = "error, warning, info or debug" },
	[TOP_DEFAULT_PROFILE] = K_STR("default_profile", default_profile, true, NULL),
	[TOP_PROFILES] = { .name = "profiles", .type = CT_PROFILES, .off = C_OFF(profiles),
	                   .off_n = C_OFF(n_profiles), .required = true, .min = 1,
	                   .sub = &profile_section },
};

static int cfg_check_top(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                         const char *name, void *base)
{
	struct rz_config *cfg = base;
	int ret;

	(void)name;
	/* An absent listen section means the default ipc:// endpoints. */
	if (seen->val[TOP_LISTEN] == NULL &&
	    (ret = cfg_check_listen(c, NULL, where, "listen", cfg)) != 0)
		return ret;
	if (cfg->acme_psl == NULL && (cfg->acme_psl = strdup(RZ_DEFAULT_PSL)) == NULL)
		return cfg_err(c, where, RZ_ENOMEM, "out of memory");
	if (rz_config_profile(cfg, NULL) == NULL)
		return cfg_err(c, seen->val[TOP_DEFAULT_PROFILE]->start_mark, RZ_ECONFIG,
		               "default_profile '%.64s' is not a defined profile",
		               cfg->default_profile);
	return 0;
}
static const struct cfg_section top_section = SECTION(top_keys, cfg_check_top);

/* ---- the walker ----------------------------------------------------- */

static void cfg_section_defaults(struct cfg_ctx *c, const struct cfg_section *sec, void *base,
                                 const struct cfg_seen *seen, yaml_mark_t where, int *ret)
{
	for (size_t i = 0; i < sec->n_keys && *ret == 0; i++) {
		const struct cfg_key *row = &sec->keys[i];

		if (seen != NULL && seen->key[i] != NULL)
			continue;
		if (row->type == CT_UINT)
			cfg_store_uint(row, base, row->def);
		else if (row->type == CT_BOOL)
			*(bool *)FIELD(base, row->off) = row->def != 0;
		else if (row->type == CT_ENUM && row->def_name != NULL)
			(void)row->conv(row->def_name, FIELD(base, row->off));
		else if (row->type == CT_WORD && row->def_name != NULL &&
		         (*(char **)FIELD(base, row->off) = strdup(row->def_name)) == NULL)
			*ret = cfg_err(c, where, RZ_ENOMEM, "out of memory");
		else if (row->type == CT_SECTION)
			cfg_section_defaults(c, row->sub, base, NULL, where, ret);
	}
}

static int cfg_section_load(struct cfg_ctx *c, const struct cfg_section *sec,
                            const yaml_node_t *map, yaml_mark_t where,
                            const char *name, void *base)
{
	struct cfg_seen seen;
	int ret = 0;

	memset(&seen, 0, sizeof(seen));
	if (map->type != YAML_MAPPING_NODE)
		return cfg_err(c, map->start_mark, RZ_ETYPE, "'%s' must be a mapping", name);
	for (const yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = cfg_node(c, pair->key), *v = cfg_node(c, pair->value);
		const char *s = cfg_scalar(k);
		size_t i;

		if (k == NULL || v == NULL)
			return cfg_err(c, map->start_mark, RZ_ESYNTAX, "broken YAML document");
		if (s == NULL)
			return cfg_err(c, k->start_mark, RZ_ETYPE, "keys must be strings");
		for (i = 0; i < sec->n_keys && strcmp(sec->keys[i].name, s) != 0; i++)
			;
		if (i == sec->n_keys || strlen(s) != k->data.scalar.length) {
			if (name[0] == '\0')
				return cfg_err(c, k->start_mark, RZ_ECONFIG,
				               "unknown top-level key '%.64s'", s);
			return cfg_err(c, k->start_mark, RZ_ECONFIG, "unknown key '%.64s' in '%s'",
			               s, name);
		}
		if (seen.key[i] != NULL)
			return cfg_err(c, k->start_mark, RZ_ECONFIG,
			               "duplicate key '%s'%s%s%s (first at line %zu)", s,
			               name[0] != '\0' ? " in '" : "", name, name[0] != '\0' ? "'" : "",
			               seen.key[i]->start_mark.line + 1);
		seen.key[i] = k;
		seen.val[i] = v;
		if ((ret = cfg_types[sec->keys[i].type].load(c, &sec->keys[i], k, v, name, base)) != 0)
			return ret;
	}
	for (size_t i = 0; i < sec->n_keys; i++) {
		if (seen.key[i] != NULL || !sec->keys[i].required)
			continue;
		if (name[0] == '\0')
			return cfg_err(c, where, RZ_ECONFIG, "missing required key '%s'",
			               sec->keys[i].name);
		return cfg_err(c, where, RZ_ECONFIG, "missing required key '%s' in '%s'",
		               sec->keys[i].name, name);
	}
	cfg_section_defaults(c, sec, base, &seen, where, &ret);
	if (ret == 0 && sec->check != NULL)
		ret = sec->check(c, &seen, where, name, base);
	return ret;
}

static void cfg_section_free(const struct cfg_section *sec, void *base)
{
	for (size_t i = 0; i < sec->n_keys; i++)
		if (cfg_types[sec->keys[i].type].free != NULL)
			cfg_types[sec->keys[i].type].free(&sec->keys[i], base);
}

/* ---- reading and parsing -------------------------------------------- */

/* The whole file, NUL-terminated, at most CFG_MAX_FILE bytes. */
static int cfg_read(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t len = 0;
	char why[160];
	int ret = 0;

	if ((f = fopen(path, "rbe")) == NULL) {
		snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
		ret = cfg_err_file(path, err, errlen, errno == ENOENT ? RZ_ENOENT : RZ_EIO, why);
		goto out;
	}
	if ((buf = malloc(CFG_MAX_FILE + 1)) == NULL) {
		ret = cfg_err_file(path, err, errlen, RZ_ENOMEM, "out of memory");
		goto out;
	}
	len = fread(buf, 1, CFG_MAX_FILE + 1, f);
	if (ferror(f)) {
		snprintf(why, sizeof(why), "cannot read: %s", strerror(errno));
		ret = cfg_err_file(path, err, errlen, RZ_EIO, why);
		goto out;
	}
	if (len > CFG_MAX_FILE) {
		snprintf(why, sizeof(why), "larger than %d bytes", CFG_MAX_FILE);
		ret = cfg_err_file(path, err, errlen, RZ_ETOOLONG, why);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	free(buf);
	if (f != NULL)
		fclose(f);
	return ret;
}

/* Line and column (0-based, in characters) of a byte offset. */
static yaml_mark_t cfg_mark_at(const char *buf, size_t len, size_t offset)
{
	yaml_mark_t m = { 0, 0, 0 };

	for (size_t i = 0; i < offset && i < len; i++) {
		if (buf[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	m.index = offset;
	return m;
}

/* Is the character at mark m a tab?  (libyaml counts columns in characters.) */
static bool cfg_tab_at(const char *buf, size_t len, yaml_mark_t m)
{
	size_t i = 0, line = 0, col = 0;

	for (; i < len && line < m.line; i++)
		if (buf[i] == '\n')
			line++;
	for (; i < len && buf[i] != '\n'; i++) {
		if (((unsigned char)buf[i] & 0xc0) == 0x80)
			continue;
		if (col++ == m.column)
			return buf[i] == '\t';
	}
	return false;
}

static int cfg_syntax_error(struct cfg_ctx *c, const yaml_parser_t *parser,
                            const char *buf, size_t len)
{
	yaml_mark_t m = parser->problem_mark;
	const char *problem = parser->problem != NULL ? parser->problem : "invalid YAML";

	if (parser->error == YAML_MEMORY_ERROR)
		return cfg_err_file(c->path, c->err, c->errlen, RZ_ENOMEM, "out of memory");
	if (parser->error == YAML_READER_ERROR)
		return cfg_err(c, cfg_mark_at(buf, len, parser->problem_offset), RZ_ESYNTAX,
		               "%s (byte 0x%02x)", problem, (unsigned)parser->problem_value & 0xff);
	if (cfg_tab_at(buf, len, m))
		return cfg_err(c, m, RZ_ESYNTAX, "%s (tabs are not allowed for indentation)",
		               problem);
	if (parser->context != NULL)
		return cfg_err(c, m, RZ_ESYNTAX, "%s (%s at line %zu)", problem, parser->context,
		               parser->context_mark.line + 1);
	return cfg_err(c, m, RZ_ESYNTAX, "%s", problem);
}

/* Tags other than the implicit ones would change what a value means. */
static int cfg_check_tags(struct cfg_ctx *c)
{
	static const char *const ok[] = {
		YAML_STR_TAG, YAML_SEQ_TAG, YAML_MAP_TAG,
	};

	for (const yaml_node_t *n = c->doc->nodes.start; n < c->doc->nodes.top; n++) {
		bool good = false;

		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]) && n->tag != NULL; i++)
			good = good || strcmp((const char *)n->tag, ok[i]) == 0;
		if (!good)
			return cfg_err(c, n->start_mark, RZ_ECONFIG, "YAML tag '%.64s' not supported",
			               n->tag != NULL ? (const char *)n->tag : "");
	}
	return 0;
}

int rz_config_load(const char *path, struct rz_config **out, char *err, size_t errlen)
{
	struct rz_config *cfg = NULL;
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	bool parser_ok = false, doc_ok = false, extra_ok = false;
	struct cfg_ctx c = { .path = path, .doc = &doc, .err = err, .errlen = errlen };
	const yaml_node_t *root = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret = 0;

	if (out == NULL || path == NULL)
		return RZ_EINVAL;
	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((ret = cfg_read(path, &buf, &len, err, errlen)) != 0)
		goto out;
	if (!(parser_ok = yaml_parser_initialize(&parser) != 0)) {
		ret = cfg_err_file(path, err, errlen, RZ_ENOMEM, "out of memory");
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!(doc_ok = yaml_parser_load(&parser, &doc) != 0)) {
		ret = cfg_syntax_error(&c, &parser, buf, len);
		goto out;
	}
	if ((root = yaml_document_get_root_node(&doc)) == NULL) {
		ret = cfg_err(&c, (yaml_mark_t){ 0, 0, 0 }, RZ_ECONFIG, "empty configuration");
		goto out;
	}
	/* One document only: a second one would silently be ignored. */
	if (!(extra_ok = yaml_parser_load(&parser, &extra) != 0)) {
		ret = cfg_syntax_error(&c, &parser, buf, len);
		goto out;
	}
	if (yaml_document_get_root_node(&extra) != NULL) {
		ret = cfg_err(&c, extra.start_mark, RZ_ECONFIG, "only one YAML document is allowed");
		goto out;
	}
	if ((ret = cfg_check_tags(&c)) != 0)
		goto out;
	if (root->type != YAML_MAPPING_NODE) {
		ret = cfg_err(&c, root->start_mark, RZ_ETYPE,
		              "the configuration must be a mapping of sections");
		goto out;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL || (cfg->path = strdup(path)) == NULL) {
		ret = cfg_err_file(path, err, errlen, RZ_ENOMEM, "out of memory");
		goto out;
	}
	cfg->socket_gid = cfg->cert_gid = (gid_t)-1;
	if ((ret = cfg_section_load(&c, &top_section, root, root->start_mark, "", cfg)) != 0)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	rz_config_free(cfg);
	if (extra_ok)
		yaml_document_delete(&extra);
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(buf);
	return ret;
}

void rz_config_free(struct rz_config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_section_free(&top_section, cfg);
	free(cfg->path);
	free(cfg);
}

const struct zg_profile *rz_config_profile(const struct rz_config *cfg, const char *name)
{
	if (cfg == NULL)
		return NULL;
	if (name == NULL)
		name = cfg->default_profile;
	for (size_t i = 0; name != NULL && i < cfg->n_profiles; i++)
		if (cfg->profiles[i].name != NULL && strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}

const char *rz_key_type_name(enum rz_key_type t)
{
	return (unsigned)t < RZ_KEY__MAX ? key_type_names[t] : NULL;
}
