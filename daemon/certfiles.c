/*
 * certfiles.c - a service's certificate files: generations behind one
 * symbolic link, swapped in one rename (see certfiles.h).
 *
 * Every directory below <dir> is reached with openat() from its parent's
 * descriptor and O_NOFOLLOW, so a link planted there is refused, never
 * followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acme/csr.h"
#include "daemon/certfiles.h"
#include "daemon/certfiles_int.h"
#include "daemon/rz_err.h"


/* ---------------------------------------------------------- generations */

/* An extra file's name: [a-z0-9][a-z0-9_-]* and an optional ".[a-z0-9]+",
 * at most CF_GENERATION_MAX characters, not the chain's nor the key's:
 * never a path, a hidden name or one of our temporaries. */
static bool extra_name_ok(const char *n)
{
	size_t i = 0, dot = 0;

	if (n == NULL || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
		return false;
	for (; n[i] != '\0'; i++) {
		bool an = (n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9');

		if (i >= CF_GENERATION_MAX)
			return false;
		if (n[i] == '.' && dot == 0)
			dot = i;
		else if (!an && (dot != 0 || (n[i] != '_' && n[i] != '-')))
			return false;
	}
	return (dot == 0 || dot + 1 < i) && strcmp(n, CF_CHAIN_FILE) != 0 &&
	       strcmp(n, CF_KEY_FILE) != 0;
}

/* The extra files of one install, checked before anything is touched. */
static int extra_check(struct at *a, const struct cf_extra *x, size_t n)
{
	char b[80];

	if (n > CF_EXTRA_MAX || (n > 0 && x == NULL))
		return cfi_fail(a, RZ_EINVAL, "at most %d extra files, given as an array",
		            CF_EXTRA_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!extra_name_ok(x[i].name))
			return cfi_fail(a, RZ_EINVAL, "extra file '%s': not a plain file name",
			            cfi_shown(x[i].name, b, sizeof(b)));
		if (x[i].data == NULL || x[i].len > CF_EXTRA_SIZE)
			return cfi_fail(a, RZ_EINVAL, "extra file %s: no data or more than %d bytes",
			            x[i].name, CF_EXTRA_SIZE);
		for (size_t j = 0; j < i; j++)
			if (strcmp(x[i].name, x[j].name) == 0)
				return cfi_fail(a, RZ_EINVAL, "extra file %s given twice", x[i].name);
	}
	return 0;
}

/* Extra file x into generation gen (open as gfd), when it does not hold
 * exactly that: written as .<name>.new and renamed over the old one, so a
 * reader sees the old file or the new one, and a failure leaves the old. */
static int extra_put(struct at *a, int gfd, const char *gen, const struct cf_extra *x)
{
	char tmp[CF_GENERATION_MAX + 8], *old = NULL;
	size_t oldlen = 0;
	int ret;

	ret = cfi_file_read(a, gfd, gen, x->name, CF_EXTRA_SIZE, CHAIN_MODE, &old, &oldlen);
	if (ret == 0 && cfi_same(old, oldlen, x->data, x->len))
		goto out;
	if (ret != 0 && ret != RZ_ENOENT && ret != RZ_ETOOLONG)
		goto out;
	snprintf(tmp, sizeof(tmp), ".%s.new", x->name);
	if ((ret = cfi_rm_at(a, gfd, gen, tmp, 0)) != 0 ||
	    (ret = cfi_file_write(a, gfd, gen, tmp, x->data, x->len, CHAIN_MODE)) != 0)
		goto out;
	if (renameat(gfd, tmp, gfd, x->name) != 0) {
		ret = cfi_fail_sys(a, gen, x->name, "rename");
		(void)unlinkat(gfd, tmp, 0);
		goto out;
	}
	ret = cfi_dir_sync(a, gfd, gen);
out:
	free(old);
	return ret;
}

/* Generation gen exists: give it the policy's modes, read its key into
 * *key (malloc'ed), and put chain in when it holds another one, unless a
 * pending key (pend, NULL: none) that is not its key says the name is
 * reused for another certificate (RZ_EEXIST). */
static int gen_refresh(struct at *a, int gfd, const char *gen, const char *chain,
                       size_t chainlen, const char *pend, size_t pendlen,
                       const struct cf_extra *x, size_t nx, char **key, size_t *keylen)
{
	char *old = NULL;
	size_t oldlen = 0;
	int ret;

	if ((ret = cfi_fd_policy(a, gfd, cfi_dir_mode(a), gen)) != 0)
		return ret;
	ret = cfi_file_read(a, gfd, gen, CF_KEY_FILE, KEY_MAX, cfi_key_mode(a), key, keylen);
	if (ret == RZ_ENOENT)
		return cfi_fail(a, ret, "%s/%s has no %s", a->priv, gen, CF_KEY_FILE);
	if (ret != 0)
		return ret;
	ret = cfi_file_read(a, gfd, gen, CF_CHAIN_FILE, CF_CHAIN_MAX, CHAIN_MODE, &old, &oldlen);
	if (ret != 0 && ret != RZ_ENOENT)
		goto out;
	if (ret == 0 && cfi_same(old, oldlen, chain, chainlen))
		goto extra;
	if (pend != NULL && !cfi_same(pend, pendlen, *key, *keylen)) {
		ret = cfi_fail(a, RZ_EEXIST, "%s/%s holds another certificate and key: a generation "
		           "names one certificate", a->priv, gen);
		goto out;
	}
	/* another chain for the same certificate and key: one rename */
	if ((ret = cfi_rm_at(a, gfd, gen, CHAIN_TMP, 0)) != 0 ||
	    (ret = cfi_file_write(a, gfd, gen, CHAIN_TMP, chain, chainlen, CHAIN_MODE)) != 0)
		goto out;
	if (renameat(gfd, CHAIN_TMP, gfd, CF_CHAIN_FILE) != 0) {
		ret = cfi_fail_sys(a, gen, CF_CHAIN_FILE, "rename");
		goto out;
	}
	if ((ret = cfi_dir_sync(a, gfd, gen)) != 0)
		goto out;
extra:
	ret = 0;
	for (size_t i = 0; i < nx && ret == 0; i++)
		ret = extra_put(a, gfd, gen, &x[i]);
out:
	free(old);
	return ret;
}

/* Write generation gen (chain and key) into <gen>.tmp and rename it in. */
static int gen_build(struct at *a, const char *gen, const char *chain, size_t chainlen,
                     const char *key, size_t keylen, const struct cf_extra *x, size_t nx)
{
	char tmp[CF_GENERATION_MAX + sizeof(GEN_TMP)];
	int tfd = -1, ret;

	snprintf(tmp, sizeof(tmp), "%s%s", gen, GEN_TMP);
	if ((ret = cfi_rm_at(a, a->pd, a->priv, tmp, 1)) != 0)
		return ret;
	if ((ret = cfi_dir_at(a, a->pd, a->priv, tmp, true, true, &tfd)) != 0)
		goto out;
	if ((ret = cfi_file_write(a, tfd, tmp, CF_CHAIN_FILE, chain, chainlen, CHAIN_MODE)) != 0 ||
	    (ret = cfi_file_write(a, tfd, tmp, CF_KEY_FILE, key, keylen, cfi_key_mode(a))) != 0)
		goto out;
	for (size_t i = 0; i < nx; i++)
		if ((ret = cfi_file_write(a, tfd, tmp, x[i].name, x[i].data, x[i].len,
		                          CHAIN_MODE)) != 0)
			goto out;
	if ((ret = cfi_dir_sync(a, tfd, tmp)) != 0)
		goto out;
	if (renameat(a->pd, tmp, a->pd, gen) != 0) {
		ret = cfi_fail_sys(a, a->priv, gen, "rename");
		goto out;
	}
	ret = cfi_dir_sync(a, a->pd, a->priv);
out:
	if (tfd >= 0)
		close(tfd);
	if (ret != 0) {
		struct at quiet = *a;   /* keep the first message */

		quiet.err = NULL;
		(void)cfi_rm_at(&quiet, a->pd, a->priv, tmp, 1);
	}
	return ret;
}

/* The key of the live generation when it holds chain byte for byte, into
 * *key (malloc'ed); RZ_ENOENT when it does not (or cannot be read). */
static int live_key(struct at *a, enum live_kind kind, const char *gen, const char *chain,
                    size_t chainlen, char **key, size_t *keylen)
{
	struct at quiet = *a;   /* a live generation we cannot read is not this one */
	const char *dname = kind == LIVE_LINK ? gen : a->domain;
	char *old = NULL;
	size_t oldlen = 0;
	int gfd = -1, ret;

	*key = NULL;
	*keylen = 0;
	quiet.err = NULL;
	if ((ret = cfi_live_open(&quiet, kind, gen, &gfd)) != 0)
		goto out;
	ret = cfi_file_read(&quiet, gfd, dname, CF_CHAIN_FILE, CF_CHAIN_MAX, (mode_t)-1, &old, &oldlen);
	if (ret == 0 && !cfi_same(old, oldlen, chain, chainlen))
		ret = RZ_ENOENT;
	if (ret == 0)
		ret = cfi_file_read(&quiet, gfd, dname, CF_KEY_FILE, KEY_MAX, (mode_t)-1, key, keylen);
out:
	free(old);
	if (gfd >= 0)
		close(gfd);
	return ret == 0 || ret == RZ_ENOMEM ? ret : RZ_ENOENT;
}

/* Move the old layout's pending key into the private directory, when
 * there is no pending key yet. */
static int legacy_adopt(struct at *a)
{
	struct stat st;
	int lfd = -1, ret = 0;

	if (fstatat(a->pd, PENDING_KEY, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return 0;
	if (fstatat(a->parent, a->domain, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	if ((ret = cfi_dir_at(a, a->parent, NULL, a->domain, false, false, &lfd)) != 0)
		return ret == RZ_ENOENT ? 0 : ret;
	if (fstatat(lfd, LEGACY_PENDING, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		if (renameat(lfd, LEGACY_PENDING, a->pd, PENDING_KEY) != 0)
			ret = cfi_fail_sys(a, a->domain, LEGACY_PENDING,
			               "rename into the private directory");
		if (ret == 0)
			ret = cfi_dir_sync(a, a->pd, a->priv);
		if (ret == 0)
			ret = cfi_dir_sync(a, lfd, a->domain);
	}
	close(lfd);
	return ret;
}

/* ------------------------------------------------------------- the API */

int cf_names_check(const char *service, const char *domain)
{
	if (!cfi_service_ok(service))
		return RZ_EINVAL;
	if (domain == NULL || domain[0] == '*' || acme_dns_name_check(domain) != 0)
		return RZ_EDNAME;
	return 0;
}

int cf_live_path(const struct cf_policy *p, const char *service, const char *domain,
                 char *out, size_t len)
{
	struct at a;
	int ret;

	if (out != NULL && len > 0)
		out[0] = '\0';
	if ((ret = cfi_at_init(&a, p, service, domain, NULL, 0)) != 0)
		return ret;
	/* cfi_path_of() puts n1 after "<P>/" */
	return cfi_path_of(&a, domain, NULL, out, len);
}

int cf_pending_key_path(const struct cf_policy *p, const char *service, const char *domain,
                        char *out, size_t len, char *err, size_t errlen)
{
	struct at a;
	int ret;

	if (out != NULL && len > 0)
		out[0] = '\0';
	if ((ret = cfi_at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if ((ret = cfi_path_of(&a, a.priv, PENDING_KEY, out, len)) != 0) {
		ret = cfi_fail(&a, ret, "the pending key's path does not fit %zu bytes", len);
		goto out;
	}
	if ((ret = cfi_at_open(&a, true, true)) == 0)
		ret = legacy_adopt(&a);
out:
	cfi_at_close(&a);
	if (ret != 0 && out != NULL && len > 0)
		out[0] = '\0';
	return ret;
}

int cf_install(const struct cf_policy *p, const char *service, const char *domain,
               const char *chain_pem, const char *generation, char *err, size_t errlen)
{
	return cf_install_extra(p, service, domain, chain_pem, generation, NULL, 0, err, errlen);
}

int cf_install_extra(const struct cf_policy *p, const char *service, const char *domain,
                     const char *chain_pem, const char *generation,
                     const struct cf_extra *extra, size_t n_extra, char *err, size_t errlen)
{
	struct at a;
	char cur[CF_GENERATION_MAX + 1] = "", b[80];
	char *pend = NULL, *gkey = NULL;
	const char *key = NULL, *prev = NULL;
	size_t pendlen = 0, gkeylen = 0, keylen = 0, chainlen;
	enum live_kind kind = LIVE_NONE;
	bool swapped = false;
	int gfd = -1, ret;

	if ((ret = cfi_at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if (!cfi_gen_ok(generation)) {
		ret = cfi_fail(&a, RZ_EINVAL, "generation '%s': not [A-Za-z0-9][A-Za-z0-9_-]{0,%d}",
		           cfi_shown(generation, b, sizeof(b)), CF_GENERATION_MAX - 1);
		goto out;
	}
	if (chain_pem == NULL || strncmp(chain_pem, CHAIN_BEGIN, strlen(CHAIN_BEGIN)) != 0) {
		ret = cfi_fail(&a, RZ_EINVAL, "%s: the chain does not start with %s", domain,
		           CHAIN_BEGIN);
		goto out;
	}
	if ((chainlen = strnlen(chain_pem, CF_CHAIN_MAX + 1)) > CF_CHAIN_MAX) {
		ret = cfi_fail(&a, RZ_ETOOLONG, "%s: the chain is larger than %d bytes", domain,
		           CF_CHAIN_MAX);
		goto out;
	}
	if ((ret = extra_check(&a, extra, n_extra)) != 0)
		goto out;
	if ((ret = cfi_at_open(&a, true, true)) != 0 || (ret = cfi_link_tidy(&a)) != 0 ||
	    (ret = cfi_live_get(&a, &kind, cur, sizeof(cur))) != 0)
		goto out;
	ret = cfi_file_read(&a, a.pd, a.priv, PENDING_KEY, KEY_MAX, (mode_t)-1, &pend, &pendlen);
	if (ret != 0 && ret != RZ_ENOENT)
		goto out;

	/* 1. the generation: there already (a re-run), or written now; key is
	 * the key it holds */
	ret = cfi_dir_at(&a, a.pd, a.priv, generation, false, false, &gfd);
	if (ret == 0) {
		ret = gen_refresh(&a, gfd, generation, chain_pem, chainlen, pend, pendlen, extra,
		                  n_extra, &gkey, &gkeylen);
		key = gkey;
		keylen = gkeylen;
	} else if (ret == RZ_ENOENT) {
		ret = live_key(&a, kind, cur, chain_pem, chainlen, &gkey, &gkeylen);
		if (ret == RZ_ENOENT && pend != NULL)
			ret = 0;
		else if (ret == RZ_ENOENT)
			ret = cfi_fail(&a, RZ_ENOENT, "%s: no key for generation %s: no pending key, "
			           "and the live certificate is another one", domain, generation);
		key = gkey != NULL ? gkey : pend;
		keylen = gkey != NULL ? gkeylen : pendlen;
		if (ret == 0)
			ret = gen_build(&a, generation, chain_pem, chainlen, key, keylen, extra,
			                n_extra);
	}
	if (ret != 0)
		goto out;

	/* 2. the live path names it, in one rename */
	if (kind != LIVE_LINK || strcmp(cur, generation) != 0) {
		if ((ret = cfi_link_swap(&a, generation, kind == LIVE_LEGACY)) != 0)
			goto out;
		swapped = true;
		prev = kind == LIVE_LINK ? cur : kind == LIVE_LEGACY ? LEGACY_GEN : NULL;
	}

	/* 3. the pending key, when it is the one installed; what is old */
	if (pend != NULL && cfi_same(pend, pendlen, key, keylen) &&
	    unlinkat(a.pd, PENDING_KEY, 0) != 0 && errno != ENOENT) {
		ret = cfi_fail_sys(&a, a.priv, PENDING_KEY, "unlink");
		goto out;
	}
	if ((ret = cfi_sweep(&a, SWEEP_PENDING_TMP | SWEEP_GEN_TMP | (swapped ? SWEEP_GENS : 0),
	                 generation, prev)) != 0)
		goto out;
	ret = cfi_dir_sync(&a, a.pd, a.priv);
out:
	cfi_wipe(pend, pendlen);
	cfi_wipe(gkey, gkeylen);
	if (gfd >= 0)
		close(gfd);
	cfi_at_close(&a);
	if (ret == 0 && err != NULL && errlen > 0)
		err[0] = '\0';
	return ret;
}

int cf_installed_chain(const struct cf_policy *p, const char *service, const char *domain,
                       char **pem, char *err, size_t errlen)
{
	struct at a;
	char cur[CF_GENERATION_MAX + 1];
	enum live_kind kind;
	size_t len;
	int gfd = -1, ret;

	if (pem == NULL)
		return RZ_EINVAL;
	*pem = NULL;
	if ((ret = cfi_at_init(&a, p, service, domain, err, errlen)) != 0 ||
	    (ret = cfi_at_open(&a, false, true)) != 0 ||
	    (ret = cfi_live_get(&a, &kind, cur, sizeof(cur))) != 0 ||
	    (ret = cfi_live_open(&a, kind, cur, &gfd)) != 0)
		goto out;
	ret = cfi_file_read(&a, gfd, kind == LIVE_LINK ? cur : domain, CF_CHAIN_FILE, CF_CHAIN_MAX,
	                (mode_t)-1, pem, &len);
out:
	if (ret == RZ_ENOENT)
		cfi_fail(&a, ret, "%s: no certificate installed", domain);
	if (gfd >= 0)
		close(gfd);
	cfi_at_close(&a);
	return ret;
}

int cf_discard_pending(const struct cf_policy *p, const char *service, const char *domain,
                       char *err, size_t errlen)
{
	struct at a;
	struct stat st;
	bool removed = false;
	int lfd = -1, ret;

	if ((ret = cfi_at_init(&a, p, service, domain, err, errlen)) != 0 ||
	    (ret = cfi_at_open(&a, false, true)) != 0)
		goto out;
	if (a.pd >= 0) {
		if (unlinkat(a.pd, PENDING_KEY, 0) == 0)
			removed = true;
		else if (errno != ENOENT) {
			ret = cfi_fail_sys(&a, a.priv, PENDING_KEY, "unlink");
			goto out;
		}
		if ((ret = cfi_sweep(&a, SWEEP_PENDING_TMP, NULL, NULL)) != 0 ||
		    (ret = cfi_dir_sync(&a, a.pd, a.priv)) != 0)
			goto out;
	}
	/* the old layout's */
	if (fstatat(a.parent, domain, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    cfi_dir_at(&a, a.parent, NULL, domain, false, false, &lfd) == 0) {
		if (unlinkat(lfd, LEGACY_PENDING, 0) == 0)
			removed = true;
		else if (errno != ENOENT) {
			ret = cfi_fail_sys(&a, domain, LEGACY_PENDING, "unlink");
			goto out;
		}
	}
	ret = removed ? 0 : RZ_ENOENT;
out:
	if (ret == RZ_ENOENT)
		cfi_fail(&a, ret, "%s: no pending key", domain);
	if (lfd >= 0)
		close(lfd);
	cfi_at_close(&a);
	return ret;
}

int cf_remove(const struct cf_policy *p, const char *service, const char *domain,
              char *err, size_t errlen)
{
	struct at a;
	char cur[CF_GENERATION_MAX + 1];
	enum live_kind kind = LIVE_NONE;
	int ret, live_ret;

	if ((ret = cfi_at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if ((ret = cfi_at_open(&a, false, false)) != 0) {
		if (ret == RZ_ENOENT)
			ret = 0;   /* no <dir> or <P>: nothing of ours */
		goto out;
	}
	/* the live path first: consumers stop finding it */
	live_ret = cfi_live_get(&a, &kind, cur, sizeof(cur));
	if (live_ret == 0 && kind == LIVE_LINK && unlinkat(a.parent, domain, 0) != 0 &&
	    errno != ENOENT)
		live_ret = cfi_fail_sys(&a, NULL, domain, "unlink");
	else if (live_ret == 0 && kind == LIVE_LEGACY)
		live_ret = cfi_rm_at(&a, a.parent, NULL, domain, 1);
	if ((ret = cfi_rm_at(&a, a.parent, NULL, a.link, 1)) != 0 ||
	    (ret = cfi_rm_at(&a, a.parent, NULL, a.priv, 2)) != 0 ||
	    (ret = cfi_dir_sync(&a, a.parent, ".")) != 0)
		goto out;
	ret = live_ret;
out:
	cfi_at_close(&a);
	return ret;
}
