/*
 * log.h - levelled logging to stderr, one line per message.  Each line
 * starts with the syslog priority as "<N>", which journald reads as the
 * level (SyslogLevelPrefix=, on by default) and strips.  Control characters
 * in a message (a newline in a server's reply) are written as '?', so one
 * call is always one line.  Never pass key material or whole JWS bodies to
 * these functions.
 */
#ifndef RZ_LOG_H
#define RZ_LOG_H

enum rz_log_level { RZ_LOG_ERR = 3, RZ_LOG_WARN = 4, RZ_LOG_INFO = 6, RZ_LOG_DEBUG = 7 };

void rz_log_set_level(enum rz_log_level max);
void rz_log(enum rz_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with the zone / domain as context in front of the message. */
void rz_log_zone(enum rz_log_level lvl, const char *zone, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
