/*
 * config_load.c - the loaders of config.c, one per type of schema row
 * (enum cfg_type): each checks its node, fills its field, and has a
 * matching free for what it allocated (config_int.h).
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
#include "daemon/config_int.h"

/* ---- loaders, one per type ------------------------------------------ */

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

void cfg_store_uint(const struct cfg_key *row, void *base, uint32_t v)
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

/*
 * A sequence of mappings (row->sub) into a new array of its items, size
 * bytes each, at *out (*n of them); item i is loaded as NAME.WHAT[i], then
 * given to check (when there is one) with the items before it.
 */
static int cfg_load_seq(struct cfg_ctx *c, const struct cfg_key *row, const yaml_node_t *val,
                        const char *name, const char *what, size_t size, void **out,
                        size_t *n, int (*check)(struct cfg_ctx *c, void *arr, size_t i,
                                                const yaml_node_t *item, const char *sub))
{
	char sub[CFG_NAME_SIZE];
	size_t count;
	int ret;

	if ((ret = cfg_seq(c, row, val)) != 0)
		return ret;
	count = cfg_items(val);
	if ((*out = calloc(count ? count : 1, size)) == NULL)
		return cfg_err(c, val->start_mark, RZ_ENOMEM, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = cfg_node(c, val->data.sequence.items.start[i]);
		void *elem = (char *)*out + i * size;

		if (item == NULL)
			return cfg_err(c, val->start_mark, RZ_ESYNTAX, "broken YAML document");
		snprintf(sub, sizeof(sub), "%s.%s[%zu]", name, what, i);
		if ((ret = cfg_section_load(c, row->sub, item, item->start_mark, sub, elem)) != 0)
			return ret;
		if (check != NULL && (ret = check(c, *out, i, item, sub)) != 0)
			return ret;
	}
	return 0;
}

static int cfg_load_records(struct cfg_ctx *c, const struct cfg_key *row,
                            const yaml_node_t *key, const yaml_node_t *val,
                            const char *name, void *base)
{
	struct zg_profile *p = base;
	void *recs = NULL;
	int ret;

	(void)key;
	ret = cfg_load_seq(c, row, val, name, "records", sizeof(*p->records), &recs,
	                   &p->n_records, NULL);
	p->records = recs;
	return ret;
}

/* Names and sockets of knot.primaries are unique. */
static int cfg_primary_unique(struct cfg_ctx *c, void *arr, size_t i, const yaml_node_t *item,
                              const char *sub)
{
	const struct rz_primary *list = arr, *p = &list[i];

	for (size_t j = 0; j < i; j++) {
		if (strcmp(list[j].name, p->name) == 0)
			return cfg_err(c, item->start_mark, RZ_ECONFIG, "'%s': primary '%s' is "
			               "defined twice", sub, p->name);
		if (strcmp(list[j].socket, p->socket) == 0)
			return cfg_err(c, item->start_mark, RZ_ECONFIG, "'%s': socket '%.200s' "
			               "is also primary '%s''s", sub, p->socket, list[j].name);
	}
	return 0;
}

/* knot.primaries: a sequence of mappings (row->sub). */
static int cfg_load_primaries(struct cfg_ctx *c, const struct cfg_key *row,
                              const yaml_node_t *key, const yaml_node_t *val,
                              const char *name, void *base)
{
	struct rz_primary **list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);
	void *arr = NULL;
	int ret;

	(void)key;
	ret = cfg_load_seq(c, row, val, name, "primaries", sizeof(**list), &arr, n,
	                   cfg_primary_unique);
	*list = arr;
	return ret;
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

static void cfg_free_primaries(const struct cfg_key *row, void *base)
{
	struct rz_primary **list = FIELD(base, row->off);
	size_t *n = FIELD(base, row->off_n);

	for (size_t i = 0; i < *n; i++)
		cfg_section_free(row->sub, &(*list)[i]);
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

const struct cfg_type_ops cfg_types[CT__MAX] = {
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
	[CT_PRIMARIES] = { cfg_load_primaries, cfg_free_primaries },
};

