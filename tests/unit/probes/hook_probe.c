/*
 * hook_probe - what a deploy hook finds when rz_hook_run() starts it
 * (tests/unit/test_hook.c runs it as `exec hook_probe REPORT`).  Writes to
 * REPORT, one item a line:
 *   pgrp-leader 0|1       its process group is its own (pid == pgrp)
 *   std N null|fifo INO|other|closed   what fds 0-2 are
 *   fd N                  each other open fd among 3..1023 (F_GETFD)
 *   blocked N             each signal in its mask
 *   ignored N             each signal whose disposition is SIG_IGN
 *   env NAME=VALUE        each environment entry
 *   end
 * then prints "probe done" on stdout and exits 0; exits 2 when REPORT
 * cannot be written.  The fds are looked at before REPORT is opened.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define FD_TOP 1024

int main(int argc, char **argv)
{
	bool open_fd[FD_TOP] = { false };
	char std[3][64];
	struct stat null_st, st;
	sigset_t mask;
	FILE *f;

	if (argc != 2)
		return 2;
	/* first the fds, before this program opens anything */
	for (int fd = 3; fd < FD_TOP; fd++)
		open_fd[fd] = fcntl(fd, F_GETFD) != -1;
	for (int fd = 0; fd < 3; fd++) {
		if (fstat(fd, &st) != 0)
			snprintf(std[fd], sizeof(std[fd]), "closed");
		else if (S_ISCHR(st.st_mode) && stat("/dev/null", &null_st) == 0 &&
		         st.st_rdev == null_st.st_rdev)
			snprintf(std[fd], sizeof(std[fd]), "null");
		else if (S_ISFIFO(st.st_mode))
			snprintf(std[fd], sizeof(std[fd]), "fifo %llu", (unsigned long long)st.st_ino);
		else
			snprintf(std[fd], sizeof(std[fd]), "other");
	}
	if ((f = fopen(argv[1], "we")) == NULL)
		return 2;
	fprintf(f, "pgrp-leader %d\n", getpgrp() == getpid());
	for (int fd = 0; fd < 3; fd++)
		fprintf(f, "std %d %s\n", fd, std[fd]);
	for (int fd = 3; fd < FD_TOP; fd++)
		if (open_fd[fd])
			fprintf(f, "fd %d\n", fd);
	sigemptyset(&mask);
	if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0)
		fprintf(f, "blocked ?\n");
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigismember(&mask, s) == 1)
			fprintf(f, "blocked %d\n", s);
		if (sigaction(s, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
		    sa.sa_handler == SIG_IGN)
			fprintf(f, "ignored %d\n", s);
	}
	for (char **e = environ; *e != NULL; e++)
		fprintf(f, "env %s\n", *e);
	fprintf(f, "end\n");
	if (fclose(f) != 0)
		return 2;
	printf("probe done\n");
	return 0;
}
