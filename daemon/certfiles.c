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
#include "daemon/rz_err.h"

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

/* ------------------------------------------------------------- helpers */

static int fail(struct at *a, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct at *a, int ret, const char *fmt, ...)
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

/* fail() for a system call that failed with errno: "<dir>/<name>: <op>: ...". */
static int fail_sys(struct at *a, const char *dir, const char *name, const char *op)
{
	int e = errno;

	return fail(a, code_of(e), "%s%s%s: %s: %s", dir != NULL ? dir : "", dir != NULL ? "/" : "",
	            name, op, e == ELOOP ? "a symbolic link is in the way (refused)" : strerror(e));
}

/* s as it may appear in a message: printable ASCII, at most 64 characters. */
static const char *shown(const char *s, char *buf, size_t len)
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

static bool service_ok(const char *s)
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

static bool gen_ok(const char *g)
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
	return gen_ok(g);
}

static bool same(const char *x, size_t xlen, const char *y, size_t ylen)
{
	return xlen == ylen && memcmp(x, y, xlen) == 0;
}

/* Wipe and free a buffer that may hold a key. */
static void wipe(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

static mode_t dir_mode(const struct at *a)
{
	return a->p->group != (gid_t)-1 ? 0750 : 0700;
}

static mode_t key_mode(const struct at *a)
{
	return a->p->group != (gid_t)-1 ? 0640 : 0600;
}

/* fsync a directory; a file system that cannot (EINVAL) is no error. */
static int dir_sync(struct at *a, int fd, const char *name)
{
	if (fsync(fd) != 0 && errno != EINVAL)
		return fail_sys(a, NULL, name, "fsync");
	return 0;
}

/* Give the open fd the policy's group (when there is one) and mode m,
 * when it does not have them: the group first, so a key is never 0640 to
 * another group. */
static int fd_policy(struct at *a, int fd, mode_t m, const char *name)
{
	struct stat st;
	bool chowned = false;

	if (fstat(fd, &st) != 0)
		return fail_sys(a, NULL, name, "fstat");
	if (a->p->group != (gid_t)-1 && st.st_gid != a->p->group) {
		if (fchown(fd, (uid_t)-1, a->p->group) != 0) {
			int e = errno;

			return fail(a, code_of(e), "%s: cannot give it group %u: %s", name,
			            (unsigned)a->p->group, strerror(e));
		}
		chowned = true;   /* may have cleared set-id bits */
	}
	if ((chowned || (st.st_mode & 07777) != m) && fchmod(fd, m) != 0)
		return fail_sys(a, NULL, name, "chmod");
	return 0;
}

/* Open directory name in dfd, never through a symbolic link.  With create,
 * make it first when missing (then it gets the policy's mode and group);
 * with always, give it those even when it existed.  RZ_ENOENT (no message)
 * when it is missing and create is false. */
static int dir_at(struct at *a, int dfd, const char *dname, const char *name, bool create,
                  bool always, int *out)
{
	bool made = false;
	int fd, ret;

	*out = -1;
	if (create) {
		if (mkdirat(dfd, name, 0700) == 0)
			made = true;
		else if (errno != EEXIST)
			return fail_sys(a, dname, name, "mkdir");
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		struct stat st;
		bool lnk = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);

		return fail(a, RZ_EEXIST, "%s%s%s: %s, where regzone keeps a directory; refused",
		            dname != NULL ? dname : "", dname != NULL ? "/" : "", name,
		            lnk ? "a symbolic link" : "not a directory");
	}
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return RZ_ENOENT;
		return fail_sys(a, dname, name, "open");
	}
	if ((made || always) && (ret = fd_policy(a, fd, dir_mode(a), name)) != 0) {
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
static int file_read(struct at *a, int dfd, const char *dname, const char *name, size_t max,
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
		return errno == ENOENT ? RZ_ENOENT : fail_sys(a, dname, name, "open");
	if (fstat(fd, &st) != 0) {
		ret = fail_sys(a, dname, name, "fstat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(a, RZ_EEXIST, "%s/%s: not a regular file", dname, name);
		goto out;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		ret = fail(a, RZ_ETOOLONG, "%s/%s: larger than %zu bytes", dname, name, max);
		goto out;
	}
	if (mode != (mode_t)-1 && (ret = fd_policy(a, fd, mode, name)) != 0)
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
			ret = fail_sys(a, dname, name, "read");
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
	wipe(buf, size + 1);
	close(fd);
	return ret;
}

/* Create name in dfd (it must not exist) holding data, with mode m and
 * the policy's group, fsync'ed. */
static int file_write(struct at *a, int dfd, const char *dname, const char *name,
                      const char *data, size_t len, mode_t m)
{
	size_t off = 0;
	int fd, ret;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail_sys(a, dname, name, "create");
	if ((ret = fd_policy(a, fd, m, name)) != 0)
		goto out;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = fail_sys(a, dname, name, "write");
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		ret = fail_sys(a, dname, name, "fsync");
		goto out;
	}
	ret = 0;
out:
	if (close(fd) != 0 && ret == 0)
		ret = fail_sys(a, dname, name, "close");
	return ret;
}

/* Remove name in dfd without following a link: anything but a directory
 * is unlinked (a link itself, never its target); a directory is emptied,
 * at most depth levels below, and removed.  Nothing there is 0. */
static int rm_at(struct at *a, int dfd, const char *dname, const char *name, int depth)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd, ret = 0;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return fail_sys(a, dname, name, "unlink");
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : fail_sys(a, dname, name, "open");
	if ((d = fdopendir(fd)) == NULL) {
		ret = fail_sys(a, dname, name, "opendir");
		close(fd);
		return ret;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (depth <= 0) {
			ret = fail(a, RZ_EEXIST, "%s/%s: holds more levels than regzone makes; "
			           "not removed", dname, name);
			goto out;
		}
		if ((ret = rm_at(a, dirfd(d), name, e->d_name, depth - 1)) != 0)
			goto out;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		ret = fail_sys(a, dname, name, "rmdir");
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

static int at_init(struct at *a, const struct cf_policy *p, const char *service,
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
		return fail(a, RZ_EINVAL, "no directory");
	if ((ret = cf_names_check(service, domain)) == RZ_EINVAL)
		return fail(a, ret, "service '%s': not [a-z][a-z0-9-]{0,31}",
		            shown(service, b, sizeof(b)));
	if (ret != 0)
		return fail(a, ret, "domain '%s': not a lowercase host name",
		            shown(domain, b, sizeof(b)));
	a->service = strcmp(service, SERVICE_TOP) == 0 ? NULL : service;
	a->domain = domain;
	where_set(a);
	snprintf(a->priv, sizeof(a->priv), ".%s.d", domain);
	snprintf(a->link, sizeof(a->link), ".%s.link", domain);
	return 0;
}

static void at_close(struct at *a)
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
static int path_of(const struct at *a, const char *n1, const char *n2, char *out, size_t len)
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
static int at_open(struct at *a, bool create, bool priv)
{
	bool made = false;
	int ret, e;

	if (create) {
		if (mkdir(a->p->dir, 0700) == 0)
			made = true;
		else if ((e = errno) != EEXIST)
			return fail(a, code_of(e), "mkdir: %s", strerror(e));
	}
	/* <dir> is the operator's: it may be a link */
	a->top = open(a->p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->top < 0) {
		if ((e = errno) == ENOENT && !create)
			return RZ_ENOENT;
		return fail(a, code_of(e), "open: %s", strerror(e));
	}
	if (made && (ret = fd_policy(a, a->top, dir_mode(a), a->p->dir)) != 0)
		return ret;
	if (a->service == NULL) {
		if ((a->parent = fcntl(a->top, F_DUPFD_CLOEXEC, 0)) < 0)
			return fail_sys(a, NULL, ".", "dup");
	} else if ((ret = dir_at(a, a->top, NULL, a->service, create, false, &a->parent)) != 0) {
		return ret;
	}
	where_set(a);
	if (!priv)
		return 0;
	ret = dir_at(a, a->parent, NULL, a->priv, create, create, &a->pd);
	return ret == RZ_ENOENT && !create ? 0 : ret;
}

/* What the live path is: nothing, regzone's link (*gen: the generation it
 * names) or a directory of the old layout.  Anything else is RZ_EEXIST. */
static int live_get(struct at *a, enum live_kind *kind, char *gen, size_t genlen)
{
	struct stat st;
	char target[NAME_SIZE + CF_GENERATION_MAX + 2];
	size_t pl = strlen(a->priv);
	ssize_t n;

	*kind = LIVE_NONE;
	gen[0] = '\0';
	if (fstatat(a->parent, a->domain, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail_sys(a, NULL, a->domain, "lstat");
	if (S_ISDIR(st.st_mode)) {
		*kind = LIVE_LEGACY;
		return 0;
	}
	if (!S_ISLNK(st.st_mode))
		return fail(a, RZ_EEXIST, "%s: neither regzone's link nor a directory; left alone",
		            a->domain);
	n = readlinkat(a->parent, a->domain, target, sizeof(target));
	if (n < 0)
		return fail_sys(a, NULL, a->domain, "readlink");
	if ((size_t)n >= sizeof(target))
		return fail(a, RZ_EEXIST, "%s: a link regzone did not make; left alone", a->domain);
	target[n] = '\0';
	if ((size_t)n <= pl + 1 || strncmp(target, a->priv, pl) != 0 || target[pl] != '/' ||
	    !gen_ok(target + pl + 1) || strlen(target + pl + 1) >= genlen)
		return fail(a, RZ_EEXIST, "%s: a link regzone did not make; left alone", a->domain);
	snprintf(gen, genlen, "%s", target + pl + 1);
	*kind = LIVE_LINK;
	return 0;
}

/* Open the live generation's directory: the one the link names, or the
 * directory of the old layout. */
static int live_open(struct at *a, enum live_kind kind, const char *gen, int *out)
{
	*out = -1;
	if (kind == LIVE_LINK)
		return a->pd < 0 ? RZ_ENOENT : dir_at(a, a->pd, a->priv, gen, false, false, out);
	if (kind == LIVE_LEGACY)
		return dir_at(a, a->parent, NULL, a->domain, false, false, out);
	return RZ_ENOENT;
}

/* Move directory name of <P> into the private directory as _legacy (an
 * older _legacy goes first). */
static int legacy_keep(struct at *a, const char *name)
{
	int ret;

	if ((ret = rm_at(a, a->pd, a->priv, LEGACY_GEN, 1)) != 0)
		return ret;
	if (renameat(a->parent, name, a->pd, LEGACY_GEN) != 0)
		return fail_sys(a, NULL, name, "rename into the private directory");
	return 0;
}

/* A temporary link left by a crash goes; a directory there is the old
 * layout's, exchanged out just before the crash: it becomes _legacy. */
static int link_tidy(struct at *a)
{
	struct stat st;

	if (fstatat(a->parent, a->link, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : fail_sys(a, NULL, a->link, "lstat");
	if (S_ISDIR(st.st_mode))
		return legacy_keep(a, a->link);
	if (unlinkat(a->parent, a->link, 0) != 0 && errno != ENOENT)
		return fail_sys(a, NULL, a->link, "unlink");
	return 0;
}

/* Point the live path at generation gen in one rename; a directory of the
 * old layout there is exchanged with the new link (or, where the file
 * system cannot exchange, moved away first). */
static int link_swap(struct at *a, const char *gen, bool legacy)
{
	char target[NAME_SIZE + CF_GENERATION_MAX + 2];
	int ret;

	snprintf(target, sizeof(target), "%s/%s", a->priv, gen);
	if (symlinkat(target, a->parent, a->link) != 0)
		return fail_sys(a, NULL, a->link, "symlink");
	if (!legacy) {
		if (renameat(a->parent, a->link, a->parent, a->domain) != 0)
			return fail_sys(a, NULL, a->domain, "rename the new link over it");
	} else if (renameat2(a->parent, a->link, a->parent, a->domain, RENAME_EXCHANGE) == 0) {
		/* the old directory is at a->link now: keep it as the previous one */
		if ((ret = legacy_keep(a, a->link)) != 0)
			return ret;
	} else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
		/* a moment without files, once */
		if ((ret = legacy_keep(a, a->domain)) != 0)
			return ret;
		if (renameat(a->parent, a->link, a->parent, a->domain) != 0)
			return fail_sys(a, NULL, a->domain, "rename the new link over it");
	} else {
		return fail_sys(a, NULL, a->domain, "exchange with the new link");
	}
	if ((ret = dir_sync(a, a->parent, ".")) != 0)
		return ret;
	return legacy ? dir_sync(a, a->pd, a->priv) : 0;
}

/* Remove from the private directory what flags say, but never the names
 * keep1 and keep2 (NULL: none). */
static int sweep(struct at *a, int flags, const char *keep1, const char *keep2)
{
	struct dirent *e;
	DIR *d = NULL;
	int fd, ret = 0;

	fd = openat(a->pd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_sys(a, NULL, a->priv, "open");
	if ((d = fdopendir(fd)) == NULL) {
		ret = fail_sys(a, NULL, a->priv, "opendir");
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
		     ((flags & SWEEP_GENS) && (gen_ok(n) || strcmp(n, LEGACY_GEN) == 0));
		if (go && (ret = rm_at(a, a->pd, a->priv, n, 1)) != 0)
			break;
	}
	closedir(d);
	return ret;
}

/* ---------------------------------------------------------- generations */

/* Generation gen exists: give it the policy's modes, read its key into
 * *key (malloc'ed), and put chain in when it holds another one, unless a
 * pending key (pend, NULL: none) that is not its key says the name is
 * reused for another certificate (RZ_EEXIST). */
static int gen_refresh(struct at *a, int gfd, const char *gen, const char *chain,
                       size_t chainlen, const char *pend, size_t pendlen, char **key,
                       size_t *keylen)
{
	char *old = NULL;
	size_t oldlen = 0;
	int ret;

	if ((ret = fd_policy(a, gfd, dir_mode(a), gen)) != 0)
		return ret;
	ret = file_read(a, gfd, gen, CF_KEY_FILE, KEY_MAX, key_mode(a), key, keylen);
	if (ret == RZ_ENOENT)
		return fail(a, ret, "%s/%s has no %s", a->priv, gen, CF_KEY_FILE);
	if (ret != 0)
		return ret;
	ret = file_read(a, gfd, gen, CF_CHAIN_FILE, CF_CHAIN_MAX, CHAIN_MODE, &old, &oldlen);
	if (ret != 0 && ret != RZ_ENOENT)
		goto out;
	if (ret == 0 && same(old, oldlen, chain, chainlen))
		goto out;
	if (pend != NULL && !same(pend, pendlen, *key, *keylen)) {
		ret = fail(a, RZ_EEXIST, "%s/%s holds another certificate and key: a generation "
		           "names one certificate", a->priv, gen);
		goto out;
	}
	/* another chain for the same certificate and key: one rename */
	if ((ret = rm_at(a, gfd, gen, CHAIN_TMP, 0)) != 0 ||
	    (ret = file_write(a, gfd, gen, CHAIN_TMP, chain, chainlen, CHAIN_MODE)) != 0)
		goto out;
	if (renameat(gfd, CHAIN_TMP, gfd, CF_CHAIN_FILE) != 0) {
		ret = fail_sys(a, gen, CF_CHAIN_FILE, "rename");
		goto out;
	}
	ret = dir_sync(a, gfd, gen);
out:
	free(old);
	return ret;
}

/* Write generation gen (chain and key) into <gen>.tmp and rename it in. */
static int gen_build(struct at *a, const char *gen, const char *chain, size_t chainlen,
                     const char *key, size_t keylen)
{
	char tmp[CF_GENERATION_MAX + sizeof(GEN_TMP)];
	int tfd = -1, ret;

	snprintf(tmp, sizeof(tmp), "%s%s", gen, GEN_TMP);
	if ((ret = rm_at(a, a->pd, a->priv, tmp, 1)) != 0)
		return ret;
	if ((ret = dir_at(a, a->pd, a->priv, tmp, true, true, &tfd)) != 0)
		goto out;
	if ((ret = file_write(a, tfd, tmp, CF_CHAIN_FILE, chain, chainlen, CHAIN_MODE)) != 0 ||
	    (ret = file_write(a, tfd, tmp, CF_KEY_FILE, key, keylen, key_mode(a))) != 0 ||
	    (ret = dir_sync(a, tfd, tmp)) != 0)
		goto out;
	if (renameat(a->pd, tmp, a->pd, gen) != 0) {
		ret = fail_sys(a, a->priv, gen, "rename");
		goto out;
	}
	ret = dir_sync(a, a->pd, a->priv);
out:
	if (tfd >= 0)
		close(tfd);
	if (ret != 0) {
		struct at quiet = *a;   /* keep the first message */

		quiet.err = NULL;
		(void)rm_at(&quiet, a->pd, a->priv, tmp, 1);
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
	if ((ret = live_open(&quiet, kind, gen, &gfd)) != 0)
		goto out;
	ret = file_read(&quiet, gfd, dname, CF_CHAIN_FILE, CF_CHAIN_MAX, (mode_t)-1, &old, &oldlen);
	if (ret == 0 && !same(old, oldlen, chain, chainlen))
		ret = RZ_ENOENT;
	if (ret == 0)
		ret = file_read(&quiet, gfd, dname, CF_KEY_FILE, KEY_MAX, (mode_t)-1, key, keylen);
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
	if ((ret = dir_at(a, a->parent, NULL, a->domain, false, false, &lfd)) != 0)
		return ret == RZ_ENOENT ? 0 : ret;
	if (fstatat(lfd, LEGACY_PENDING, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		if (renameat(lfd, LEGACY_PENDING, a->pd, PENDING_KEY) != 0)
			ret = fail_sys(a, a->domain, LEGACY_PENDING,
			               "rename into the private directory");
		if (ret == 0)
			ret = dir_sync(a, a->pd, a->priv);
		if (ret == 0)
			ret = dir_sync(a, lfd, a->domain);
	}
	close(lfd);
	return ret;
}

/* ------------------------------------------------------------- the API */

int cf_names_check(const char *service, const char *domain)
{
	if (!service_ok(service))
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
	if ((ret = at_init(&a, p, service, domain, NULL, 0)) != 0)
		return ret;
	/* path_of() puts n1 after "<P>/" */
	return path_of(&a, domain, NULL, out, len);
}

int cf_pending_key_path(const struct cf_policy *p, const char *service, const char *domain,
                        char *out, size_t len, char *err, size_t errlen)
{
	struct at a;
	int ret;

	if (out != NULL && len > 0)
		out[0] = '\0';
	if ((ret = at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if ((ret = path_of(&a, a.priv, PENDING_KEY, out, len)) != 0) {
		ret = fail(&a, ret, "the pending key's path does not fit %zu bytes", len);
		goto out;
	}
	if ((ret = at_open(&a, true, true)) == 0)
		ret = legacy_adopt(&a);
out:
	at_close(&a);
	if (ret != 0 && out != NULL && len > 0)
		out[0] = '\0';
	return ret;
}

int cf_install(const struct cf_policy *p, const char *service, const char *domain,
               const char *chain_pem, const char *generation, char *err, size_t errlen)
{
	struct at a;
	char cur[CF_GENERATION_MAX + 1] = "", b[80];
	char *pend = NULL, *gkey = NULL;
	const char *key = NULL, *prev = NULL;
	size_t pendlen = 0, gkeylen = 0, keylen = 0, chainlen;
	enum live_kind kind = LIVE_NONE;
	bool swapped = false;
	int gfd = -1, ret;

	if ((ret = at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if (!gen_ok(generation)) {
		ret = fail(&a, RZ_EINVAL, "generation '%s': not [A-Za-z0-9][A-Za-z0-9_-]{0,%d}",
		           shown(generation, b, sizeof(b)), CF_GENERATION_MAX - 1);
		goto out;
	}
	if (chain_pem == NULL || strncmp(chain_pem, CHAIN_BEGIN, strlen(CHAIN_BEGIN)) != 0) {
		ret = fail(&a, RZ_EINVAL, "%s: the chain does not start with %s", domain,
		           CHAIN_BEGIN);
		goto out;
	}
	if ((chainlen = strnlen(chain_pem, CF_CHAIN_MAX + 1)) > CF_CHAIN_MAX) {
		ret = fail(&a, RZ_ETOOLONG, "%s: the chain is larger than %d bytes", domain,
		           CF_CHAIN_MAX);
		goto out;
	}
	if ((ret = at_open(&a, true, true)) != 0 || (ret = link_tidy(&a)) != 0 ||
	    (ret = live_get(&a, &kind, cur, sizeof(cur))) != 0)
		goto out;
	ret = file_read(&a, a.pd, a.priv, PENDING_KEY, KEY_MAX, (mode_t)-1, &pend, &pendlen);
	if (ret != 0 && ret != RZ_ENOENT)
		goto out;

	/* 1. the generation: there already (a re-run), or written now; key is
	 * the key it holds */
	ret = dir_at(&a, a.pd, a.priv, generation, false, false, &gfd);
	if (ret == 0) {
		ret = gen_refresh(&a, gfd, generation, chain_pem, chainlen, pend, pendlen, &gkey,
		                  &gkeylen);
		key = gkey;
		keylen = gkeylen;
	} else if (ret == RZ_ENOENT) {
		ret = live_key(&a, kind, cur, chain_pem, chainlen, &gkey, &gkeylen);
		if (ret == RZ_ENOENT && pend != NULL)
			ret = 0;
		else if (ret == RZ_ENOENT)
			ret = fail(&a, RZ_ENOENT, "%s: no key for generation %s: no pending key, "
			           "and the live certificate is another one", domain, generation);
		key = gkey != NULL ? gkey : pend;
		keylen = gkey != NULL ? gkeylen : pendlen;
		if (ret == 0)
			ret = gen_build(&a, generation, chain_pem, chainlen, key, keylen);
	}
	if (ret != 0)
		goto out;

	/* 2. the live path names it, in one rename */
	if (kind != LIVE_LINK || strcmp(cur, generation) != 0) {
		if ((ret = link_swap(&a, generation, kind == LIVE_LEGACY)) != 0)
			goto out;
		swapped = true;
		prev = kind == LIVE_LINK ? cur : kind == LIVE_LEGACY ? LEGACY_GEN : NULL;
	}

	/* 3. the pending key, when it is the one installed; what is old */
	if (pend != NULL && same(pend, pendlen, key, keylen) &&
	    unlinkat(a.pd, PENDING_KEY, 0) != 0 && errno != ENOENT) {
		ret = fail_sys(&a, a.priv, PENDING_KEY, "unlink");
		goto out;
	}
	if ((ret = sweep(&a, SWEEP_PENDING_TMP | SWEEP_GEN_TMP | (swapped ? SWEEP_GENS : 0),
	                 generation, prev)) != 0)
		goto out;
	ret = dir_sync(&a, a.pd, a.priv);
out:
	wipe(pend, pendlen);
	wipe(gkey, gkeylen);
	if (gfd >= 0)
		close(gfd);
	at_close(&a);
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
	if ((ret = at_init(&a, p, service, domain, err, errlen)) != 0 ||
	    (ret = at_open(&a, false, true)) != 0 ||
	    (ret = live_get(&a, &kind, cur, sizeof(cur))) != 0 ||
	    (ret = live_open(&a, kind, cur, &gfd)) != 0)
		goto out;
	ret = file_read(&a, gfd, kind == LIVE_LINK ? cur : domain, CF_CHAIN_FILE, CF_CHAIN_MAX,
	                (mode_t)-1, pem, &len);
out:
	if (ret == RZ_ENOENT)
		fail(&a, ret, "%s: no certificate installed", domain);
	if (gfd >= 0)
		close(gfd);
	at_close(&a);
	return ret;
}

int cf_discard_pending(const struct cf_policy *p, const char *service, const char *domain,
                       char *err, size_t errlen)
{
	struct at a;
	struct stat st;
	bool removed = false;
	int lfd = -1, ret;

	if ((ret = at_init(&a, p, service, domain, err, errlen)) != 0 ||
	    (ret = at_open(&a, false, true)) != 0)
		goto out;
	if (a.pd >= 0) {
		if (unlinkat(a.pd, PENDING_KEY, 0) == 0)
			removed = true;
		else if (errno != ENOENT) {
			ret = fail_sys(&a, a.priv, PENDING_KEY, "unlink");
			goto out;
		}
		if ((ret = sweep(&a, SWEEP_PENDING_TMP, NULL, NULL)) != 0 ||
		    (ret = dir_sync(&a, a.pd, a.priv)) != 0)
			goto out;
	}
	/* the old layout's */
	if (fstatat(a.parent, domain, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
	    dir_at(&a, a.parent, NULL, domain, false, false, &lfd) == 0) {
		if (unlinkat(lfd, LEGACY_PENDING, 0) == 0)
			removed = true;
		else if (errno != ENOENT) {
			ret = fail_sys(&a, domain, LEGACY_PENDING, "unlink");
			goto out;
		}
	}
	ret = removed ? 0 : RZ_ENOENT;
out:
	if (ret == RZ_ENOENT)
		fail(&a, ret, "%s: no pending key", domain);
	if (lfd >= 0)
		close(lfd);
	at_close(&a);
	return ret;
}

int cf_remove(const struct cf_policy *p, const char *service, const char *domain,
              char *err, size_t errlen)
{
	struct at a;
	char cur[CF_GENERATION_MAX + 1];
	enum live_kind kind = LIVE_NONE;
	int ret, live_ret;

	if ((ret = at_init(&a, p, service, domain, err, errlen)) != 0)
		goto out;
	if ((ret = at_open(&a, false, false)) != 0) {
		if (ret == RZ_ENOENT)
			ret = 0;   /* no <dir> or <P>: nothing of ours */
		goto out;
	}
	/* the live path first: consumers stop finding it */
	live_ret = live_get(&a, &kind, cur, sizeof(cur));
	if (live_ret == 0 && kind == LIVE_LINK && unlinkat(a.parent, domain, 0) != 0 &&
	    errno != ENOENT)
		live_ret = fail_sys(&a, NULL, domain, "unlink");
	else if (live_ret == 0 && kind == LIVE_LEGACY)
		live_ret = rm_at(&a, a.parent, NULL, domain, 1);
	if ((ret = rm_at(&a, a.parent, NULL, a.link, 1)) != 0 ||
	    (ret = rm_at(&a, a.parent, NULL, a.priv, 2)) != 0 ||
	    (ret = dir_sync(&a, a.parent, ".")) != 0)
		goto out;
	ret = live_ret;
out:
	at_close(&a);
	return ret;
}
