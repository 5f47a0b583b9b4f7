/*
 * log.c - the log lines of log.h.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/log.h"

static atomic_int log_max = RZ_LOG_INFO;   /* set by a reload while threads log */

void rz_log_set_level(enum rz_log_level max)
{
	atomic_store(&log_max, (int)max);
}

static void log_v(enum rz_log_level lvl, const char *zone, const char *fmt, va_list ap)
{
	static const char *const names[8] = { "", "", "", "error", "warning", "", "info", "debug" };
	char msg[2048];

	if ((int)lvl > atomic_load(&log_max))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *c = msg; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	/* One write per line so concurrent threads do not interleave. */
	if (zone != NULL)
		fprintf(stderr, "<%d>%s: [%s] %s\n", (int)lvl, names[lvl], zone, msg);
	else
		fprintf(stderr, "<%d>%s: %s\n", (int)lvl, names[lvl], msg);
}

void rz_log(enum rz_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(lvl, NULL, fmt, ap);
	va_end(ap);
}

void rz_log_zone(enum rz_log_level lvl, const char *zone, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(lvl, zone, fmt, ap);
	va_end(ap);
}
