/*
 * certfiles_int.h - what the two files of the certificate files module
 * share (certfiles.c: generations and the API; certfiles_at.c: names,
 * descriptors and the file operations below <dir>).  Not an interface.
 */
#ifndef RZ_CERTFILES_INT_H
#define RZ_CERTFILES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon/certfiles.h"

#define SERVICE_TOP "xmpp"          /* the service whose files are at the top */
#define SERVICE_MAX 32
#define NAME_SIZE 272               /* ".<domain>.link" (253 + 6) and more */
#define PENDING_KEY "pending-privkey.pem"
#define PENDING_TMP "pending-privkey.pem.tmp."   /* acme_key_write_pem()'s */
#define LEGACY_GEN "_legacy"        /* not a generation name (those start alnum) */
#define LEGACY_PENDING "privkey.pem.new"
#define GEN_TMP ".tmp"              /* <gen>.tmp: a generation being written */
#define CHAIN_TMP ".chain.tmp"      /* a chain replaced inside a generation */
#define CHAIN_BEGIN "-----BEGIN CERTIFICATE-----"
#define CHAIN_MODE 0644
#define KEY_MAX (64 * 1024)

/* What sweep() removes from the private directory. */
#define SWEEP_PENDING_TMP 1         /* acme_key_write_pem()'s stale temporaries */
#define SWEEP_GEN_TMP 2             /* <gen>.tmp of crashed installs */
#define SWEEP_GENS 4                /* generations (and _legacy) not kept */

/* One call's names and open directories. */
struct at {
	const struct cf_policy *p;
	const char *service;        /* NULL: the top level (xmpp) */
	const char *domain;
	char priv[NAME_SIZE];       /* ".<domain>.d" */
	char link[NAME_SIZE];       /* ".<domain>.link" */
	char where[512];            /* "<dir>" or "<dir>/<service>", for messages */
	int top, parent, pd;        /* <dir>, <P>, <P>/.<domain>.d; -1: not open */
	char *err;
	size_t errlen;
};

enum live_kind { LIVE_NONE, LIVE_LINK, LIVE_LEGACY };

/* err = "<where>: msg" (one printable line); returns ret. */
int cfi_fail(struct at *a, int ret, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cfi_fail_sys(struct at *a, const char *dir, const char *name, const char *op);
const char *cfi_shown(const char *s, char *buf, size_t len);
bool cfi_service_ok(const char *s);
bool cfi_gen_ok(const char *g);
bool cfi_same(const char *x, size_t xlen, const char *y, size_t ylen);
void cfi_wipe(char *buf, size_t len);
mode_t cfi_dir_mode(const struct at *a);
mode_t cfi_key_mode(const struct at *a);
int cfi_dir_sync(struct at *a, int fd, const char *name);
int cfi_fd_policy(struct at *a, int fd, mode_t m, const char *name);
int cfi_dir_at(struct at *a, int dfd, const char *dname, const char *name, bool create, bool always, int *out);
int cfi_file_read(struct at *a, int dfd, const char *dname, const char *name, size_t max, mode_t mode, char **out, size_t *outlen);
int cfi_file_write(struct at *a, int dfd, const char *dname, const char *name, const char *data, size_t len, mode_t m);
int cfi_rm_at(struct at *a, int dfd, const char *dname, const char *name, int depth);
int cfi_at_init(struct at *a, const struct cf_policy *p, const char *service, const char *domain, char *err, size_t errlen);
void cfi_at_close(struct at *a);
int cfi_path_of(const struct at *a, const char *n1, const char *n2, char *out, size_t len);
int cfi_at_open(struct at *a, bool create, bool priv);
int cfi_live_get(struct at *a, enum live_kind *kind, char *gen, size_t genlen);
int cfi_live_open(struct at *a, enum live_kind kind, const char *gen, int *out);
int cfi_link_tidy(struct at *a);
int cfi_link_swap(struct at *a, const char *gen, bool legacy);
int cfi_sweep(struct at *a, int flags, const char *keep1, const char *keep2);

#endif
