/*
 * hook.c - the deploy hook in its box (contract in hook.h).
 *
 * Before fork(): argv and envp built, /dev/null and the pipe opened
 * close-on-exec (and moved above fd 2), every signal blocked in the
 * calling thread so that no handler of the daemon's runs in the child.
 * Between fork() and execve() the child makes async-signal-safe calls
 * only: sigaction, setpgid, dup2, close_range/close, sigprocmask, execve,
 * write, _exit.
 *
 * The parent polls the pipe and a pidfd of the child (a TICK_MS step
 * where pidfd_open() is missing) against the deadline.  It learns of the
 * child's exit with waitid(WNOWAIT) and reaps it only after its group has
 * been sent the last SIGKILL: while the child is a zombie its pid, the
 * group's id, cannot be given to another process, so kill(-pid) reaches
 * the hook's processes and no others.  Members of the group are counted
 * from /proc/PID/stat (the pgrp field), zombies left out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/hook.h"
#include "daemon/rz_err.h"

#define TICK_MS 20            /* poll step without a pidfd, and between group counts */
#define NOTE_ROOM 160         /* bytes of output kept for our notes */
#define READS_PER_TURN 16     /* reads of the pipe before looking at the clock again */
#define PF_EXITING 0x4        /* the kernel's task flag, in /proc/PID/stat */

/* What the child needs, all of it ready before fork(). */
struct spawn {
	char **argv;
	char **envp;
	int nul;              /* /dev/null, above 2 */
	int wfd;              /* the pipe's write end, above 2 */
	int maxfd;            /* bound of the close() loop where close_range() fails */
	struct sigaction dfl;
	sigset_t none;
};

/* The parent's view of one run. */
struct run {
	pid_t pid;            /* the main process; also its group's id */
	int rfd;              /* the pipe's read end (non-blocking), -1 after EOF */
	int pidfd;            /* -1: poll in TICK_MS steps */
	bool exited;          /* the main process has exited (not reaped yet) */
	bool lost;            /* ... and was reaped by someone else (SIGCHLD ignored) */
	size_t used;          /* output bytes */
	bool cut;             /* output was dropped */
	struct rz_hook_result *res;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The syntax of one entry: NAME=[A-Za-z_][A-Za-z0-9_]*, VALUE without
 * control characters, lengths bounded.  0 with *namelen (the bytes before
 * '='), or RZ_EINVAL with the reason in err.  Values are never quoted in
 * err (hook_env may carry secrets).
 */
static int env_syntax(const char *e, size_t *namelen, char *err, size_t errlen)
{
	size_t n = 0, len;

	if (e == NULL) {
		snprintf(err, errlen, "NULL entry");
		return RZ_EINVAL;
	}
	len = strnlen(e, RZ_HOOK_ENTRY_MAX + 1);
	if (len > RZ_HOOK_ENTRY_MAX) {
		snprintf(err, errlen, "entry longer than %d bytes", RZ_HOOK_ENTRY_MAX);
		return RZ_EINVAL;
	}
	while ((e[n] >= 'A' && e[n] <= 'Z') || (e[n] >= 'a' && e[n] <= 'z') || e[n] == '_' ||
	       (n > 0 && e[n] >= '0' && e[n] <= '9'))
		n++;
	if (n == 0 || e[n] != '=') {
		snprintf(err, errlen, "not NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*");
		return RZ_EINVAL;
	}
	if (n > RZ_HOOK_NAME_MAX) {
		snprintf(err, errlen, "name longer than %d bytes", RZ_HOOK_NAME_MAX);
		return RZ_EINVAL;
	}
	for (const unsigned char *v = (const unsigned char *)e + n + 1; *v != '\0'; v++)
		if (*v < 0x20 || *v == 0x7f) {
			snprintf(err, errlen, "%.*s: control character in the value", (int)n, e);
			return RZ_EINVAL;
		}
	*namelen = n;
	return 0;
}

int rz_hook_env_check(const char *entry, char *err, size_t errlen)
{
	char why[256];
	size_t n;

	if (env_syntax(entry, &n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "hook_env: %s", why);
		return RZ_EINVAL;
	}
	if (strncmp(entry, "REGZONE_", 8) == 0) {
		snprintf(err, errlen, "hook_env: %.*s: REGZONE_* names are the daemon's", (int)n, entry);
		return RZ_EINVAL;
	}
	return 0;
}

/* "NAME=" + getenv(NAME) in *out (malloc'ed), dflt when unset or empty,
 * *out NULL when both are.  0 or RZ_ENOMEM. */
static int env_copy(const char *name, const char *dflt, char **out)
{
	const char *v = getenv(name);

	*out = NULL;
	if (v == NULL || v[0] == '\0')
		v = dflt;
	if (v == NULL)
		return 0;
	if (asprintf(out, "%s=%s", name, v) < 0) {
		*out = NULL;
		return RZ_ENOMEM;
	}
	return 0;
}

/*
 * The child's environment: path_e and lang_e (either NULL: none) unless
 * the caller's entries have that name, then the caller's entries, checked.
 * 0 with *out (free() the array only: the strings are the caller's and
 * path_e/lang_e), RZ_EINVAL with the reason in err, or RZ_ENOMEM.
 */
static int env_build(const char *const *env, char *path_e, char *lang_e, char ***out,
                     char *err, size_t errlen)
{
	char why[256];
	char **v = NULL;
	size_t n = 0, k = 0, len[RZ_HOOK_ENV_MAX];
	bool own_path = true, own_lang = true;
	int ret;

	*out = NULL;
	while (env != NULL && env[n] != NULL) {
		if (n == RZ_HOOK_ENV_MAX) {
			snprintf(err, errlen, "hook: more than %d environment entries", RZ_HOOK_ENV_MAX);
			return RZ_EINVAL;
		}
		if ((ret = env_syntax(env[n], &len[n], why, sizeof(why))) != 0) {
			snprintf(err, errlen, "hook: environment entry %zu: %s", n + 1, why);
			return ret;
		}
		for (size_t i = 0; i < n; i++)
			if (len[i] == len[n] && memcmp(env[i], env[n], len[n]) == 0) {
				snprintf(err, errlen, "hook: environment entry %zu: %.*s given twice",
				         n + 1, (int)len[n], env[n]);
				return RZ_EINVAL;
			}
		if (len[n] == 4 && memcmp(env[n], "PATH", 4) == 0)
			own_path = false;
		if (len[n] == 4 && memcmp(env[n], "LANG", 4) == 0)
			own_lang = false;
		n++;
	}
	if ((v = calloc(n + 3, sizeof(*v))) == NULL) {
		snprintf(err, errlen, "hook: out of memory");
		return RZ_ENOMEM;
	}
	if (own_path && path_e != NULL)
		v[k++] = path_e;
	if (own_lang && lang_e != NULL)
		v[k++] = lang_e;
	for (size_t i = 0; i < n; i++)
		v[k++] = (char *)env[i];  /* execve()'s prototype; never written */
	v[k] = NULL;
	*out = v;
	return 0;
}

/* Move *fd above 2 (close-on-exec), so that the child's dup2() onto 0-2
 * never lands on it.  0, or -1 with errno. */
static int fd_above_stdio(int *fd)
{
	int n;

	if (*fd > 2)
		return 0;
	if ((n = fcntl(*fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -1;
	close(*fd);
	*fd = n;
	return 0;
}

/* Where the child's close() loop stops when close_range() fails. */
static int fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (rlim_t)1 << 20)
		return 1 << 20;
	return rl.rlim_cur < 1024 ? 1024 : (int)rl.rlim_cur;
}

/* Async-signal-safe: close every fd from 3 up. */
static void close_from_3(int maxfd)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	if (close_range(3, ~0U, 0) == 0)
		return;
	/* ENOSYS (a kernel before 5.9), or a seccomp filter: the long way */
#endif
	for (int fd = 3; fd < maxfd; fd++)
		(void)close(fd);
}

/* The child, between fork() and execve(): async-signal-safe calls only.
 * Signals are all blocked on entry (the parent's doing) and unblocked
 * last, once every disposition is the default. */
static void __attribute__((noreturn)) child(const struct spawn *sp)
{
	static const char msg[] = "regzone: cannot execute /bin/sh\n";
	ssize_t w;

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)sigaction(s, &sp->dfl, NULL);  /* EINVAL for libc's own: fine */
	if (setpgid(0, 0) != 0 || dup2(sp->nul, 0) != 0 || dup2(sp->wfd, 1) != 1 ||
	    dup2(sp->wfd, 2) != 2)
		_exit(127);
	close_from_3(sp->maxfd);
	if (sigprocmask(SIG_SETMASK, &sp->none, NULL) != 0)
		_exit(127);
	execve("/bin/sh", sp->argv, sp->envp);
	w = write(2, msg, sizeof(msg) - 1);
	(void)w;
	_exit(127);
}

/* A pidfd of the child (close-on-exec), or -1 where the kernel has none. */
static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* Read what the pipe holds now; keep it (cleaned) while there is room,
 * drop the rest (the writer must not block); close the pipe at EOF or on
 * an error. */
static void run_read(struct run *r)
{
	const size_t cap = sizeof(r->res->output) - 1 - NOTE_ROOM;
	char buf[4096];

	for (int i = 0; i < READS_PER_TURN && r->rfd >= 0; i++) {
		ssize_t n = read(r->rfd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			close(r->rfd);
			r->rfd = -1;
			return;
		}
		for (ssize_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)buf[k];

			if (r->used == cap) {
				r->cut = true;
				break;
			}
			r->res->output[r->used++] = (c >= 0x20 && c < 0x7f) || c == '\n' ? (char)c : '?';
		}
		r->res->output[r->used] = '\0';
	}
}

/* Has the main process exited?  Sets r->exited without reaping it. */
static void run_check(struct run *r)
{
	siginfo_t si;

	while (!r->exited) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
			r->exited = si.si_pid == r->pid;
			return;
		}
		if (errno != EINTR) {
			/* ECHILD: reaped behind our back; its group id is no longer ours */
			r->exited = true;
			r->lost = true;
		}
	}
}

/* Wait for output or the main process's exit, until `until` (ms), TICK_MS
 * at most when tick is set or there is no pidfd to wait on; read what
 * came. */
static void run_poll(struct run *r, int64_t until, bool tick)
{
	struct pollfd p[2];
	nfds_t n = 0;
	int64_t left = until - now_ms();

	if (left < 0)
		left = 0;
	if ((tick || (r->pidfd < 0 && !r->exited)) && left > TICK_MS)
		left = TICK_MS;
	if (r->rfd >= 0)
		p[n++] = (struct pollfd){ .fd = r->rfd, .events = POLLIN };
	if (r->pidfd >= 0 && !r->exited)
		p[n++] = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
	if (poll(p, n, (int)left) < 0 && errno != EINTR) {
		struct timespec ts = { 0, TICK_MS * 1000000L };

		nanosleep(&ts, NULL);  /* ENOMEM: do not spin */
		return;
	}
	if (r->rfd >= 0 && p[0].revents != 0)
		run_read(r);
}

/*
 * Members of process group pgid other than pgid itself, zombies not
 * counted, nor with dying set those already on their way out (PF_EXITING
 * in the stat flags: past exit_files(), a process has closed the pipe but
 * is no zombie yet): their number, or -1 when /proc cannot be read.
 */
static int group_count(pid_t pgid, bool dying)
{
	DIR *d = NULL;
	struct dirent *de;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[64], buf[512], state = '?';
		unsigned flags = 0;
		const char *p;
		char *end;
		long pid;
		ssize_t len;
		int fd, pg = 0;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid == (long)pgid)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;  /* gone meanwhile */
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid pgrp session tty tpgid flags ...": comm
		 * may hold ')' and spaces */
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %*d %d %*d %*d %*d %u", &state, &pg, &flags) != 3)
			continue;
		if (pg == (int)pgid && state != 'Z' && state != 'X' && (dying || !(flags & PF_EXITING)))
			n++;
	}
	closedir(d);
	return n;
}

/* Until the main process has exited and no other member of its group is
 * alive (or /proc says nothing), or `until`: true in the first case. */
static bool run_until_dead(struct run *r, int64_t until)
{
	for (;;) {
		run_check(r);
		if (r->lost || (r->exited && group_count(r->pid, true) <= 0))
			return true;
		if (now_ms() >= until)
			return false;
		run_poll(r, until, true);
	}
}

/* Until the main process exits, or `until`. */
static void run_until_exit(struct run *r, int64_t until)
{
	run_check(r);
	while (!r->exited && now_ms() < until) {
		run_poll(r, until, false);
		run_check(r);
	}
}

/* SIGTERM (with SIGCONT, for stopped members) to the group, SIGKILL when
 * it is not all dead after the grace: the name of the last signal sent. */
static const char *group_kill(struct run *r)
{
	(void)kill(-r->pid, SIGTERM);
	(void)kill(-r->pid, SIGCONT);
	if (run_until_dead(r, now_ms() + RZ_HOOK_GRACE_MS))
		return "SIGTERM";
	(void)kill(-r->pid, SIGKILL);
	return "SIGKILL";
}

static void *reaper(void *arg)
{
	pid_t pid = (pid_t)(intptr_t)arg;

	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Reap pid in a detached thread (it outlived SIGKILL): true when started. */
static bool reap_later(pid_t pid)
{
	pthread_attr_t a;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&a) != 0)
		return false;
	(void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &a, reaper, (void *)(intptr_t)pid);
	pthread_attr_destroy(&a);
	return rc == 0;
}

/* Append "[text]" on a line of its own (NOTE_ROOM keeps room for it). */
static void note(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct run *r, const char *fmt, ...)
{
	char *o = r->res->output;
	size_t size = sizeof(r->res->output);
	va_list ap;
	int n;

	if (r->used > 0 && o[r->used - 1] != '\n' && r->used + 1 < size)
		o[r->used++] = '\n';
	if (r->used + 1 < size)
		o[r->used++] = '[';
	va_start(ap, fmt);
	n = vsnprintf(o + r->used, size - r->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->used += (size_t)n < size - r->used ? (size_t)n : size - r->used - 1;
	if (r->used + 1 < size)
		o[r->used++] = ']';
	o[r->used] = '\0';
}

/* From fork() to the reaped child: the bounds of hook.h, the notes. */
static void run_supervise(struct run *r, uint32_t timeout_s)
{
	int64_t until = now_ms() + (int64_t)timeout_s * 1000;
	const char *sig = NULL;
	bool dead = true;
	int ws = 0;

	run_until_exit(r, until);
	if (!r->exited) {
		r->res->timed_out = true;
		sig = group_kill(r);
	} else {
		/* what is still in the pipe; a member of the group may hold it */
		until = now_ms() + RZ_HOOK_DRAIN_MS;
		run_read(r);
		while (r->rfd >= 0 && now_ms() < until)
			run_poll(r, until, false);
		if (!r->lost && group_count(r->pid, false) > 0) {
			r->res->strays_killed = true;
			sig = group_kill(r);
		}
	}
	if (!r->lost) {
		/* whatever is left (or /proc could not tell); the id is still ours */
		(void)kill(-r->pid, SIGKILL);
		dead = run_until_dead(r, now_ms() + RZ_HOOK_KILL_WAIT_MS);
	}
	run_read(r);
	if (r->cut)
		note(r, "output cut");
	if (r->res->timed_out)
		note(r, "timed out after %u s: process group killed with %s", timeout_s, sig);
	else if (r->res->strays_killed)
		note(r, "processes left in the hook's process group killed with %s", sig);
	if (r->exited && !r->lost) {
		pid_t w;

		do
			w = waitpid(r->pid, &ws, WNOHANG);  /* a zombie: at once */
		while (w < 0 && errno == EINTR);
		if (w == r->pid && WIFEXITED(ws))
			r->res->status = WEXITSTATUS(ws);
		else if (w == r->pid && WIFSIGNALED(ws))
			r->res->status = 128 + WTERMSIG(ws);
		if (!dead)
			note(r, "processes of the hook's group still alive after SIGKILL");
	} else if (!r->exited) {
		note(r, "main process still alive after SIGKILL: %s",
		     reap_later(r->pid) ? "reaped later" : "left unreaped");
	}
	if (r->rfd >= 0)
		close(r->rfd);
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->rfd = r->pidfd = -1;
}

int rz_hook_run(const char *command, const char *const *env, uint32_t timeout_s,
                struct rz_hook_result *res)
{
	struct run r = { .pid = -1, .rfd = -1, .pidfd = -1, .res = res };
	struct spawn sp = { .nul = -1, .wfd = -1 };
	char *argv[4] = { NULL };
	char *path_e = NULL, *lang_e = NULL;
	char **envp = NULL;
	sigset_t all, old;
	int pfd[2] = { -1, -1 }, ret, e;
	pid_t pid;

	if (res == NULL)
		return RZ_EINVAL;
	memset(res, 0, sizeof(*res));
	res->status = -1;
	if (command == NULL || timeout_s < 1 || timeout_s > RZ_HOOK_TIMEOUT_MAX) {
		snprintf(res->output, sizeof(res->output), "hook: %s",
		         command == NULL ? "no command" : "timeout out of range");
		return RZ_EINVAL;
	}
	if ((ret = env_copy("PATH", RZ_HOOK_DEFAULT_PATH, &path_e)) != 0 ||
	    (ret = env_copy("LANG", NULL, &lang_e)) != 0) {
		snprintf(res->output, sizeof(res->output), "hook: out of memory");
		goto out;
	}
	if ((ret = env_build(env, path_e, lang_e, &envp, res->output, sizeof(res->output))) != 0)
		goto out;
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = (char *)command;  /* execve()'s prototype; never written */

	ret = RZ_EIO;
	if ((sp.nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || fd_above_stdio(&sp.nul) != 0) {
		snprintf(res->output, sizeof(res->output), "hook: /dev/null: %s", strerror(errno));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0 || fd_above_stdio(&pfd[0]) != 0 ||
	    fd_above_stdio(&pfd[1]) != 0 || fcntl(pfd[0], F_SETFL, O_NONBLOCK) != 0) {
		snprintf(res->output, sizeof(res->output), "hook: pipe: %s", strerror(errno));
		goto out;
	}
	sp.argv = argv;
	sp.envp = envp;
	sp.wfd = pfd[1];
	sp.maxfd = fd_limit();
	sp.dfl.sa_handler = SIG_DFL;
	sigemptyset(&sp.dfl.sa_mask);
	sigemptyset(&sp.none);
	sigfillset(&all);

	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child(&sp);
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		snprintf(res->output, sizeof(res->output), "hook: fork: %s", strerror(e));
		goto out;
	}
	(void)setpgid(pid, pid);  /* EACCES when the child's own call came first and it ran execve */
	r.pid = pid;
	r.rfd = pfd[0];
	pfd[0] = -1;
	close(pfd[1]);
	pfd[1] = -1;
	r.pidfd = pidfd_of(pid);
	run_supervise(&r, timeout_s);
	ret = 0;
out:
	free(envp);
	free(path_e);
	free(lang_e);
	if (sp.nul >= 0)
		close(sp.nul);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return ret;
}

int rz_cloexec_sweep(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int changed = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		int flags;

		if (*end != '\0' || end == e->d_name || fd <= 2 || fd == dirfd(d) ||
		    (flags = fcntl((int)fd, F_GETFD)) < 0 || (flags & FD_CLOEXEC) != 0)
			continue;
		if (fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) == 0)
			changed++;
	}
	closedir(d);
	return changed;
}
