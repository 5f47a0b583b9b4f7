/*
 * The deploy-hook runner: hard timeout whatever the hook does with its
 * output, the process group killed, strays found, the box (fds, signals,
 * environment) seen from inside by tests/unit/probes/hook_probe.c, exit
 * status and output, refused environment entries.  Needs /bin/sh, sleep,
 * head, tr and /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/hook.h"
#include "daemon/rz_err.h"

static char tmpdir[64];

/* tmpdir/name */
static const char *tpath(const char *name)
{
	static char buf[4][384];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Run cmd (no extra env); *secs the time it took. */
static int run(const char *cmd, uint32_t timeout_s, struct rz_hook_result *res, double *secs)
{
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = rz_hook_run(cmd, NULL, timeout_s, res);
	*secs = since(&t0);
	return ret;
}

/* State letter of a process from /proc/PID/stat; 0 when there is none. */
static char proc_state(long pid, long *pgrp)
{
	char path[64], buf[512], st = 0;
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %c %*d %ld", &st, pgrp) != 2)
		return 0;
	return st;
}

/* Alive: it exists and is not a zombie (the test's PID 1 may never reap). */
static bool alive(long pid)
{
	long pg;
	char st = proc_state(pid, &pg);

	return st != 0 && st != 'Z' && st != 'X';
}

/* Live processes in process group pgid, the leader included. */
static int group_live(long pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		long pid = strtol(de->d_name, NULL, 10), pg = 0;
		char st;

		if (pid <= 0)
			continue;
		st = proc_state(pid, &pg);
		if (st != 0 && st != 'Z' && st != 'X' && pg == pgid)
			n++;
	}
	closedir(d);
	return n;
}

/* The pid a hook wrote into tmpdir/name. */
static long read_pid(const char *name)
{
	FILE *f = fopen(tpath(name), "re");
	long pid = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	assert_true(pid > 1);
	unlink(tpath(name));
	return pid;
}

/* Nothing forked by the runner is left to reap. */
static void assert_no_child(void)
{
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static int n_open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The hook closes its output, then hangs: the deadline still holds, and
 * the whole group dies.  Both the shell's pid and the sleep's. */
static void test_timeout_output_closed(void **state)
{
	struct rz_hook_result res;
	char cmd[512];
	double secs;
	long sh, sleeper;

	(void)state;
	snprintf(cmd, sizeof(cmd), "echo $$ >%s; exec >/dev/null 2>&1; sleep 6", tpath("sh.pid"));
	assert_int_equal(run(cmd, 2, &res, &secs), 0);
	print_message("    exec >/dev/null; sleep 6, timeout 2 s: %.3f s\n", secs);
	assert_true(secs >= 1.9 && secs < 3.5);
	assert_true(res.timed_out);
	assert_false(res.strays_killed);
	assert_int_equal(res.status, 128 + SIGTERM);
	assert_string_equal(res.output, "[timed out after 2 s: process group killed with SIGTERM]");
	sh = read_pid("sh.pid");
	assert_int_equal(group_live(sh), 0);
	assert_false(alive(sh));

	/* the sleep a child of the shell, its pid from $! */
	snprintf(cmd, sizeof(cmd), "exec >/dev/null 2>&1; sleep 6 & echo $! >%s; wait",
	         tpath("sleep.pid"));
	assert_int_equal(run(cmd, 2, &res, &secs), 0);
	print_message("    exec >/dev/null; sleep 6 & wait, timeout 2 s: %.3f s\n", secs);
	assert_true(secs >= 1.9 && secs < 3.5);
	assert_true(res.timed_out);
	sleeper = read_pid("sleep.pid");
	assert_false(alive(sleeper));
	assert_no_child();
}

/* SIGTERM ignored by the whole group: SIGKILL after the grace. */
static void test_timeout_term_ignored(void **state)
{
	struct rz_hook_result res;
	char cmd[512];
	double secs;
	long sh, sleeper;

	(void)state;
	snprintf(cmd, sizeof(cmd), "trap '' TERM; echo $$ >%s; echo before; sleep 6 & "
	         "echo $! >%s; wait; wait", tpath("sh.pid"), tpath("sleep.pid"));
	assert_int_equal(run(cmd, 2, &res, &secs), 0);
	print_message("    trap '' TERM, timeout 2 s: %.3f s\n", secs);
	assert_true(secs >= 2.9 && secs < 3.5);
	assert_true(res.timed_out);
	assert_int_equal(res.status, 128 + SIGKILL);
	assert_string_equal(res.output,
	                    "before\n[timed out after 2 s: process group killed with SIGKILL]");
	sh = read_pid("sh.pid");
	sleeper = read_pid("sleep.pid");
	assert_false(alive(sh));
	assert_false(alive(sleeper));
	assert_int_equal(group_live(sh), 0);
	assert_no_child();
}

/* The hook exits 0 but leaves a background job holding its stdout: the
 * call returns at once, the job is killed and the output says so. */
static void test_stray_holding_pipe(void **state)
{
	struct rz_hook_result res;
	char cmd[512];
	double secs;
	long sleeper;

	(void)state;
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! >%s; echo started; exit 0",
	         tpath("sleep.pid"));
	assert_int_equal(run(cmd, 10, &res, &secs), 0);
	print_message("    sleep 30 & (holding stdout); exit 0: %.3f s\n", secs);
	assert_true(secs < 2.0);
	assert_int_equal(res.status, 0);
	assert_false(res.timed_out);
	assert_true(res.strays_killed);
	assert_string_equal(res.output, "started\n"
	                    "[processes left in the hook's process group killed with SIGTERM]");
	sleeper = read_pid("sleep.pid");
	assert_false(alive(sleeper));
	assert_no_child();
}

/* The same with a job that closed its output: found all the same. */
static void test_stray_output_closed(void **state)
{
	struct rz_hook_result res;
	char cmd[512];
	double secs;
	long sleeper;

	(void)state;
	snprintf(cmd, sizeof(cmd), "sleep 30 >/dev/null 2>&1 & echo $! >%s; exit 0",
	         tpath("sleep.pid"));
	assert_int_equal(run(cmd, 10, &res, &secs), 0);
	print_message("    sleep 30 >/dev/null &; exit 0: %.3f s\n", secs);
	assert_true(secs < 2.0);
	assert_int_equal(res.status, 0);
	assert_true(res.strays_killed);
	sleeper = read_pid("sleep.pid");
	assert_false(alive(sleeper));
	assert_no_child();
}

/* A background job that ends within RZ_HOOK_DRAIN_MS of the main process
 * is no stray: its output is read to EOF and nothing is killed. */
static void test_drain_late_output(void **state)
{
	struct rz_hook_result res;
	double secs;

	(void)state;
	assert_int_equal(run("(sleep 0.02; echo late) & echo early; exit 0", 10, &res, &secs), 0);
	print_message("    late output 20 ms after exit: %.3f s\n", secs);
	assert_int_equal(res.status, 0);
	assert_false(res.strays_killed);
	assert_string_equal(res.output, "early\nlate\n");
	assert_true(secs < (double)RZ_HOOK_DRAIN_MS / 1000);
	assert_no_child();
}

/* A stray that ignores SIGTERM gets SIGKILL; the main status is kept. */
static void test_stray_term_ignored(void **state)
{
	struct rz_hook_result res;
	char cmd[512];
	double secs;
	long sleeper;

	(void)state;
	snprintf(cmd, sizeof(cmd), "trap '' TERM; sleep 30 & echo $! >%s; exit 5",
	         tpath("sleep.pid"));
	assert_int_equal(run(cmd, 10, &res, &secs), 0);
	print_message("    trap '' TERM; sleep 30 &; exit 5: %.3f s\n", secs);
	assert_true(secs >= 1.0 && secs < 2.0);
	assert_int_equal(res.status, 5);
	assert_false(res.timed_out);
	assert_true(res.strays_killed);
	assert_true(has_suffix(res.output, "killed with SIGKILL]"));
	sleeper = read_pid("sleep.pid");
	assert_false(alive(sleeper));
	assert_no_child();
}

/* Lines of the probe's report, and checks on them. */
struct report {
	char lines[256][512];
	size_t n;
};

static void read_report(struct report *rep)
{
	FILE *f = fopen(tpath("report"), "re");

	assert_non_null(f);
	rep->n = 0;
	while (rep->n < 256 && fgets(rep->lines[rep->n], sizeof(rep->lines[0]), f) != NULL) {
		rep->lines[rep->n][strcspn(rep->lines[rep->n], "\n")] = '\0';
		rep->n++;
	}
	fclose(f);
	unlink(tpath("report"));
	assert_true(rep->n > 0);
	assert_string_equal(rep->lines[rep->n - 1], "end");
}

static bool report_has(const struct report *rep, const char *line)
{
	for (size_t i = 0; i < rep->n; i++)
		if (strcmp(rep->lines[i], line) == 0)
			return true;
	return false;
}

/*
 * Check the probe's report: fds 0-2 only (0 /dev/null, 1 and 2 the same
 * pipe), its own process group, no blocked or ignored signal, and the
 * environment exactly want[] (plus PWD, which /bin/sh exports itself).
 */
static void check_box(const struct report *rep, const char *const *want)
{
	char std1[64], cwd[1024], pwd[1100];
	size_t n_want = 0, n_env = 0;

	assert_true(report_has(rep, "pgrp-leader 1"));
	assert_true(report_has(rep, "std 0 null"));
	assert_true(strncmp(rep->lines[2], "std 1 fifo ", 11) == 0);
	snprintf(std1, sizeof(std1), "std 2 fifo %s", rep->lines[2] + 11);
	assert_string_equal(rep->lines[3], std1);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(pwd, sizeof(pwd), "env PWD=%s", cwd);
	for (size_t i = 0; i < rep->n; i++) {
		const char *l = rep->lines[i];
		bool wanted = false;

		if (strncmp(l, "fd ", 3) == 0 || strncmp(l, "blocked ", 8) == 0 ||
		    strncmp(l, "ignored ", 8) == 0)
			fail_msg("the hook got: %s", l);
		if (strncmp(l, "env ", 4) != 0)
			continue;
		n_env++;
		for (size_t k = 0; want[k] != NULL; k++)
			wanted |= strcmp(l + 4, want[k]) == 0;
		if (!wanted && strcmp(l, pwd) != 0)
			fail_msg("the hook got an environment entry it should not: %s", l);
	}
	while (want[n_want] != NULL) {
		char line[600];

		snprintf(line, sizeof(line), "env %s", want[n_want]);
		if (!report_has(rep, line))
			fail_msg("the hook lacks %s", want[n_want]);
		n_want++;
	}
	assert_true(n_env == n_want || n_env == n_want + 1);  /* + PWD */
}

/* A copy of getenv(name), or NULL. */
static char *env_save(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? strdup(v) : NULL;
}

static void env_restore(const char *name, char *v)
{
	if (v != NULL)
		setenv(name, v, 1);
	else
		unsetenv(name);
	free(v);
}

/*
 * The box from inside.  The calling thread first makes it as leaky as the
 * daemon is: an fd and a socketpair without close-on-exec (one at fd 1000),
 * SIGTERM and SIGINT blocked, SIGPIPE ignored, secrets in the environment.
 */
static void test_box(void **state)
{
	const char *bindir = getenv("RZ_BINDIR");
	const char *const env[] = { "REGZONE_DOMAIN=example.test",
		"REGZONE_CERT_DIR=/var/lib/regzone/certs/example.test", "REGZONE_ACTION=deploy",
		"OPERATOR_NOTE=two words, and = too", NULL };
	const char *const env_path[] = { "PATH=/opt/hook/bin:/usr/bin:/bin", "REGZONE_ACTION=remove",
		NULL };
	const char *want1[8] = { NULL }, *want2[8] = { NULL }, *want3[8] = { NULL };
	char *old_path = NULL, *old_lang = NULL, *old_pg = NULL, *old_pw = NULL, *old_home = NULL;
	struct rz_hook_result res;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
	sigset_t block, old_mask;
	struct report *rep = NULL;
	char cmd[1024];
	int nul, sv[2], high, fds_before;
	size_t k;

	(void)state;
	if (bindir == NULL)
		fail_msg("RZ_BINDIR is not set (the build directory, with bin/hook_probe)");
	rep = calloc(1, sizeof(*rep));
	assert_non_null(rep);
	old_path = env_save("PATH");
	old_lang = env_save("LANG");
	old_pg = env_save("REGZONE_PG");
	old_pw = env_save("PGPASSWORD");
	old_home = env_save("HOME");
	snprintf(cmd, sizeof(cmd), "exec '%s/bin/hook_probe' '%s'", bindir, tpath("report"));

	nul = open("/dev/null", O_RDONLY);  /* no O_CLOEXEC, on purpose */
	assert_true(nul >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	high = dup2(sv[0], 1000);
	assert_int_equal(high, 1000);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &old_mask), 0);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	setenv("REGZONE_PG", "host=db user=regzone password=secret", 1);
	setenv("PGPASSWORD", "secret", 1);
	setenv("HOME", "/var/lib/regzone", 1);
	setenv("PATH", "/usr/bin:/bin:/rz-test", 1);
	setenv("LANG", "C.UTF-8", 1);
	fds_before = n_open_fds();

	/* PATH and LANG from the daemon, the caller's entries */
	assert_int_equal(rz_hook_run(cmd, env, 10, &res), 0);
	assert_int_equal(res.status, 0);
	assert_string_equal(res.output, "probe done\n");
	read_report(rep);
	want1[0] = "PATH=/usr/bin:/bin:/rz-test";
	want1[1] = "LANG=C.UTF-8";
	for (k = 0; env[k] != NULL; k++)
		want1[2 + k] = env[k];
	check_box(rep, want1);

	/* no PATH, no LANG in the daemon: the default PATH, no LANG */
	unsetenv("PATH");
	unsetenv("LANG");
	assert_int_equal(rz_hook_run(cmd, env, 10, &res), 0);
	assert_int_equal(res.status, 0);
	read_report(rep);
	want2[0] = "PATH=" RZ_HOOK_DEFAULT_PATH;
	for (k = 0; env[k] != NULL; k++)
		want2[1 + k] = env[k];
	check_box(rep, want2);

	/* a caller's PATH replaces the daemon's */
	setenv("PATH", "/usr/bin:/bin:/rz-test", 1);
	assert_int_equal(rz_hook_run(cmd, env_path, 10, &res), 0);
	assert_int_equal(res.status, 0);
	read_report(rep);
	want3[0] = env_path[0];
	want3[1] = env_path[1];
	check_box(rep, want3);

	/* and the caller's own state is as it was */
	assert_int_equal(n_open_fds(), fds_before);
	assert_true(fcntl(high, F_GETFD) != -1 && fcntl(nul, F_GETFD) != -1);
	assert_no_child();

	close(nul);
	close(sv[0]);
	close(sv[1]);
	close(high);
	assert_int_equal(sigaction(SIGPIPE, &old_pipe, NULL), 0);
	assert_int_equal(pthread_sigmask(SIG_SETMASK, &old_mask, NULL), 0);
	env_restore("PATH", old_path);
	env_restore("LANG", old_lang);
	env_restore("REGZONE_PG", old_pg);
	env_restore("PGPASSWORD", old_pw);
	env_restore("HOME", old_home);
	free(rep);
}

/* Exit status and output. */
static void test_status_output(void **state)
{
	static const struct {
		const char *cmd;
		int status;
		const char *output;   /* NULL: not checked */
	} cases[] = {
		{ "exit 0", 0, "" },
		{ "echo hello; echo oops >&2; exit 3", 3, "hello\noops\n" },
		{ "echo partial; kill -KILL $$", 128 + SIGKILL, "partial\n" },
		{ "kill -TERM $$", 128 + SIGTERM, "" },
		{ "printf 'a\\001b\\tc\\303\\251\\r\\n'; printf '\\033[31m'", 0, "a?b?c???\n?[31m" },
		{ "cat; echo stdin=$?", 0, "stdin=0\n" },           /* /dev/null: EOF at once */
		{ "printf 'no newline'", 0, "no newline" },
		{ "/nonexistent/hook", 127, NULL },
	};
	struct rz_hook_result res;
	double secs;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(cases[i].cmd, 10, &res, &secs), 0);
		if (res.status != cases[i].status)
			fail_msg("%s: status %d, want %d", cases[i].cmd, res.status, cases[i].status);
		assert_false(res.timed_out);
		assert_false(res.strays_killed);
		if (cases[i].output != NULL)
			assert_string_equal(res.output, cases[i].output);
		assert_true(secs < 1.0);
	}
	assert_no_child();
}

/* Longer output than the buffer: cut and said so; a hook writing a lot is
 * read to its end (it never blocks on a full pipe). */
static void test_output_cut(void **state)
{
	struct rz_hook_result res;
	const char *end = "\n[output cut]";
	size_t len, i;
	double secs;

	(void)state;
	assert_int_equal(run("head -c 5000 /dev/zero | tr '\\0' a; echo trailing", 10, &res, &secs),
	                 0);
	assert_int_equal(res.status, 0);
	len = strlen(res.output);
	assert_true(len < sizeof(res.output));
	assert_true(has_suffix(res.output, end));
	for (i = 0; i < len - strlen(end); i++)
		if (res.output[i] != 'a')
			fail_msg("byte %zu is '%c'", i, res.output[i]);
	assert_true(i >= sizeof(res.output) - 256);

	assert_int_equal(run("head -c 4000000 /dev/zero; exit 4", 10, &res, &secs), 0);
	print_message("    4 MB of output: %.3f s\n", secs);
	assert_int_equal(res.status, 4);
	assert_false(res.timed_out);
	assert_true(secs < 2.0);
	assert_true(has_suffix(res.output, end));
	assert_true(res.output[0] == '?');  /* NUL bytes replaced */
	assert_no_child();
}

/* Refused entries: rz_hook_env_check() and rz_hook_run() (which then runs
 * nothing). */
static void test_env_refused(void **state)
{
	static const struct {
		const char *entry;
		int check;   /* rz_hook_env_check() */
		int run;     /* rz_hook_run() with this one entry */
	} cases[] = {
		{ "A=1", 0, 0 },
		{ "_x9=", 0, 0 },
		{ "OPERATOR=two words = \xc3\xa9", 0, 0 },
		{ "PATH=/opt/bin:/bin", 0, 0 },
		{ "LANG=C", 0, 0 },
		{ "REGZONE_DOMAIN=example.test", RZ_EINVAL, 0 },   /* the daemon's */
		{ "", RZ_EINVAL, RZ_EINVAL },
		{ "=x", RZ_EINVAL, RZ_EINVAL },
		{ "A", RZ_EINVAL, RZ_EINVAL },
		{ "1A=x", RZ_EINVAL, RZ_EINVAL },
		{ "A-B=x", RZ_EINVAL, RZ_EINVAL },
		{ "A B=x", RZ_EINVAL, RZ_EINVAL },
		{ "A.B=x", RZ_EINVAL, RZ_EINVAL },
		{ "\xc3\xa9=x", RZ_EINVAL, RZ_EINVAL },
		{ "A=x\ny", RZ_EINVAL, RZ_EINVAL },
		{ "A=x\ry", RZ_EINVAL, RZ_EINVAL },
		{ "A=x\ty", RZ_EINVAL, RZ_EINVAL },
		{ "A=\x7f", RZ_EINVAL, RZ_EINVAL },
		{ "A=\x1b[0m", RZ_EINVAL, RZ_EINVAL },
	};
	struct rz_hook_result res;
	char cmd[512], err[256], *big;
	const char *one[2] = { NULL, NULL }, *many[RZ_HOOK_ENV_MAX + 2];
	char names[RZ_HOOK_ENV_MAX + 1][16];
	struct stat st;

	(void)state;
	snprintf(cmd, sizeof(cmd), "echo ran >%s", tpath("ran"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (rz_hook_env_check(cases[i].entry, err, sizeof(err)) != cases[i].check)
			fail_msg("case %zu: rz_hook_env_check: want %d", i, cases[i].check);
		if (cases[i].check != 0)
			assert_true(strncmp(err, "hook_env: ", 10) == 0);
		one[0] = cases[i].entry;
		unlink(tpath("ran"));
		if (rz_hook_run(cmd, one, 5, &res) != cases[i].run)
			fail_msg("case %zu: rz_hook_run: want %d (%s)", i, cases[i].run, res.output);
		if (cases[i].run != 0) {
			assert_true(strncmp(res.output, "hook: ", 6) == 0);
			assert_int_equal(stat(tpath("ran"), &st), -1);
		} else {
			assert_int_equal(res.status, 0);
			assert_int_equal(stat(tpath("ran"), &st), 0);
		}
	}
	/* the reason names the entry, never quotes a value */
	one[0] = "TOKEN=s3cr\x01t";
	assert_int_equal(rz_hook_run(cmd, one, 5, &res), RZ_EINVAL);
	assert_non_null(strstr(res.output, "TOKEN"));
	assert_null(strstr(res.output, "s3cr"));
	assert_int_equal(rz_hook_env_check(one[0], err, sizeof(err)), RZ_EINVAL);
	assert_null(strstr(err, "s3cr"));
	assert_int_equal(rz_hook_env_check(NULL, err, sizeof(err)), RZ_EINVAL);
	assert_int_equal(rz_hook_env_check("A=\n", NULL, 0), RZ_EINVAL);

	/* lengths */
	big = malloc(RZ_HOOK_ENTRY_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', RZ_HOOK_NAME_MAX);
	big[RZ_HOOK_NAME_MAX] = '=';
	big[RZ_HOOK_NAME_MAX + 1] = '\0';
	assert_int_equal(rz_hook_env_check(big, err, sizeof(err)), 0);
	memset(big, 'A', RZ_HOOK_NAME_MAX + 1);
	big[RZ_HOOK_NAME_MAX + 1] = '=';
	big[RZ_HOOK_NAME_MAX + 2] = '\0';
	assert_int_equal(rz_hook_env_check(big, err, sizeof(err)), RZ_EINVAL);
	memcpy(big, "A=", 2);
	memset(big + 2, 'v', RZ_HOOK_ENTRY_MAX - 2);
	big[RZ_HOOK_ENTRY_MAX] = '\0';
	assert_int_equal(rz_hook_env_check(big, err, sizeof(err)), 0);
	big[RZ_HOOK_ENTRY_MAX] = 'v';
	big[RZ_HOOK_ENTRY_MAX + 1] = '\0';
	assert_int_equal(rz_hook_env_check(big, err, sizeof(err)), RZ_EINVAL);
	one[0] = big;
	assert_int_equal(rz_hook_run(cmd, one, 5, &res), RZ_EINVAL);
	free(big);

	/* a name twice, even with the same value; prefixes are not duplicates */
	{
		const char *dup[] = { "A=1", "AB=2", "A=1", NULL };
		const char *prefix[] = { "A=1", "AB=2", "A_=3", NULL };

		unlink(tpath("ran"));
		assert_int_equal(rz_hook_run(cmd, dup, 5, &res), RZ_EINVAL);
		assert_non_null(strstr(res.output, "given twice"));
		assert_int_equal(stat(tpath("ran"), &st), -1);
		assert_int_equal(rz_hook_run(cmd, prefix, 5, &res), 0);
		assert_int_equal(res.status, 0);
	}

	/* at most RZ_HOOK_ENV_MAX entries */
	for (int i = 0; i <= RZ_HOOK_ENV_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "V%d=%d", i, i);
		many[i] = names[i];
	}
	many[RZ_HOOK_ENV_MAX] = NULL;
	assert_int_equal(rz_hook_run(cmd, many, 5, &res), 0);
	many[RZ_HOOK_ENV_MAX] = names[RZ_HOOK_ENV_MAX];
	many[RZ_HOOK_ENV_MAX + 1] = NULL;
	assert_int_equal(rz_hook_run(cmd, many, 5, &res), RZ_EINVAL);

	/* other arguments */
	assert_int_equal(rz_hook_run(NULL, NULL, 5, &res), RZ_EINVAL);
	assert_int_equal(res.status, -1);
	assert_int_equal(rz_hook_run(cmd, NULL, 5, NULL), RZ_EINVAL);
	assert_int_equal(rz_hook_run(cmd, NULL, 0, &res), RZ_EINVAL);
	assert_int_equal(rz_hook_run(cmd, NULL, RZ_HOOK_TIMEOUT_MAX + 1, &res), RZ_EINVAL);
	unlink(tpath("ran"));
	assert_no_child();
}

/* Runs from several threads at once: each gets its own status, on time. */
struct par {
	int n;
	int ret;
	struct rz_hook_result res;
};

static void *par_run(void *arg)
{
	struct par *p = arg;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "echo thread %d; sleep 0.3; exit %d", p->n, p->n);
	p->ret = rz_hook_run(cmd, NULL, 5, &p->res);
	return NULL;
}

static void test_parallel(void **state)
{
	struct par p[4];
	pthread_t t[4];
	struct timespec t0;
	double secs;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++) {
		p[i].n = 10 + i;
		assert_int_equal(pthread_create(&t[i], NULL, par_run, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		char want[32];

		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(p[i].ret, 0);
		assert_int_equal(p[i].res.status, 10 + i);
		snprintf(want, sizeof(want), "thread %d\n", 10 + i);
		assert_string_equal(p[i].res.output, want);
	}
	secs = since(&t0);
	print_message("    4 hooks of 0.3 s in parallel: %.3f s\n", secs);
	assert_true(secs < 1.5);
	assert_no_child();
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/rz_hook.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	(void)state;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			unlink(tpath(de->d_name));
	if (d != NULL)
		closedir(d);
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout_output_closed),
		cmocka_unit_test(test_timeout_term_ignored),
		cmocka_unit_test(test_stray_holding_pipe),
		cmocka_unit_test(test_stray_output_closed),
		cmocka_unit_test(test_stray_term_ignored),
		cmocka_unit_test(test_drain_late_output),
		cmocka_unit_test(test_box),
		cmocka_unit_test(test_status_output),
		cmocka_unit_test(test_output_cut),
		cmocka_unit_test(test_env_refused),
		cmocka_unit_test(test_parallel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
