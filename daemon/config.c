/*
 * config.c - load regzone.yaml into struct rz_config.
 *
 * The file is read whole (at most CFG_MAX_FILE bytes) and composed by
 * libyaml's document API, which keeps each node's start mark.  That tree is
 * then walked with the schema tables (config_schema.c): one row per key with its type,
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
#include "daemon/config_int.h"

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

int cfg_err(struct cfg_ctx *c, yaml_mark_t m, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = cfg_errv(c, m, code, fmt, ap);
	va_end(ap);
	return code;
}

/* An error not tied to a position ("FILE: msg"). */
int cfg_err_file(const char *path, char *err, size_t errlen, int code,
                        const char *what)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s: %s", path, what);
	return code;
}

/* ---- nodes ---------------------------------------------------------- */

const yaml_node_t *cfg_node(struct cfg_ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

bool cfg_is_scalar(const yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE;
}

const char *cfg_scalar(const yaml_node_t *n)
{
	return cfg_is_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

bool cfg_is_plain(const yaml_node_t *n)
{
	return cfg_is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* A plain scalar YAML reads as null: "", "~", "null". */
bool cfg_is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!cfg_is_plain(n))
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(cfg_scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

size_t cfg_items(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

size_t cfg_pairs(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* The string of a scalar that must hold one: not null, not empty, no NUL
 * byte, not absurdly long. */
int cfg_string(struct cfg_ctx *c, const char *what, const yaml_node_t *v,
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

int cfg_strdup(struct cfg_ctx *c, const yaml_node_t *v, const char *s, char **out)
{
	*out = strdup(s);
	if (*out == NULL)
		return cfg_err(c, v->start_mark, RZ_ENOMEM, "out of memory");
	return 0;
}

/* Decimal, no sign, no leading zero; a YAML quoted scalar is a string. */
int cfg_uint(struct cfg_ctx *c, const char *what, const yaml_node_t *v,
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

/* [first][rest]{0,31}: profile and parameter names. */
bool cfg_name_ok(const char *s, const char *first, const char *rest)
{
	size_t len = strlen(s);

	return len >= 1 && len <= CFG_NAME_MAX && strchr(first, s[0]) != NULL &&
	       strspn(s + 1, rest) == len - 1;
}


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

int cfg_section_load(struct cfg_ctx *c, const struct cfg_section *sec,
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

void cfg_section_free(const struct cfg_section *sec, void *base)
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
	if ((ret = cfg_section_load(&c, &cfg_top_section, root, root->start_mark, "", cfg)) != 0)
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
	cfg_section_free(&cfg_top_section, cfg);
	free(cfg->path);
	free(cfg);
}

const struct rz_primary *rz_config_primary(const struct rz_config *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && name != NULL && i < cfg->n_primaries; i++)
		if (strcmp(cfg->primaries[i].name, name) == 0)
			return &cfg->primaries[i];
	return NULL;
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

size_t rz_config_caa_identities(const struct rz_config *cfg, const char *const **out)
{
	static const char *const def[] = { RZ_CAA_IDENTITY_DEFAULT };

	if (cfg->n_acme_caa_identities == 0) {
		*out = def;
		return 1;
	}
	*out = (const char *const *)cfg->acme_caa_identities;
	return cfg->n_acme_caa_identities;
}
