/*
 * config_int.h - what the configuration loader's files share (not an
 * interface of the daemon: daemon/config.h is).
 *
 *   config.c         errors, nodes, the walker, reading the file
 *   config_load.c    one loader (and free) per row type
 *   config_schema.c  the tables of every section and their checks
 */
#ifndef RZ_CONFIG_INT_H
#define RZ_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "daemon/config.h"

#define CFG_MAX_FILE    (1024 * 1024)  /* a config file is never this big */
#define CFG_MAX_KEYS    16             /* rows in one section */
#define CFG_MAX_STRING  4096           /* one string value */
#define CFG_NAME_SIZE   128            /* "profiles.NAME.records[N]" */
#define CFG_NAME_MAX    32             /* profile and parameter names */

#define CFG_LOWER "abcdefghijklmnopqrstuvwxyz"
#define CFG_DIGIT "0123456789"

/* A row's field inside the struct it fills. */
#define FIELD(base, off) ((void *)((char *)(base) + (off)))

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
	CT_PRIMARIES,   /* sequence of Knot primaries (knot.primaries) */
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

/* config_load.c: the loader and the free of each type */
struct cfg_type_ops {
	cfg_load_fn load;
	cfg_free_fn free;       /* NULL: nothing owned */
};
extern const struct cfg_type_ops cfg_types[CT__MAX];

/* config_schema.c: the whole file */
extern const struct cfg_section cfg_top_section;

/* ---- config.c ------------------------------------------------------- */

/* "FILE:LINE:COL: msg" at mark m into the context's buffer; returns code. */
int cfg_err(struct cfg_ctx *c, yaml_mark_t m, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error not tied to a position ("FILE: msg"). */
int cfg_err_file(const char *path, char *err, size_t errlen, int code, const char *what);

const yaml_node_t *cfg_node(struct cfg_ctx *c, int index);
bool cfg_is_scalar(const yaml_node_t *n);
/* The scalar's text, NULL when n is not a scalar. */
const char *cfg_scalar(const yaml_node_t *n);
bool cfg_is_plain(const yaml_node_t *n);
/* A plain scalar YAML reads as null: "", "~", "null". */
bool cfg_is_null(const yaml_node_t *n);
size_t cfg_items(const yaml_node_t *n);
size_t cfg_pairs(const yaml_node_t *n);
/* The string of a scalar that must hold one: not null, not empty, no NUL
 * byte, at most CFG_MAX_STRING bytes. */
int cfg_string(struct cfg_ctx *c, const char *what, const yaml_node_t *v, const char **out);
int cfg_strdup(struct cfg_ctx *c, const yaml_node_t *v, const char *s, char **out);
/* Decimal, no sign, no leading zero, in [min, max]; a quoted scalar is a
 * string. */
int cfg_uint(struct cfg_ctx *c, const char *what, const yaml_node_t *v, uint32_t min,
             uint32_t max, uint32_t *out);
/* [first][rest]{0,31}: profile and parameter names. */
bool cfg_name_ok(const char *s, const char *first, const char *rest);

/* The walker: map (a mapping node) against sec into base, then sec's
 * defaults and its check; name is the section's dotted path ("" at the
 * top). */
int cfg_section_load(struct cfg_ctx *c, const struct cfg_section *sec, const yaml_node_t *map,
                     yaml_mark_t where, const char *name, void *base);
void cfg_section_free(const struct cfg_section *sec, void *base);

/* config_load.c: a CT_UINT field of its row's size */
void cfg_store_uint(const struct cfg_key *row, void *base, uint32_t v);

#endif
