/*
 * hook.h - run the operator's deploy hook in a box: `/bin/sh -c COMMAND`
 * in its own process group, bounded in wall-clock time, with fds 0-2 only,
 * default signal dispositions, an empty signal mask and an allow-listed
 * environment.  Safe to call from any thread of the (multithreaded) daemon;
 * several runs may go on at the same time.
 *
 * The box, in detail:
 *   - stdin is /dev/null; stdout and stderr go to one pipe, and what comes
 *     through it is kept (RZ_HOOK_OUTPUT_MAX, bytes other than printable
 *     ASCII and '\n' replaced by '?');
 *   - every other fd is closed in the child (close_range, or a loop where
 *     the kernel has none), whatever close-on-exec flag it had;
 *   - every signal has its default disposition, none is blocked;
 *   - the environment is PATH (the daemon's, or RZ_HOOK_DEFAULT_PATH when
 *     it is unset or empty), LANG when the daemon has it, and the caller's
 *     entries; nothing else of the daemon's environment;
 *   - at the deadline the whole process group gets SIGTERM (and SIGCONT,
 *     for stopped members), then SIGKILL after RZ_HOOK_GRACE_MS; when the
 *     main process exits in time, the output still in the pipe is read
 *     (RZ_HOOK_DRAIN_MS at most), and members of the group still alive
 *     (a background job, say) get the same SIGTERM, SIGKILL treatment.
 *     The group is sent SIGKILL once more before the main process is
 *     reaped, so its id cannot have been reused by then.
 * A call returns within timeout_s s + RZ_HOOK_DRAIN_MS + RZ_HOOK_GRACE_MS +
 * RZ_HOOK_KILL_WAIT_MS (1.4 s; plus scheduling delays), whatever the hook
 * does.  The process must not ignore SIGCHLD nor reap children it does
 * not know (waitpid(-1)): the child is reaped here, by its pid; were it
 * reaped elsewhere, status is -1 and its group is left alone after it
 * exited (the id could be another's by then).
 *
 * What the box does not hold: a process that leaves the group (setsid(),
 * setpgid()) or changes its user (sudo) before the group is killed
 * survives; so does what it started through another service (systemctl,
 * at).  The hook runs with the daemon's user, rlimits, cgroup, umask and
 * working directory.
 */
#ifndef RZ_HOOK_H
#define RZ_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RZ_HOOK_OUTPUT_MAX 2048     /* sizeof(rz_hook_result.output) */
#define RZ_HOOK_ENV_MAX 64          /* entries a caller may pass */
#define RZ_HOOK_ENTRY_MAX 8192      /* bytes of one NAME=VALUE entry */
#define RZ_HOOK_NAME_MAX 128        /* bytes of one NAME */
#define RZ_HOOK_TIMEOUT_MAX 86400   /* seconds */
#define RZ_HOOK_GRACE_MS 1000       /* SIGTERM to SIGKILL */
#define RZ_HOOK_DRAIN_MS 200        /* pipe read after the main process exited */
#define RZ_HOOK_KILL_WAIT_MS 200    /* after the last SIGKILL, for the group to die */
#define RZ_HOOK_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* How a run ended. */
struct rz_hook_result {
	int status;          /* the main process's exit status (0-255), 128+N when
	                        signal N ended it, -1 when it could not be had */
	bool timed_out;      /* the deadline came first; the group was killed */
	bool strays_killed;  /* the main process exited in time but members of
	                        its group were still alive and were killed */
	/* NUL-terminated: the hook's output (cut when longer), then notes of
	 * ours on their own lines in brackets ("[timed out after 2 s: process
	 * group killed with SIGTERM]", "[output cut]", ...).  When
	 * rz_hook_run() fails, the reason ("hook: ..."). */
	char output[RZ_HOOK_OUTPUT_MAX];
};

/*
 * Run `/bin/sh -c command` in the box above and wait for it, at most
 * timeout_s seconds (1..RZ_HOOK_TIMEOUT_MAX) before its group is killed.
 *
 * in:  command  the shell command (certificates.deploy_hook); not NULL
 *      env      NULL-terminated array of "NAME=VALUE" entries (at most
 *               RZ_HOOK_ENV_MAX; NULL for none): NAME matches
 *               [A-Za-z_][A-Za-z0-9_]* (at most RZ_HOOK_NAME_MAX bytes),
 *               VALUE has no control character (bytes below 0x20, 0x7f:
 *               no newline), the entry at most RZ_HOOK_ENTRY_MAX bytes; no
 *               NAME twice.  A PATH or LANG entry replaces the daemon's.
 *               Only read, and not kept after the call.
 * out: res      filled in every case (see struct rz_hook_result)
 *
 * Returns 0 when the hook ran, whatever its exit status (see res), or
 *   RZ_EINVAL  command or res NULL, timeout_s out of range, a bad or
 *              repeated env entry (res->output says which); nothing ran
 *   RZ_ENOMEM  out of memory; nothing ran
 *   RZ_EIO     /dev/null, the pipe or fork() failed (res->output has
 *              strerror); nothing ran
 * The hook's processes are all dead when the call returns (but for the
 * escapes named above), and the main one reaped; should it outlive
 * SIGKILL (stuck in the kernel), a detached thread reaps it later and
 * res->output says so.
 */
int rz_hook_run(const char *command, const char *const *env, uint32_t timeout_s,
                struct rz_hook_result *res);

/*
 * Check one operator-given environment entry (certificates.hook_env) at
 * configuration load: the syntax rz_hook_run() demands, and a NAME not
 * starting with "REGZONE_" (those are the contract's, which the daemon
 * passes itself: a clash would fail every run).  PATH and LANG are allowed
 * (they replace the daemon's).  Duplicates across entries are the
 * caller's to check.
 *
 * in:  entry   "NAME=VALUE"; NULL is refused
 * out: err     on RZ_EINVAL, a one-line reason ("hook_env: ..."); may be
 *              NULL when errlen is 0
 * Returns 0, or RZ_EINVAL.
 */
int rz_hook_env_check(const char *entry, char *err, size_t errlen);

/*
 * Set close-on-exec on every fd of the process above 2 that lacks it.
 * Libraries open some without it (libknot's control socket, libcurl's
 * socketpairs); the daemon calls this after each cert step so that no fd it
 * holds would reach a program it starts (rz_hook_run() closes them in the
 * child anyway).  Returns how many fds it changed.
 */
int rz_cloexec_sweep(void);

#endif
