/*
 * certfiles_at.c - the certificate files module's footing: the names it
 * builds paths from (checked), the directories it holds open, and every
 * file operation below <dir>, each through openat() from its parent's
 * descriptor with O_NOFOLLOW (see certfiles.c).
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


/* ------------------------------------------------------------- helpers */

int cfi_fail(struct at *a, int ret, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (a->err == NULL || a->errlen == 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(a->err, a->errlen, "certificates %s: %s", a->where, msg);
	return ret;
}

static int code_of(int e)
{
	switch (e) {
	case ENOENT:
		return RZ_ENOENT;
	case EACCES:
	case EPERM:
		return RZ_EPERM;
	case ENOMEM:
		return RZ_ENOMEM;
	case ELOOP:
	case ENOTDIR:
	case EEXIST:
	case ENOTEMPTY:
		return RZ_EEXIST;
	default:
		return RZ_EIO;
	}
}

/* cfi_fail() for a system call that failed with errno: "<dir>/<name>: <op>: ...". */
int cfi_fail_sys(struct at *a, const char *dir, const char *name, const char *op)
{
	int e = errno;

	return cfi_fail(a, code_of(e), "%s%s%s: %s: %s", dir != NULL ? dir : "", dir != NULL ? "/" : "",
	            name, op, e == ELOOP ? "a symbolic link is in the way (refused)" : strerror(e));
}

/* s as it may appear in a message: printable ASCII, at most 64 characters. */
const char *cfi_shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	if (s == NULL)
		return "(null)";
	for (; s[i] != '\0' && i + 1 < len && i < 64; i++)
		buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Length of dir without its trailing slashes ("/" gives 0). */
static int dir_len(const char *dir)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	return n > 4096 ? 4096 : (int)n;
}

bool cfi_service_ok(const char *s)
{
	if (s == NULL || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 1; s[i] != '\0'; i++)
		if (i >= SERVICE_MAX ||
		    !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool cfi_gen_ok(const char *g)
{
	if (g == NULL || !alnum(g[0]))
		return false;
	for (size_t i = 1; g[i] != '\0'; i++)
		if (i >= CF_GENERATION_MAX || !(alnum(g[i]) || g[i] == '_' || g[i] == '-'))
			return false;
	return true;
}

/* "<gen>.tmp" */
static bool gen_tmp(const char *n)
{
	char g[CF_GENERATION_MAX + 1];
	size_t len = strlen(n), sl = strlen(GEN_TMP);

	if (len <= sl || len - sl > CF_GENERATION_MAX || strcmp(n + len - sl, GEN_TMP) != 0)
		return false;
	memcpy(g, n, len - sl);
	g[len - sl] = '\0';
	return cfi_gen_ok(g);
}

bool cfi_same(const char *x, size_t xlen, const char *y, size_t ylen)
{
	return xlen == ylen && memcmp(x, y, xlen) == 0;
}

/* Wipe and free a buffer that may hold a key. */
void cfi_wipe(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

mode_t cfi_dir_mode(const struct at *a)
{
	return a->p->group != (gid_t)-1 ? 0750 : 0700;
}

mode_t cfi_key_mode(const struct at *a)
{
	return a->p->group != (gid_t)-1 ? 0640 : 0600;
}

/* fsync a directory; a file system that cannot (EINVAL) is no error. */
int cfi_dir_sync(struct at *a, int fd, const char *name)
{
	if (fsync(fd) != 0 && errno != EINVAL)
		return cfi_fail_sys(a, NULL, name, "fsync");
	return 0;
}

/* Give the open fd the policy's group (when there is one) and mode m,
 * when it does not have them: the group first, so a key is never 0640 to
 * another group. */
int cfi_fd_policy(struct at *a, int fd, mode_t m, const char *name)
{
	struct stat st;
	bool chowned = false;

	if (fstat(fd, &st) != 0)
		return cfi_fail_sys(a, NULL, name, "fstat");
	if (a->p->group != (gid_t)-1 && st.st_gid != a->p->group) {
		if (fchown(fd, (uid_t)-1, a->p->group) != 0) {
			int e = errno;

			return cfi_fail(a, code_of(e), "%s: cannot give it group %u: %s", name,
			            (unsigned)a->p->group, strerror(e));
		}
		chowned = true;   /* may have cleared set-id bits */
	}
	if ((chowned || (st.st_mode & 07777) != m) && fchmod(fd, m) != 0)
		return cfi_fail_sys(a, NULL, name, "chmod");
	return 0;
}

/* Open directory name in dfd, never through a symbolic link.  With create,
 * make it first when missing (then it gets the policy's mode and group);
 * with always, give it those even when it existed.  RZ_ENOENT (no message)
 * when it is missing and create is false. */
int cfi_dir_at(struct at *a, int dfd, const char *dname, const char *name, bool create,
                  bool always, int *out)
{
	bool made = false;
	int fd, ret;

	*out = -1;
	if (create) {
		if (mkdirat(dfd, name, 0700) == 0)
			made = true;
		else if (errno != EEXIST)
			return cfi_fail_sys(a, dname, name, "mkdir");
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		struct stat st;
		bool lnk = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);

		return cfi_fail(a, RZ_EEXIST, "%s%s%s: %s, where regzone keeps a directory; refused",
		            dname != NULL ? dname : "", dname != NULL ? "/" : "", name,
		            lnk ? "a symbolic link" : "not a directory");
	}
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return RZ_ENOENT;
		return cfi_fail_sys(a, dname, name, "open");
	}
	if ((made || always) && (ret = cfi_fd_policy(a, fd, cfi_dir_mode(a), name)) != 0) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/* The regular file name in dfd (never through a link), at most max bytes,
 * NUL-terminated and malloc'ed into *out; with mode not (mode_t)-1, the
 * file gets that mode and the policy's group.  RZ_ENOENT (no message),
 * RZ_EEXIST (not a regular file), RZ_ETOOLONG, RZ_ENOMEM, RZ_EIO. */
int cfi_file_read(struct at *a, int dfd, const char *dname, const char *name, size_t max,
                     mode_t mode, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, size = 0;
	int fd, ret;

	*out = NULL;
	*outlen = 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? RZ_ENOENT : cfi_fail_sys(a, dname, name, "open");
	if (fstat(fd, &st) != 0) {
		ret = cfi_fail_sys(a, dname, name, "fstat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = cfi_fail(a, RZ_EEXIST, "%s/%s: not a regular file", dname, name);
		goto out;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		ret = cfi_fail(a, RZ_ETOOLONG, "%s/%s: larger than %zu bytes", dname, name, max);
		goto out;
	}
	if (mode != (mode_t)-1 && (ret = cfi_fd_policy(a, fd, mode, name)) != 0)
		goto out;
	size = (size_t)st.st_size;
	ret = RZ_ENOMEM;
	if ((buf = malloc(size + 1)) == NULL)
		goto out;
	while (len < size) {
		ssize_t r = read(fd, buf + len, size - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = cfi_fail_sys(a, dname, name, "read");
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	ret = 0;
out:
	cfi_wipe(buf, size + 1);
	close(fd);
	return ret;
}

/* Create name in dfd (it must not exist) holding data, with mode m and
 * the policy's group, fsync'ed. */
int cfi_file_write(struct at *a, int dfd, const char *dname, const char *name,
                      const char *data, size_t len, mode_t m)
{
	size_t off = 0;
	int fd, ret;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfi_fail_sys(a, dname, name, "create");
	if ((ret = cfi_fd_policy(a, fd, m, name)) != 0)
		goto out;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = cfi_fail_sys(a, dname, name, "write");
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		ret = cfi_fail_sys(a, dname, name, "fsync");
		goto out;
	}
	ret = 0;
out:
	if (close(fd) != 0 && ret == 0)
		ret = cfi_fail_sys(a, dname, name, "close");
	return ret;
}

/* Remove name in dfd without following a link: anything but a directory
 * is unlinked (a link itself, never its target); a directory is emptied,
 * at most depth levels below, and removed.  Nothing there is 0. */
int cfi_rm_at(struct at *a, int dfd, const char *dname, const char *name, int depth)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd, ret = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return cfi_fail_sys(a, dname, name, "unlink");
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : cfi_fail_sys(a, dname, name, "open");
	if ((d = fdopendir(fd)) == NULL) {
		ret = cfi_fail_sys(a, dname, name, "opendir");
		close(fd);
		return ret;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (depth <= 0) {
			ret = cfi_fail(a, RZ_EEXIST, "%s/%s: holds more levels than regzone makes; "
			           "not removed", dname, name);
			goto out;
		}
		if ((ret = cfi_rm_at(a, dirfd(d), name, e->d_name, depth - 1)) != 0)
			goto out;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		ret = cfi_fail_sys(a, dname, name, "rmdir");
out:
	closedir(d);
	return ret;
}

/* ------------------------------------------------------------ the place */

/* Messages name paths relative to <P> ("<dir>" until <P> is open). */
static void where_set(struct at *a)
{
	if (a->service != NULL && a->parent >= 0)
		snprintf(a->where, sizeof(a->where), "%.*s/%s", dir_len(a->p->dir), a->p->dir,
		         a->service);
	else
		snprintf(a->where, sizeof(a->where), "%s", a->p->dir);
}

int cfi_at_init(struct at *a, const struct cf_policy *p, const char *service,
                   const char *domain, char *err, size_t errlen)
{
	char b[80];
	int ret;

	memset(a, 0, sizeof(*a));
	a->p = p;
	a->top = a->parent = a->pd = -1;
	a->err = err;
	a->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	snprintf(a->where, sizeof(a->where), "%s", p != NULL && p->dir != NULL ? p->dir : "?");
	if (p == NULL || p->dir == NULL || p->dir[0] == '\0')
		return cfi_fail(a, RZ_EINVAL, "no directory");
	if ((ret = cf_names_check(service, domain)) == RZ_EINVAL)
		return cfi_fail(a, ret, "service '%s': not [a-z][a-z0-9-]{0,31}",
		            cfi_shown(service, b, sizeof(b)));
	if (ret != 0)
		return cfi_fail(a, ret, "domain '%s': not a lowercase host name",
		            cfi_shown(domain, b, sizeof(b)));
	a->service = strcmp(service, SERVICE_TOP) == 0 ? NULL : service;
	a->domain = domain;
	where_set(a);
	snprintf(a->priv, sizeof(a->priv), ".%s.d", domain);
	snprintf(a->link, sizeof(a->link), ".%s.link", domain);
	return 0;
}

void cfi_at_close(struct at *a)
{
	if (a->pd >= 0)
		close(a->pd);
	if (a->parent >= 0)
		close(a->parent);
	if (a->top >= 0)
		close(a->top);
	a->top = a->parent = a->pd = -1;
}

/* <dir>[/<service>]/n1[/n2] into out; RZ_ETOOLONG when it does not fit. */
int cfi_path_of(const struct at *a, const char *n1, const char *n2, char *out, size_t len)
{
	int n;

	if (out == NULL || len == 0)
		return RZ_EINVAL;
	n = snprintf(out, len, "%.*s%s%s/%s%s%s", dir_len(a->p->dir), a->p->dir,
	             a->service != NULL ? "/" : "", a->service != NULL ? a->service : "", n1,
	             n2 != NULL ? "/" : "", n2 != NULL ? n2 : "");
	if (n < 0 || (size_t)n >= len) {
		out[0] = '\0';
		return RZ_ETOOLONG;
	}
	return 0;
}

/* Open <dir>, <P> and (with priv) the private directory.  With create,
 * each is made when missing, and the private directory gets the policy's
 * mode and group; without, RZ_ENOENT (no message) when <dir> or <P> is
 * missing and a->pd stays -1 when the private directory is. */
int cfi_at_open(struct at *a, bool create, bool priv)
{
	bool made = false;
	int ret, e;

	if (create) {
		if (mkdir(a->p->dir, 0700) == 0)
			made = true;
		else if ((e = errno) != EEXIST)
			return cfi_fail(a, code_of(e), "mkdir: %s", strerror(e));
	}
	/* <dir> is the operator's: it may be a link */
	a->top = open(a->p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->top < 0) {
		if ((e = errno) == ENOENT && !create)
			return RZ_ENOENT;
		return cfi_fail(a, code_of(e), "open: %s", strerror(e));
	}
	if (made && (ret = cfi_fd_policy(a, a->top, cfi_dir_mode(a), a->p->dir)) != 0)
		return ret;
	if (a->service == NULL) {
		if ((a->parent = fcntl(a->top, F_DUPFD_CLOEXEC, 0)) < 0)
			return cfi_fail_sys(a, NULL, ".", "dup");
	} else if ((ret = cfi_dir_at(a, a->top, NULL, a->service, create, false, &a->parent)) != 0) {
		return ret;
	}
	where_set(a);
	if (!priv)
		return 0;
	ret = cfi_dir_at(a, a->parent, NULL, a->priv, create, create, &a->pd);
	return ret == RZ_ENOENT && !create ? 0 : ret;
}

/* What the live path is: nothing, regzone's link (*gen: the generation it
 * names) or a directory of the old layout.  Anything else is RZ_EEXIST. */
int cfi_live_get(struct at *a, enum live_kind *kind, char *gen, size_t genlen)
{
	struct stat st;
	char target[NAME_SIZE + CF_GENERATION_MAX + 2];
	size_t pl = strlen(a->priv);
	ssize_t n;

	*kind = LIVE_NONE;
	gen[0] = '\0';
	if (fstatat(a->parent, a->domain, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : cfi_fail_sys(a, NULL, a->domain, "lstat");
	if (S_ISDIR(st.st_mode)) {
		*kind = LIVE_LEGACY;
		return 0;
	}
	if (!S_ISLNK(st.st_mode))
		return cfi_fail(a, RZ_EEXIST, "%s: neither regzone's link nor a directory; left alone",
		            a->domain);
	n = readlinkat(a->parent, a->domain, target, sizeof(target));
	if (n < 0)
		return cfi_fail_sys(a, NULL, a->domain, "readlink");
	if ((size_t)n >= sizeof(target))
		return cfi_fail(a, RZ_EEXIST, "%s: a link regzone did not make; left alone", a->domain);
	target[n] = '\0';
	if ((size_t)n <= pl + 1 || strncmp(target, a->priv, pl) != 0 || target[pl] != '/' ||
	    !cfi_gen_ok(target + pl + 1) || strlen(target + pl + 1) >= genlen)
		return cfi_fail(a, RZ_EEXIST, "%s: a link regzone did not make; left alone", a->domain);
	snprintf(gen, genlen, "%s", target + pl + 1);
	*kind = LIVE_LINK;
	return 0;
}

/* Open the live generation's directory: the one the link names, or the
 * directory of the old layout. */
int cfi_live_open(struct at *a, enum live_kind kind, const char *gen, int *out)
{
	*out = -1;
	if (kind == LIVE_LINK)
		return a->pd < 0 ? RZ_ENOENT : cfi_dir_at(a, a->pd, a->priv, gen, false, false, out);
	if (kind == LIVE_LEGACY)
		return cfi_dir_at(a, a->parent, NULL, a->domain, false, false, out);
	return RZ_ENOENT;
}

/* Move directory name of <P> into the private directory as _legacy (an
 * older _legacy goes first). */
static int legacy_keep(struct at *a, const char *name)
{
	int ret;

	if ((ret = cfi_rm_at(a, a->pd, a->priv, LEGACY_GEN, 1)) != 0)
		return ret;
	if (renameat(a->parent, name, a->pd, LEGACY_GEN) != 0)
		return cfi_fail_sys(a, NULL, name, "rename into the private directory");
	return 0;
}

/* A temporary link left by a crash goes; a directory there is the old
 * layout's, exchanged out just before the crash: it becomes _legacy. */
int cfi_link_tidy(struct at *a)
{
	struct stat st;

	if (fstatat(a->parent, a->link, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : cfi_fail_sys(a, NULL, a->link, "lstat");
	if (S_ISDIR(st.st_mode))
		return legacy_keep(a, a->link);
	if (unlinkat(a->parent, a->link, 0) != 0 && errno != ENOENT)
		return cfi_fail_sys(a, NULL, a->link, "unlink");
	return 0;
}

/* Point the live path at generation gen in one rename; a directory of the
 * old layout there is exchanged with the new link (or, where the file
 * system cannot exchange, moved away first). */
int cfi_link_swap(struct at *a, const char *gen, bool legacy)
{
	char target[NAME_SIZE + CF_GENERATION_MAX + 2];
	int ret;

	snprintf(target, sizeof(target), "%s/%s", a->priv, gen);
	if (symlinkat(target, a->parent, a->link) != 0)
		return cfi_fail_sys(a, NULL, a->link, "symlink");
	if (!legacy) {
		if (renameat(a->parent, a->link, a->parent, a->domain) != 0)
			return cfi_fail_sys(a, NULL, a->domain, "rename the new link over it");
	} else if (renameat2(a->parent, a->link, a->parent, a->domain, RENAME_EXCHANGE) == 0) {
		/* the old directory is at a->link now: keep it as the previous one */
		if ((ret = legacy_keep(a, a->link)) != 0)
			return ret;
	} else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
		/* a moment without files, once */
		if ((ret = legacy_keep(a, a->domain)) != 0)
			return ret;
		if (renameat(a->parent, a->link, a->parent, a->domain) != 0)
			return cfi_fail_sys(a, NULL, a->domain, "rename the new link over it");
	} else {
		return cfi_fail_sys(a, NULL, a->domain, "exchange with the new link");
	}
	if ((ret = cfi_dir_sync(a, a->parent, ".")) != 0)
		return ret;
	return legacy ? cfi_dir_sync(a, a->pd, a->priv) : 0;
}

/* Remove from the private directory what flags say, but never the names
 * keep1 and keep2 (NULL: none). */
int cfi_sweep(struct at *a, int flags, const char *keep1, const char *keep2)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd, ret = 0;

	fd = openat(a->pd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cfi_fail_sys(a, NULL, a->priv, "open");
	if ((d = fdopendir(fd)) == NULL) {
		ret = cfi_fail_sys(a, NULL, a->priv, "opendir");
		close(fd);
		return ret;
	}
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		bool go;

		if ((keep1 != NULL && strcmp(n, keep1) == 0) ||
		    (keep2 != NULL && strcmp(n, keep2) == 0))
			continue;
		go = ((flags & SWEEP_PENDING_TMP) &&
		      strncmp(n, PENDING_TMP, strlen(PENDING_TMP)) == 0) ||
		     ((flags & SWEEP_GEN_TMP) && gen_tmp(n)) ||
		     ((flags & SWEEP_GENS) && (cfi_gen_ok(n) || strcmp(n, LEGACY_GEN) == 0));
		if (go && (ret = cfi_rm_at(a, a->pd, a->priv, n, 1)) != 0)
			break;
	}
	closedir(d);
	return ret;
}

