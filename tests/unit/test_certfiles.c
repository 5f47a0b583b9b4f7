/* Certificate files (daemon/certfiles.h): the layout per service, modes and
 * group, the atomic swap of chain and key, old generations, the old
 * layout's migration, re-runs after a crash, removal, hostile names,
 * links planted below certificates.dir, and extra public files (POSH). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acme/csr.h"
#include "daemon/certfiles.h"
#include "daemon/rz_err.h"

#define NONE ((gid_t)-1)
#define D "example.org"

struct fx {
	char base[256];          /* mkdtemp: everything of one test */
	char dir[320];           /* base/certs: certificates.dir, not created */
	struct cf_policy pol;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->base, sizeof(f->base), "%s/rz-certfiles-XXXXXX",
	         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->base) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/certs", f->base);
	f->pol.dir = f->dir;
	f->pol.group = NONE;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ------------------------------------------------------------- helpers */

static void chain_of(int n, char *buf, size_t len)
{
	snprintf(buf, len, "-----BEGIN CERTIFICATE-----\nchain# %d\n-----END CERTIFICATE-----\n", n);
}

/* A stand-in: the files are moved and compared, never parsed (the armor
 * split so that no key-shaped text is committed). */
static void key_of(int n, char *buf, size_t len)
{
	snprintf(buf, len, "-----BEGIN %s-----\nkey# %d\n-----END %s-----\n", "PRIVATE KEY", n,
	         "PRIVATE KEY");
}

static void put(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* The whole file, or NULL. */
static char *get(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return NULL;
	buf = calloc(1, 65536);
	if (buf != NULL)
		len = fread(buf, 1, 65535, fp);
	fclose(fp);
	(void)len;
	return buf;
}

static void assert_file(const char *path, const char *want)
{
	char *got = get(path);

	if (got == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_string_equal(got, want);
	free(got);
}

/* The names in a directory, sorted, joined by spaces ("" when empty,
 * "-" when it does not exist). */
static char *ls(const char *path)
{
	static char out[4096];
	struct dirent **list = NULL;
	int n = scandir(path, &list, NULL, alphasort);

	out[0] = '\0';
	if (n < 0)
		return strcpy(out, "-");
	for (int i = 0; i < n; i++) {
		if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
			if (out[0] != '\0')
				strcat(out, " ");
			strncat(out, list[i]->d_name, sizeof(out) - strlen(out) - 2);
		}
		free(list[i]);
	}
	free(list);
	return out;
}

static void pathf(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < len);
}

static struct stat lst(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	return st;
}

static void assert_mode(const char *path, mode_t mode, gid_t gid)
{
	struct stat st = lst(path);

	if ((st.st_mode & 07777) != mode)
		fail_msg("%s: mode %04o, want %04o", path, (unsigned)(st.st_mode & 07777),
		         (unsigned)mode);
	if (gid != NONE && st.st_gid != gid)
		fail_msg("%s: group %u, want %u", path, (unsigned)st.st_gid, (unsigned)gid);
}

/* The pending key of (service, domain) as the caller writes it (0600). */
static void pending(const struct fx *f, const char *svc, const char *dom, int n)
{
	char path[1024], tmp[1100], key[256], err[512];

	assert_int_equal(cf_pending_key_path(&f->pol, svc, dom, path, sizeof(path), err,
	                                     sizeof(err)), 0);
	key_of(n, key, sizeof(key));
	pathf(tmp, sizeof(tmp), "%s.tmp.t%d", path, n);
	put(tmp, key, 0600);
	assert_int_equal(rename(tmp, path), 0);
}

/* Pending key n, then install chain n as generation "G<n>". */
static void install(const struct fx *f, const char *svc, const char *dom, int n)
{
	char chain[256], gen[32], err[512];
	int ret;

	pending(f, svc, dom, n);
	chain_of(n, chain, sizeof(chain));
	snprintf(gen, sizeof(gen), "G%d", n);
	ret = cf_install(&f->pol, svc, dom, chain, gen, err, sizeof(err));
	if (ret != 0)
		fail_msg("cf_install %s %s %s: %d %s", svc, dom, gen, ret, err);
}

/* The live files hold chain n and key n. */
static void assert_live(const struct fx *f, const char *svc, const char *dom, int n)
{
	char live[1024], path[1100], want[256];

	assert_int_equal(cf_live_path(&f->pol, svc, dom, live, sizeof(live)), 0);
	pathf(path, sizeof(path), "%s/%s", live, CF_CHAIN_FILE);
	chain_of(n, want, sizeof(want));
	assert_file(path, want);
	pathf(path, sizeof(path), "%s/%s", live, CF_KEY_FILE);
	key_of(n, want, sizeof(want));
	assert_file(path, want);
}

static gid_t other_group(void)
{
	struct group *g = getgrnam("nogroup");

	return g != NULL ? g->gr_gid : 65534;
}

/* --------------------------------------------------------------- tests */

/* XMPP at <dir>/<domain>, another service one level down.  (certs.c: the
 * service is ignored, so mail and xmpp share and overwrite one directory.) */
static void test_paths_per_service(void **state)
{
	struct fx *f = *state;
	char out[1024], want[1024], err[512];
	struct cf_policy slash = { 0 };
	char dirslash[400];

	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, out, sizeof(out)), 0);
	pathf(want, sizeof(want), "%s/%s", f->dir, D);
	assert_string_equal(out, want);
	assert_int_equal(cf_live_path(&f->pol, "mail", D, out, sizeof(out)), 0);
	pathf(want, sizeof(want), "%s/mail/%s", f->dir, D);
	assert_string_equal(out, want);
	/* trailing slashes of dir dropped */
	pathf(dirslash, sizeof(dirslash), "%s//", f->dir);
	slash.dir = dirslash;
	slash.group = NONE;
	assert_int_equal(cf_live_path(&slash, "xmpp", D, out, sizeof(out)), 0);
	pathf(want, sizeof(want), "%s/%s", f->dir, D);
	assert_string_equal(out, want);
	/* too small a buffer */
	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, out, 10), RZ_ETOOLONG);
	assert_string_equal(out, "");
	/* cf_live_path touches nothing */
	assert_string_equal(ls(f->dir), "-");

	assert_int_equal(cf_pending_key_path(&f->pol, "xmpp", D, out, sizeof(out), err,
	                                     sizeof(err)), 0);
	pathf(want, sizeof(want), "%s/.%s.d/pending-privkey.pem", f->dir, D);
	assert_string_equal(out, want);
	assert_int_equal(cf_pending_key_path(&f->pol, "mail", D, out, sizeof(out), err,
	                                     sizeof(err)), 0);
	pathf(want, sizeof(want), "%s/mail/.%s.d/pending-privkey.pem", f->dir, D);
	assert_string_equal(out, want);
	assert_string_equal(ls(f->dir), ".example.org.d mail");

	/* two services of one domain keep apart */
	install(f, "xmpp", D, 1);
	install(f, "mail", D, 2);
	assert_live(f, "xmpp", D, 1);
	assert_live(f, "mail", D, 2);
	assert_string_equal(ls(f->dir), ".example.org.d example.org mail");
	pathf(out, sizeof(out), "%s/mail", f->dir);
	assert_string_equal(ls(out), ".example.org.d example.org");
}

/* Names that could leave <dir> are refused before anything is made.
 * (certs.c builds "<dir>/<domain>" from whatever it is given.) */
static void test_hostile_names(void **state)
{
	struct fx *f = *state;
	char long_dom[300], long_label[80], long_svc[40], long_gen[80], out[1024], err[512];
	char chain[256];
	static const struct { const char *svc, *dom; int want; } rows[] = {
		{ "xmpp", "../x", RZ_EDNAME },
		{ "xmpp", "..", RZ_EDNAME },
		{ "xmpp", "a/b", RZ_EDNAME },
		{ "xmpp", "example.org/../../etc", RZ_EDNAME },
		{ "xmpp", ".hidden", RZ_EDNAME },
		{ "xmpp", ".example.org", RZ_EDNAME },
		{ "xmpp", "example..org", RZ_EDNAME },
		{ "xmpp", "example.org.", RZ_EDNAME },
		{ "xmpp", "Example.org", RZ_EDNAME },
		{ "xmpp", "*.example.org", RZ_EDNAME },
		{ "xmpp", "-a.example.org", RZ_EDNAME },
		{ "xmpp", "localhost", RZ_EDNAME },      /* one label: could be a service dir */
		{ "xmpp", "", RZ_EDNAME },
		{ "xmpp", NULL, RZ_EDNAME },
		{ "xmpp", "exa mple.org", RZ_EDNAME },
		{ "xmpp", "ex\nample.org", RZ_EDNAME },
		{ "../x", D, RZ_EINVAL },
		{ "a/b", D, RZ_EINVAL },
		{ ".hidden", D, RZ_EINVAL },
		{ "Mail", D, RZ_EINVAL },
		{ "1mail", D, RZ_EINVAL },
		{ "mail.x", D, RZ_EINVAL },
		{ "", D, RZ_EINVAL },
		{ NULL, D, RZ_EINVAL },
		{ "xmpp", "a.b", 0 },
		{ "mail-2", "xn--bcher-kva.example", 0 },
	};

	memset(long_dom, 0, sizeof(long_dom));
	for (int i = 0; i < 127; i++)
		memcpy(long_dom + 2 * i, "a.", 2);
	long_dom[254] = 'a';                          /* 255 characters */
	memset(long_label, 'a', 64);
	memcpy(long_label + 64, ".org", 5);           /* a 64-character label */
	memset(long_svc, 'a', 33);
	long_svc[33] = '\0';                          /* 33 characters */
	memset(long_gen, 'A', CF_GENERATION_MAX + 1);
	long_gen[CF_GENERATION_MAX + 1] = '\0';

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int got = cf_names_check(rows[i].svc, rows[i].dom);

		if (got != rows[i].want)
			fail_msg("row %zu (%s, %s): %d, want %d", i, rows[i].svc ? rows[i].svc : "NULL",
			         rows[i].dom ? rows[i].dom : "NULL", got, rows[i].want);
		if (rows[i].want == 0)
			continue;
		assert_int_equal(cf_live_path(&f->pol, rows[i].svc, rows[i].dom, out, sizeof(out)),
		                 rows[i].want);
		assert_int_equal(cf_pending_key_path(&f->pol, rows[i].svc, rows[i].dom, out,
		                                     sizeof(out), err, sizeof(err)), rows[i].want);
		assert_true(err[0] != '\0');
		chain_of(1, chain, sizeof(chain));
		assert_int_equal(cf_install(&f->pol, rows[i].svc, rows[i].dom, chain, "G1", err,
		                            sizeof(err)), rows[i].want);
		assert_int_equal(cf_remove(&f->pol, rows[i].svc, rows[i].dom, err, sizeof(err)),
		                 rows[i].want);
		assert_int_equal(cf_discard_pending(&f->pol, rows[i].svc, rows[i].dom, err,
		                                    sizeof(err)), rows[i].want);
		assert_null(strchr(err, '\n'));           /* a message is one line */
	}
	assert_int_equal(cf_names_check("xmpp", long_dom), RZ_EDNAME);
	long_dom[253] = '\0';                         /* 253 characters, "a.a....a" */
	assert_int_equal(cf_names_check("xmpp", long_dom), 0);
	long_dom[252] = '\0';                         /* ending in a dot */
	assert_int_equal(cf_names_check("xmpp", long_dom), RZ_EDNAME);
	{
		char *huge = malloc(5000);

		assert_non_null(huge);
		memset(huge, 'a', 4999);
		huge[4999] = '\0';
		huge[10] = '.';
		assert_int_equal(cf_names_check("xmpp", huge), RZ_EDNAME);
		assert_int_equal(cf_live_path(&f->pol, "xmpp", huge, out, sizeof(out)), RZ_EDNAME);
		free(huge);
	}
	assert_int_equal(cf_names_check("xmpp", long_label), RZ_EDNAME);
	assert_int_equal(cf_names_check(long_svc, D), RZ_EINVAL);
	long_svc[32] = '\0';
	assert_int_equal(cf_names_check(long_svc, D), 0);

	/* generations and chains */
	chain_of(1, chain, sizeof(chain));
	{
		const char *gens[] = { "", "../x", ".x", "a/b", "-x", "_x", "a.b", "a b", long_gen,
		                       NULL };

		for (size_t i = 0; i < sizeof(gens) / sizeof(gens[0]); i++)
			assert_int_equal(cf_install(&f->pol, "xmpp", D, chain, gens[i], err, sizeof(err)),
			                 RZ_EINVAL);
	}
	assert_int_equal(cf_install(&f->pol, "xmpp", D, "not a certificate", "G1", err,
	                            sizeof(err)), RZ_EINVAL);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, NULL, "G1", err, sizeof(err)), RZ_EINVAL);
	/* a policy without a directory */
	{
		struct cf_policy none = { NULL, NONE }, empty = { "", NONE };

		assert_int_equal(cf_install(&none, "xmpp", D, chain, "G1", err, sizeof(err)),
		                 RZ_EINVAL);
		assert_int_equal(cf_live_path(&empty, "xmpp", D, out, sizeof(out)), RZ_EINVAL);
		assert_int_equal(cf_live_path(NULL, "xmpp", D, out, sizeof(out)), RZ_EINVAL);
	}
	/* nothing was made by any refused call */
	assert_string_equal(ls(f->dir), "-");
}

/* Without a group: 0700 directories, 0600 key, 0644 chain; the live path
 * is a link to the generation; the pending key is consumed.  The key is
 * written and read back by acme/csr.h as certs.c does.  (certs.c: no link,
 * no generation.) */
static void test_install_layout(void **state)
{
	struct fx *f = *state;
	char path[1024], live[1024], target[256], err[512];
	struct acme_dkey *k = NULL, *back = NULL;
	ssize_t n;

	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &k), 0);
	assert_int_equal(cf_pending_key_path(&f->pol, "xmpp", D, path, sizeof(path), err,
	                                     sizeof(err)), 0);
	assert_int_equal(acme_key_write_pem(k, path, err, sizeof(err)), 0);
	{
		char chain[256];

		chain_of(7, chain, sizeof(chain));
		assert_int_equal(cf_install(&f->pol, "xmpp", D, chain, "0A1B", err, sizeof(err)), 0);
		assert_string_equal(err, "");
	}
	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, live, sizeof(live)), 0);
	assert_true(S_ISLNK(lst(live).st_mode));
	n = readlink(live, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, ".example.org.d/0A1B");   /* relative: inside <dir> */
	assert_mode(f->dir, 0700, NONE);                      /* created: the policy's mode */
	pathf(path, sizeof(path), "%s/.%s.d", f->dir, D);
	assert_mode(path, 0700, NONE);
	assert_string_equal(ls(path), "0A1B");                /* the pending key is gone */
	pathf(path, sizeof(path), "%s/.%s.d/0A1B", f->dir, D);
	assert_mode(path, 0700, NONE);
	assert_string_equal(ls(path), "fullchain.pem privkey.pem");
	pathf(path, sizeof(path), "%s/.%s.d/0A1B/privkey.pem", f->dir, D);
	assert_mode(path, 0600, NONE);
	pathf(path, sizeof(path), "%s/.%s.d/0A1B/fullchain.pem", f->dir, D);
	assert_mode(path, 0644, NONE);
	/* the installed key is the one written, and loads as a key (mode 0600) */
	pathf(path, sizeof(path), "%s/%s", live, CF_KEY_FILE);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(acme_dkey_type(back), ACME_KEY_P256);
	acme_dkey_free(back);
	acme_dkey_free(k);
	/* Prosody's view: <dir>/<domain>/fullchain.pem, and only dot-names besides */
	assert_string_equal(ls(f->dir), ".example.org.d example.org");
	{
		char *pem = NULL, want[256];

		assert_int_equal(cf_installed_chain(&f->pol, "xmpp", D, &pem, err, sizeof(err)), 0);
		chain_of(7, want, sizeof(want));
		assert_string_equal(pem, want);
		free(pem);
	}
}

/* With a group: 0750 directories and 0640 key, both to that group.  The
 * process's own group works unprivileged; as root also another group.
 * (certs.c: 0700 and 0600 whatever the group.) */
static void check_group(struct fx *f, gid_t g)
{
	char path[1024];

	f->pol.group = g;
	install(f, "xmpp", D, 1);
	install(f, "mail", D, 2);
	assert_mode(f->dir, 0750, g);
	pathf(path, sizeof(path), "%s/mail", f->dir);
	assert_mode(path, 0750, g);
	for (int i = 0; i < 2; i++) {
		const char *base = i == 0 ? "" : "/mail";
		int n = i + 1;

		pathf(path, sizeof(path), "%s%s/.%s.d", f->dir, base, D);
		assert_mode(path, 0750, g);
		pathf(path, sizeof(path), "%s%s/.%s.d/G%d", f->dir, base, D, n);
		assert_mode(path, 0750, g);
		pathf(path, sizeof(path), "%s%s/.%s.d/G%d/privkey.pem", f->dir, base, D, n);
		assert_mode(path, 0640, g);
		pathf(path, sizeof(path), "%s%s/.%s.d/G%d/fullchain.pem", f->dir, base, D, n);
		assert_mode(path, 0644, g);
	}
	/* a changed group applies at the next install, to regzone's own */
	f->pol.group = NONE;
	install(f, "xmpp", D, 3);
	pathf(path, sizeof(path), "%s/.%s.d", f->dir, D);
	assert_mode(path, 0700, NONE);
	pathf(path, sizeof(path), "%s/.%s.d/G3", f->dir, D);
	assert_mode(path, 0700, NONE);
	pathf(path, sizeof(path), "%s/.%s.d/G3/privkey.pem", f->dir, D);
	assert_mode(path, 0600, NONE);
	assert_mode(f->dir, 0750, g);                     /* <dir> is left as it is */
}

static void test_group_own(void **state)
{
	check_group(*state, getegid());
}

static void test_group_other_as_root(void **state)
{
	if (geteuid() != 0)
		skip();
	check_group(*state, other_group());
}

/* As root: a child drops to an unprivileged user with a supplementary
 * group; it installs with that group (fchown to a group one is a member
 * of), and a group it is not in is RZ_EPERM. */
static void test_group_unprivileged_member(void **state)
{
	struct fx *f = *state;
	const gid_t member = 4242, stranger = 4243, nobody = 65534;
	char path[1024];
	int status = 0;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(f->base, 0755), 0);
	assert_int_equal(mkdir(f->dir, 0755), 0);
	assert_int_equal(chown(f->dir, nobody, nobody), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char chain[256], key[256], kp[1024], err[512];
		struct cf_policy pol = { f->dir, member };
		int code = 0;

		if (setgroups(1, &member) != 0 || setresgid(nobody, nobody, nobody) != 0 ||
		    setresuid(nobody, nobody, nobody) != 0)
			_exit(10);
		chain_of(1, chain, sizeof(chain));
		key_of(1, key, sizeof(key));
		if (cf_pending_key_path(&pol, "xmpp", D, kp, sizeof(kp), err, sizeof(err)) != 0)
			_exit(11);
		{
			int fd = open(kp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

			if (fd < 0 || write(fd, key, strlen(key)) != (ssize_t)strlen(key) || close(fd) != 0)
				_exit(12);
		}
		if (cf_install(&pol, "xmpp", D, chain, "G1", err, sizeof(err)) != 0)
			code = 13;
		pol.group = stranger;
		if (code == 0 && cf_pending_key_path(&pol, "xmpp", "example.net", kp, sizeof(kp), err,
		                                     sizeof(err)) != RZ_EPERM)
			code = 14;
		_exit(code);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pathf(path, sizeof(path), "%s/.%s.d/G1/privkey.pem", f->dir, D);
	assert_mode(path, 0640, member);
	assert_int_equal(lst(path).st_uid, nobody);
	pathf(path, sizeof(path), "%s/.%s.d/G1", f->dir, D);
	assert_mode(path, 0750, member);
	assert_mode(f->dir, 0755, nobody);                 /* existed: untouched */
}

/* An existing <dir> (mode 0751, another group) stays exactly as it was
 * through every call.  (certs.c: chmod 0700 at every finalize.) */
static void test_existing_dir_untouched(void **state)
{
	struct fx *f = *state;
	gid_t g = geteuid() == 0 ? other_group() : getegid();
	char path[1024], err[512];
	struct stat before, after;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	assert_int_equal(chmod(f->dir, 0751), 0);
	if (geteuid() == 0)
		assert_int_equal(chown(f->dir, (uid_t)-1, g), 0);
	before = lst(f->dir);
	f->pol.group = getegid();       /* a policy with a group that is not <dir>'s */
	install(f, "xmpp", D, 1);
	install(f, "xmpp", D, 2);
	install(f, "mail", D, 3);
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), RZ_ENOENT);
	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	assert_int_equal(cf_remove(&f->pol, "mail", D, err, sizeof(err)), 0);
	after = lst(f->dir);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_uid, before.st_uid);
	assert_int_equal(after.st_gid, before.st_gid);
	/* an existing service directory too */
	pathf(path, sizeof(path), "%s/mail", f->dir);
	assert_int_equal(chmod(path, 0711), 0);
	before = lst(path);
	install(f, "mail", D, 4);
	after = lst(path);
	assert_int_equal(after.st_mode, before.st_mode);
	assert_int_equal(after.st_gid, before.st_gid);
}

/* The reader's side of test_swap_atomic. */
struct reader {
	const char *live;          /* <dir>/<domain> */
	const char *parent;        /* <dir> */
	atomic_bool stop;
	atomic_long reads, mixed, incomplete, missing, stalled;
};

/* The number after word in the file, -1 when it cannot be opened. */
static int tag_of(const char *path, const char *word)
{
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = -1;
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -2;
	buf[r] = '\0';
	{
		const char *p = strstr(buf, word);

		if (p == NULL || sscanf(p + strlen(word), " %d", &n) != 1)
			return -2;
	}
	return n;
}

/* The generation number the live link names, -1 without one. */
static int link_gen(const char *live, char *target, size_t len)
{
	ssize_t n = readlink(live, target, len - 1);
	const char *g;
	int v = -1;

	if (n <= 0)
		return -1;
	target[n] = '\0';
	g = strrchr(target, 'G');
	if (g == NULL || sscanf(g + 1, "%d", &v) != 1)
		return -1;
	return v;
}

static void *reader_run(void *arg)
{
	struct reader *r = arg;
	char target[256], again[256], chain[1024], key[1024];

	while (!atomic_load(&r->stop)) {
		int g0 = link_gen(r->live, target, sizeof(target)), g1, c, k;
		bool missing, incomplete;

		atomic_fetch_add(&r->reads, 1);
		/* through the live path: always a file (not always of one
		 * generation: two opens may straddle a swap) */
		snprintf(chain, sizeof(chain), "%s/fullchain.pem", r->live);
		snprintf(key, sizeof(key), "%s/privkey.pem", r->live);
		missing = tag_of(chain, "chain#") < 0 || tag_of(key, "key#") < 0;
		/* through the generation the link named: both files, of one
		 * generation */
		snprintf(chain, sizeof(chain), "%s/%s/fullchain.pem", r->parent, target);
		snprintf(key, sizeof(key), "%s/%s/privkey.pem", r->parent, target);
		c = tag_of(chain, "chain#");
		k = tag_of(key, "key#");
		incomplete = g0 < 0 || c < 0 || k < 0;
		if (c >= 0 && k >= 0 && (c != k || c != g0))
			atomic_fetch_add(&r->mixed, 1);
		if (!missing && !incomplete)
			continue;
		/* The previous generation is kept for one install: a reader
		 * that slept through two swaps may find its generation gone.
		 * That is the scheduler, not a failure. */
		g1 = link_gen(r->live, again, sizeof(again));
		if (g0 >= 0 && g1 >= g0 + 2)
			atomic_fetch_add(&r->stalled, 1);
		else if (missing)
			atomic_fetch_add(&r->missing, 1);
		else
			atomic_fetch_add(&r->incomplete, 1);
	}
	return NULL;
}

/* A reader looping while installs follow each other: the live link always
 * names a complete generation, the two files found through it are of one
 * generation, and the live files never go missing.  (certs.c renames the
 * chain and then the key: a reader between them gets a mixed pair.) */
static void test_swap_atomic(void **state)
{
	struct fx *f = *state;
	char live[1024];
	struct reader r;
	pthread_t t;

	install(f, "xmpp", D, 0);
	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, live, sizeof(live)), 0);
	memset(&r, 0, sizeof(r));
	r.live = live;
	r.parent = f->dir;
	atomic_init(&r.stop, false);
	atomic_init(&r.reads, 0);
	atomic_init(&r.mixed, 0);
	atomic_init(&r.incomplete, 0);
	atomic_init(&r.missing, 0);
	atomic_init(&r.stalled, 0);
	assert_int_equal(pthread_create(&t, NULL, reader_run, &r), 0);
	for (int i = 1; i <= 300; i++)
		install(f, "xmpp", D, i);
	atomic_store(&r.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("reader: %ld reads during 300 installs (%ld after a stall)\n",
	              atomic_load(&r.reads), atomic_load(&r.stalled));
	assert_true(atomic_load(&r.reads) > 0);
	assert_int_equal(atomic_load(&r.mixed), 0);
	assert_int_equal(atomic_load(&r.incomplete), 0);
	assert_int_equal(atomic_load(&r.missing), 0);
	assert_live(f, "xmpp", D, 300);
}

/* Each install keeps the new generation and the one before it. */
static void test_old_generations_removed(void **state)
{
	struct fx *f = *state;
	char priv[1024];

	pathf(priv, sizeof(priv), "%s/.%s.d", f->dir, D);
	install(f, "xmpp", D, 1);
	assert_string_equal(ls(priv), "G1");
	install(f, "xmpp", D, 2);
	assert_string_equal(ls(priv), "G1 G2");
	install(f, "xmpp", D, 3);
	assert_string_equal(ls(priv), "G2 G3");
	install(f, "xmpp", D, 4);
	assert_string_equal(ls(priv), "G3 G4");
	assert_live(f, "xmpp", D, 4);
	/* another domain's files are not touched */
	install(f, "xmpp", "example.net", 9);
	install(f, "xmpp", D, 5);
	assert_string_equal(ls(priv), "G4 G5");
	assert_live(f, "xmpp", "example.net", 9);
}

/* The old layout, <dir>/<domain>/{fullchain.pem,privkey.pem,privkey.pem.new}:
 * the pending key is adopted, the directory exchanged for the link and kept
 * as the previous generation; a legacy directory that already holds the
 * chain being installed gives its key. */
static void test_legacy_migrated(void **state)
{
	struct fx *f = *state;
	char legacy[1024], path[1100], buf[256], err[512], *pem = NULL;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	pathf(legacy, sizeof(legacy), "%s/%s", f->dir, D);
	assert_int_equal(mkdir(legacy, 0700), 0);
	pathf(path, sizeof(path), "%s/fullchain.pem", legacy);
	chain_of(0, buf, sizeof(buf));
	put(path, buf, 0644);
	pathf(path, sizeof(path), "%s/privkey.pem", legacy);
	key_of(0, buf, sizeof(buf));
	put(path, buf, 0600);
	pathf(path, sizeof(path), "%s/privkey.pem.new", legacy);
	key_of(1, buf, sizeof(buf));
	put(path, buf, 0600);

	/* the old layout's chain counts as installed */
	assert_int_equal(cf_installed_chain(&f->pol, "xmpp", D, &pem, err, sizeof(err)), 0);
	chain_of(0, buf, sizeof(buf));
	assert_string_equal(pem, buf);
	free(pem);
	/* its pending key becomes the pending key */
	assert_int_equal(cf_pending_key_path(&f->pol, "xmpp", D, path, sizeof(path), err,
	                                     sizeof(err)), 0);
	key_of(1, buf, sizeof(buf));
	assert_file(path, buf);
	assert_string_equal(ls(legacy), "fullchain.pem privkey.pem");
	/* the live path still serves the old pair until the install */
	assert_live(f, "xmpp", D, 0);
	chain_of(1, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), 0);
	assert_true(S_ISLNK(lst(legacy).st_mode));
	assert_live(f, "xmpp", D, 1);
	pathf(path, sizeof(path), "%s/.%s.d", f->dir, D);
	assert_string_equal(ls(path), "G1 _legacy");
	pathf(path, sizeof(path), "%s/.%s.d/_legacy/privkey.pem", f->dir, D);
	key_of(0, buf, sizeof(buf));
	assert_file(path, buf);
	assert_string_equal(ls(f->dir), ".example.org.d example.org");
	/* the next install drops it */
	install(f, "xmpp", D, 2);
	pathf(path, sizeof(path), "%s/.%s.d", f->dir, D);
	assert_string_equal(ls(path), "G1 G2");

	/* old code crashed after its renames: the legacy directory holds the
	 * new pair already and no key is pending */
	pathf(legacy, sizeof(legacy), "%s/example.net", f->dir);
	assert_int_equal(mkdir(legacy, 0700), 0);
	pathf(path, sizeof(path), "%s/fullchain.pem", legacy);
	chain_of(5, buf, sizeof(buf));
	put(path, buf, 0644);
	pathf(path, sizeof(path), "%s/privkey.pem", legacy);
	key_of(5, buf, sizeof(buf));
	put(path, buf, 0600);
	chain_of(5, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", "example.net", buf, "G5", err, sizeof(err)), 0);
	assert_live(f, "xmpp", "example.net", 5);
	assert_true(S_ISLNK(lst(legacy).st_mode));
	/* but never another certificate's key: a chain it does not hold, no
	 * pending key */
	chain_of(6, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", "example.net", buf, "G6", err, sizeof(err)),
	                 RZ_ENOENT);
	assert_live(f, "xmpp", "example.net", 5);
}

/* Re-runs after a crash at each point of an install complete it.  (certs.c
 * has no such contract: a crash between its renames leaves a mixed pair
 * until the step runs again.) */
static void test_crash_idempotent(void **state)
{
	struct fx *f = *state;
	char priv[1024], path[1100], buf[256], key[256], err[512], live[1024], target[256];
	struct stat g_before, g_after;
	ssize_t n;

	pathf(priv, sizeof(priv), "%s/.%s.d", f->dir, D);
	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, live, sizeof(live)), 0);

	/* a. crashed while writing <gen>.tmp: rebuilt */
	pending(f, "xmpp", D, 1);
	pathf(path, sizeof(path), "%s/G1.tmp", priv);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/G1.tmp/fullchain.pem", priv);
	put(path, "-----BEGIN CERTIFICATE-----\ntrunc", 0644);
	chain_of(1, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), 0);
	assert_live(f, "xmpp", D, 1);
	assert_string_equal(ls(priv), "G1");

	/* b. crashed after the rename of the generation, before the link */
	pending(f, "xmpp", D, 2);
	pathf(path, sizeof(path), "%s/G2", priv);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/G2/fullchain.pem", priv);
	chain_of(2, buf, sizeof(buf));
	put(path, buf, 0644);
	pathf(path, sizeof(path), "%s/G2/privkey.pem", priv);
	key_of(2, key, sizeof(key));
	put(path, key, 0600);
	assert_live(f, "xmpp", D, 1);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G2", err, sizeof(err)), 0);
	assert_live(f, "xmpp", D, 2);
	assert_string_equal(ls(priv), "G1 G2");          /* pending consumed, G1 the previous */

	/* c. crashed after making the temporary link */
	pending(f, "xmpp", D, 3);
	pathf(path, sizeof(path), "%s/.%s.link", f->dir, D);
	assert_int_equal(symlink(".example.org.d/G1", path), 0);
	chain_of(3, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G3", err, sizeof(err)), 0);
	assert_live(f, "xmpp", D, 3);
	assert_string_equal(ls(f->dir), ".example.org.d example.org");

	/* d. crashed after the link, before the pending key went, and stale
	 * temporaries of acme_key_write_pem() */
	pending(f, "xmpp", D, 3);
	pathf(path, sizeof(path), "%s/pending-privkey.pem.tmp.Ab12Cd", priv);
	put(path, "junk", 0600);
	pathf(path, sizeof(path), "%s/G3", priv);
	g_before = lst(path);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G3", err, sizeof(err)), 0);
	assert_string_equal(ls(priv), "G2 G3");
	g_after = lst(path);
	assert_int_equal(g_after.st_ino, g_before.st_ino);   /* not rebuilt */
	assert_live(f, "xmpp", D, 3);

	/* e. the same call again: nothing changes */
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G3", err, sizeof(err)), 0);
	assert_string_equal(ls(priv), "G2 G3");
	assert_int_equal(lst(path).st_ino, g_before.st_ino);
	n = readlink(live, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, ".example.org.d/G3");

	/* f. the CA's other chain for the same certificate: chain replaced,
	 * key kept */
	assert_int_equal(cf_install(&f->pol, "xmpp", D,
	                            "-----BEGIN CERTIFICATE-----\nchain# 3\nalternate\n", "G3", err,
	                            sizeof(err)), 0);
	pathf(path, sizeof(path), "%s/fullchain.pem", live);
	assert_file(path, "-----BEGIN CERTIFICATE-----\nchain# 3\nalternate\n");
	pathf(path, sizeof(path), "%s/privkey.pem", live);
	key_of(3, key, sizeof(key));
	assert_file(path, key);
	pathf(path, sizeof(path), "%s/G3", priv);
	assert_string_equal(ls(path), "fullchain.pem privkey.pem");

	/* ... but not when a pending key that is not the generation's says the
	 * name is reused for another certificate */
	pending(f, "xmpp", D, 9);
	chain_of(9, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G3", err, sizeof(err)), RZ_EEXIST);
	pathf(path, sizeof(path), "%s/fullchain.pem", live);
	assert_file(path, "-----BEGIN CERTIFICATE-----\nchain# 3\nalternate\n");
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), 0);

	/* g. no pending key and a new generation: refused, nothing changes */
	chain_of(4, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G4", err, sizeof(err)), RZ_ENOENT);
	assert_true(strstr(err, "no pending key") != NULL);
	assert_string_equal(ls(priv), "G2 G3");

	/* h. crashed right after exchanging an old-layout directory out: it
	 * waits at the temporary link's name */
	pathf(path, sizeof(path), "%s/.%s.link", f->dir, D);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/.%s.link/privkey.pem", f->dir, D);
	put(path, "old", 0600);
	pending(f, "xmpp", D, 4);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G4", err, sizeof(err)), 0);
	assert_live(f, "xmpp", D, 4);
	assert_string_equal(ls(f->dir), ".example.org.d example.org");
	assert_string_equal(ls(priv), "G3 G4");          /* moved in, then swept */
}

/* Removal leaves nothing of (service, domain), twice over, and nothing
 * else goes.  (certs.c leaves temporaries and then cannot rmdir.) */
static void test_remove_leaves_nothing(void **state)
{
	struct fx *f = *state;
	char path[1024], err[512], *pem = NULL;

	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);   /* no <dir> */
	install(f, "xmpp", D, 1);
	install(f, "xmpp", D, 2);
	pending(f, "xmpp", D, 3);
	pathf(path, sizeof(path), "%s/.%s.d/G9.tmp", f->dir, D);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/.%s.link", f->dir, D);
	assert_int_equal(symlink("nowhere", path), 0);
	install(f, "mail", D, 4);
	install(f, "xmpp", "example.net", 5);

	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	assert_string_equal(ls(f->dir), ".example.net.d example.net mail");
	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	assert_int_equal(cf_installed_chain(&f->pol, "xmpp", D, &pem, err, sizeof(err)),
	                 RZ_ENOENT);
	assert_null(pem);
	assert_live(f, "mail", D, 4);
	assert_live(f, "xmpp", "example.net", 5);
	assert_int_equal(cf_remove(&f->pol, "mail", D, err, sizeof(err)), 0);
	pathf(path, sizeof(path), "%s/mail", f->dir);
	assert_string_equal(ls(path), "");               /* the service directory stays */
	assert_int_equal(cf_remove(&f->pol, "mail", "example.com", err, sizeof(err)), 0);

	/* the old layout */
	pathf(path, sizeof(path), "%s/example.com", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/example.com/fullchain.pem.tmp", f->dir);
	put(path, "x", 0644);
	pathf(path, sizeof(path), "%s/example.com/privkey.pem.new", f->dir);
	put(path, "x", 0600);
	assert_int_equal(cf_remove(&f->pol, "xmpp", "example.com", err, sizeof(err)), 0);
	assert_string_equal(ls(f->dir), ".example.net.d example.net mail");
}

/* Links planted below <dir> are never followed: refused, or removed as
 * links; what they point to stays as it was.  (certs.c follows them.) */
static void test_planted_links(void **state)
{
	struct fx *f = *state;
	char out[1024], path[1100], outside[1024], buf[256], err[512], *pem = NULL;

	pathf(outside, sizeof(outside), "%s/outside", f->base);
	assert_int_equal(mkdir(outside, 0700), 0);
	pathf(path, sizeof(path), "%s/secret", outside);
	put(path, "secret", 0600);
	assert_int_equal(mkdir(f->dir, 0700), 0);
	chain_of(1, buf, sizeof(buf));

	/* a service directory that is a link */
	pathf(path, sizeof(path), "%s/mail", f->dir);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(cf_pending_key_path(&f->pol, "mail", D, out, sizeof(out), err,
	                                     sizeof(err)), RZ_EEXIST);
	assert_string_equal(out, "");
	if (strstr(err, "symbolic link") == NULL) fail_msg("%s", err);
	assert_int_equal(cf_install(&f->pol, "mail", D, buf, "G1", err, sizeof(err)), RZ_EEXIST);
	assert_int_equal(cf_remove(&f->pol, "mail", D, err, sizeof(err)), RZ_EEXIST);
	assert_string_equal(ls(outside), "secret");

	/* a private directory that is a link */
	pathf(path, sizeof(path), "%s/.%s.d", f->dir, D);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), RZ_EEXIST);
	assert_int_equal(cf_pending_key_path(&f->pol, "xmpp", D, out, sizeof(out), err,
	                                     sizeof(err)), RZ_EEXIST);
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), RZ_EEXIST);
	assert_string_equal(ls(outside), "secret");
	/* removal takes the link, not its target */
	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	assert_string_equal(ls(outside), "secret");
	assert_string_equal(ls(f->dir), "mail");

	/* a live path that is someone else's link: left alone */
	pathf(path, sizeof(path), "%s/%s", f->dir, D);
	assert_int_equal(symlink(outside, path), 0);
	pending(f, "xmpp", D, 1);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), RZ_EEXIST);
	assert_true(strstr(err, "did not make") != NULL);
	assert_int_equal(cf_installed_chain(&f->pol, "xmpp", D, &pem, err, sizeof(err)), RZ_EEXIST);
	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), RZ_EEXIST);
	assert_true(S_ISLNK(lst(path).st_mode));
	assert_string_equal(ls(outside), "secret");
	assert_int_equal(unlink(path), 0);
	/* a file there: the same */
	put(path, "mine", 0644);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), RZ_EEXIST);
	assert_int_equal(unlink(path), 0);

	/* a link planted as <gen>.tmp is removed as a link; the build goes on */
	pending(f, "xmpp", D, 1);
	pathf(path, sizeof(path), "%s/.%s.d/G1.tmp", f->dir, D);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G1", err, sizeof(err)), 0);
	assert_string_equal(ls(outside), "secret");
	assert_live(f, "xmpp", D, 1);

	/* a pending key that is a link is not read */
	pathf(path, sizeof(path), "%s/.%s.d/pending-privkey.pem", f->dir, D);
	pathf(out, sizeof(out), "%s/secret", outside);
	assert_int_equal(symlink(out, path), 0);
	chain_of(2, buf, sizeof(buf));
	assert_int_equal(cf_install(&f->pol, "xmpp", D, buf, "G2", err, sizeof(err)), RZ_EEXIST);
	assert_live(f, "xmpp", D, 1);
	assert_int_equal(unlink(path), 0);

	/* a file of an old-layout directory that is a link: unlinked, target kept */
	pathf(path, sizeof(path), "%s/example.net", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/example.net/privkey.pem", f->dir);
	assert_int_equal(symlink(out, path), 0);
	assert_int_equal(cf_remove(&f->pol, "xmpp", "example.net", err, sizeof(err)), 0);
	assert_file(out, "secret");
}

/* The pending key: dropped on a failed order, with acme's temporaries and
 * the old layout's privkey.pem.new. */
/* Extra public files (the POSH documents): written into the generation
 * with the chain's mode, live with it; a failed write (a file size limit
 * hit halfway through the new generation) leaves the live generation and
 * its files as they were; a re-run replaces only what differs; bad names
 * are refused before anything is touched; removal takes them too. */
static void test_extra_files(void **state)
{
	struct fx *f = *state;
	char live[1024], path[1100], chain[256], err[512], *big;
	struct cf_extra x[2] = { { "xmpp-client.json", "one\n", 4 }, { "b.json", "bee\n", 4 } };
	static const char *const bad_names[] = {
		"", ".hidden", "../x", "a/b", "A.json", "x.", "x.y.z", "x.j-s", CF_CHAIN_FILE,
		CF_KEY_FILE, "-x",
	};
	struct rlimit fsz, small;
	struct stat before, after;
	void (*old_xfsz)(int);
	int ret;

	assert_int_equal(cf_live_path(&f->pol, "xmpp", D, live, sizeof(live)), 0);
	pending(f, "xmpp", D, 1);
	chain_of(1, chain, sizeof(chain));
	ret = cf_install_extra(&f->pol, "xmpp", D, chain, "G1", x, 2, err, sizeof(err));
	if (ret != 0)
		fail_msg("cf_install_extra G1: %d %s", ret, err);
	assert_live(f, "xmpp", D, 1);
	pathf(path, sizeof(path), "%s/xmpp-client.json", live);
	assert_file(path, "one\n");
	assert_mode(path, 0644, NONE);
	pathf(path, sizeof(path), "%s/b.json", live);
	assert_file(path, "bee\n");
	assert_mode(path, 0644, NONE);

	/* The next certificate, with another document. */
	x[0].data = "two\n";
	pending(f, "xmpp", D, 2);
	chain_of(2, chain, sizeof(chain));
	assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G2", x, 1, err,
	                                  sizeof(err)), 0);
	assert_live(f, "xmpp", D, 2);
	pathf(path, sizeof(path), "%s/xmpp-client.json", live);
	assert_file(path, "two\n");
	pathf(path, sizeof(path), "%s/b.json", live);
	assert_null(get(path));   /* not given for G2: not there */

	/* A write that fails halfway: G3's chain and key fit, its document
	 * does not. */
	assert_non_null(big = malloc(CF_EXTRA_SIZE));
	memset(big, 'x', CF_EXTRA_SIZE);
	x[0].data = big;
	x[0].len = CF_EXTRA_SIZE;
	pending(f, "xmpp", D, 3);
	chain_of(3, chain, sizeof(chain));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsz), 0);
	small = (struct rlimit){ 16 * 1024, fsz.rlim_max };   /* the soft limit only */
	old_xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	ret = cf_install_extra(&f->pol, "xmpp", D, chain, "G3", x, 1, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsz), 0);
	signal(SIGXFSZ, old_xfsz);
	free(big);
	assert_int_not_equal(ret, 0);
	assert_non_null(strstr(err, "xmpp-client.json"));
	assert_live(f, "xmpp", D, 2);
	pathf(path, sizeof(path), "%s/xmpp-client.json", live);
	assert_file(path, "two\n");
	pathf(path, sizeof(path), "%s/." D ".d", f->dir);
	assert_string_equal(ls(path), "G1 G2 pending-privkey.pem");

	/* A re-run of G2: the same document is left alone (same inode), another
	 * one replaces it. */
	x[0].data = "two\n";
	x[0].len = 4;
	chain_of(2, chain, sizeof(chain));
	pathf(path, sizeof(path), "%s/xmpp-client.json", live);
	before = lst(path);
	assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G2", x, 1, err,
	                                  sizeof(err)), 0);
	after = lst(path);
	assert_true(before.st_ino == after.st_ino);
	x[0].data = "2bis\n";
	x[0].len = 5;
	assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G2", x, 1, err,
	                                  sizeof(err)), 0);
	assert_file(path, "2bis\n");
	assert_mode(path, 0644, NONE);
	pathf(path, sizeof(path), "%s/." D ".d/G2", f->dir);
	assert_string_equal(ls(path), "fullchain.pem privkey.pem xmpp-client.json");

	/* Refused before anything changes. */
	chain_of(3, chain, sizeof(chain));
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		struct cf_extra b = { bad_names[i], "z", 1 };

		ret = cf_install_extra(&f->pol, "xmpp", D, chain, "G3", &b, 1, err, sizeof(err));
		if (ret != RZ_EINVAL)
			fail_msg("extra name '%s': %d, want RZ_EINVAL", bad_names[i], ret);
	}
	{
		struct cf_extra twice[2] = { { "a.json", "1", 1 }, { "a.json", "2", 1 } };
		struct cf_extra huge = { "a.json", "", CF_EXTRA_SIZE + 1 };

		assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G3", twice, 2, err,
		                                  sizeof(err)), RZ_EINVAL);
		assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G3", &huge, 1, err,
		                                  sizeof(err)), RZ_EINVAL);
		assert_int_equal(cf_install_extra(&f->pol, "xmpp", D, chain, "G3", NULL, 1, err,
		                                  sizeof(err)), RZ_EINVAL);
	}
	assert_live(f, "xmpp", D, 2);

	/* Removal takes the documents with the certificate. */
	assert_int_equal(cf_remove(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	pathf(path, sizeof(path), "%s/xmpp-client.json", live);
	assert_null(get(path));
	assert_string_equal(ls(f->dir), "");
}

static void test_discard_pending(void **state)
{
	struct fx *f = *state;
	char path[1024], priv[1024], err[512];

	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), RZ_ENOENT);
	pending(f, "xmpp", D, 1);
	pathf(priv, sizeof(priv), "%s/.%s.d", f->dir, D);
	pathf(path, sizeof(path), "%s/pending-privkey.pem.tmp.zz9", priv);
	put(path, "junk", 0600);
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), 0);
	assert_string_equal(ls(priv), "");
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", D, err, sizeof(err)), RZ_ENOENT);
	/* an install with nothing pending and nothing live */
	{
		char chain[256];

		chain_of(1, chain, sizeof(chain));
		assert_int_equal(cf_install(&f->pol, "xmpp", D, chain, "G1", err, sizeof(err)),
		                 RZ_ENOENT);
		assert_string_equal(ls(priv), "");
	}
	/* the old layout's pending key */
	pathf(path, sizeof(path), "%s/example.net", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	pathf(path, sizeof(path), "%s/example.net/privkey.pem.new", f->dir);
	put(path, "k", 0600);
	assert_int_equal(cf_discard_pending(&f->pol, "xmpp", "example.net", err, sizeof(err)), 0);
	pathf(path, sizeof(path), "%s/example.net", f->dir);
	assert_string_equal(ls(path), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paths_per_service, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_own, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_other_as_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_unprivileged_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_dir_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_generations_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_migrated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extra_files, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
