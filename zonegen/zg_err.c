/*
 * zg_err.c - the text of each zonegen error code (zg_err.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>

#include "zonegen/zg_err.h"

/* Indexed by -code; the numbers zonegen does not use stay NULL. */
static const char *const zg_err_text[-ZG_E__MIN] = {
	[-ZG_EOK] = "ok",
	[-ZG_ENOMEM] = "out of memory",
	[-ZG_EINVAL] = "invalid argument",
	[-ZG_EIO] = "I/O error",
	[-ZG_ESYNTAX] = "syntax error",
	[-ZG_EDNAME] = "invalid domain name",
	[-ZG_ENOENT] = "not found",
	[-ZG_ERANGE] = "value out of range",
	[-ZG_EPARAM] = "bad profile parameter",
	[-ZG_ETOOLONG] = "value too long",
	[-ZG_EKNOT] = "Knot refused the operation",
	[-ZG_EBUSY] = "busy",
	[-ZG_ECONFLICT] = "conflicting records",
	[-ZG_EAGAIN] = "not served yet",
	[-ZG_ENOZONE] = "zone not served",
};

const char *zg_strerror(int code)
{
	if (code > 0 || code <= ZG_E__MIN || zg_err_text[-code] == NULL)
		return "unknown error";
	return zg_err_text[-code];
}

int zg_fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}
