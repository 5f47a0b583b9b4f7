/*
 * zg_err.h - the error codes of zonegen.
 *
 * Every zonegen function that can fail returns 0 on success or one of the
 * negative ZG_E* codes below (zg_psl_alabel() returns a length instead of
 * 0); zg_strerror() gives the fixed text for a code.  Details (which label,
 * which server) go into the caller's message buffer where a function takes
 * one, never into global state.
 *
 * The values are fixed: a program may fold them into a wider error space
 * of its own that uses the same numbers (regzone's RZ_E* codes do), which
 * is why some numbers in the range are not zonegen codes.
 */
#ifndef ZONEGEN_ZG_ERR_H
#define ZONEGEN_ZG_ERR_H

#include <stddef.h>

enum zg_err {
	ZG_EOK = 0,
	ZG_ENOMEM = -1,      /* out of memory */
	ZG_EINVAL = -2,      /* invalid argument */
	ZG_EIO = -3,         /* I/O error: a file, a socket, a server's reply */
	ZG_ESYNTAX = -4,     /* syntax error in input */
	ZG_EDNAME = -5,      /* invalid domain name */
	ZG_ENOENT = -6,      /* no such object (type name, zone, file, record) */
	ZG_ERANGE = -7,      /* more than fits (records, names) */
	/* -8, -9: not zonegen codes */
	ZG_EPARAM = -10,     /* bad or missing profile parameter */
	ZG_ETOOLONG = -11,   /* value too long */
	/* -12, -13: not zonegen codes */
	ZG_EKNOT = -14,      /* Knot refused a control operation */
	ZG_EBUSY = -15,      /* resource busy (a zone transaction is open) */
	ZG_ECONFLICT = -16,  /* a customer's records clash with ours */
	ZG_EAGAIN = -17,     /* not served yet: ask again later */
	/* -18 .. -21: not zonegen codes */
	ZG_ENOZONE = -22,    /* knotd does not serve that zone */
	ZG_E__MIN = -23      /* sentinel: codes are > ZG_E__MIN */
};

/* Fixed text for a ZG_E* code; "unknown error" for any other value
 * (a positive one, one not above ZG_E__MIN, a number zonegen does not
 * use).  Never NULL; the text is static. */
const char *zg_strerror(int code);

/* Format a message into err (when err is not NULL and errlen > 0) and
 * return code: the one way zonegen fills its callers' message buffers. */
int zg_fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
