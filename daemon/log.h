/*
 * log.h - levelled logging to stderr, one line per message (journald reads
 * the "<N>" priority prefix when REGZONE_LOG_PREFIX is set by the unit).
 * Never pass key material or whole JWS bodies to these functions.
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
