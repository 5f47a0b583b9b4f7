/*
 * err.c - the text of each regzone error code (rz_err.h).
 *
 * zonegen/ and acme/ have error spaces of their own so that they stand
 * without the daemon; their numbers are regzone's, so the daemon passes
 * their codes on unchanged.  The asserts below keep the three in step.
 */
#include <assert.h>
#include <stddef.h>

#include "acme/acme_err.h"
#include "daemon/rz_err.h"
#include "zonegen/zg_err.h"

#define SAME(a, b) static_assert((int)(a) == (int)(b), #a " != " #b)

SAME(ZG_ENOMEM, RZ_ENOMEM);
SAME(ZG_EINVAL, RZ_EINVAL);
SAME(ZG_EIO, RZ_EIO);
SAME(ZG_ESYNTAX, RZ_ESYNTAX);
SAME(ZG_EDNAME, RZ_EDNAME);
SAME(ZG_ENOENT, RZ_ENOENT);
SAME(ZG_ERANGE, RZ_ERANGE);
SAME(ZG_EPARAM, RZ_EPARAM);
SAME(ZG_ETOOLONG, RZ_ETOOLONG);
SAME(ZG_EKNOT, RZ_EKNOT);
SAME(ZG_EBUSY, RZ_EBUSY);
SAME(ZG_ECONFLICT, RZ_ECONFLICT);
SAME(ZG_EAGAIN, RZ_EAGAIN);
SAME(ZG_ENOZONE, RZ_ENOZONE);
SAME(ZG_E__MIN, RZ_E__MIN);

SAME(ACME_ENOMEM, RZ_ENOMEM);
SAME(ACME_EINVAL, RZ_EINVAL);
SAME(ACME_EIO, RZ_EIO);
SAME(ACME_ESYNTAX, RZ_ESYNTAX);
SAME(ACME_EDNAME, RZ_EDNAME);
SAME(ACME_ENOENT, RZ_ENOENT);
SAME(ACME_ERANGE, RZ_ERANGE);
SAME(ACME_ETYPE, RZ_ETYPE);
SAME(ACME_ECONFIG, RZ_ECONFIG);
SAME(ACME_ETOOLONG, RZ_ETOOLONG);
SAME(ACME_EEXIST, RZ_EEXIST);
SAME(ACME_ECONFLICT, RZ_ECONFLICT);
SAME(ACME_EAGAIN, RZ_EAGAIN);
SAME(ACME_EACME, RZ_EACME);
SAME(ACME_EPROTO, RZ_EPROTO);
SAME(ACME_ETLS, RZ_ETLS);
SAME(ACME_EPERM, RZ_EPERM);
static_assert((int)ACME_E__MIN >= (int)RZ_E__MIN, "acme codes outside regzone's range");

static const char *const rz_err_text[-RZ_E__MIN] = {
	[-RZ_EOK] = "ok",
	[-RZ_ENOMEM] = "out of memory",
	[-RZ_EINVAL] = "invalid argument",
	[-RZ_EIO] = "I/O error",
	[-RZ_ESYNTAX] = "syntax error",
	[-RZ_EDNAME] = "invalid domain name",
	[-RZ_ENOENT] = "not found",
	[-RZ_ERANGE] = "value out of range",
	[-RZ_ETYPE] = "wrong type",
	[-RZ_ECONFIG] = "configuration error",
	[-RZ_EPARAM] = "bad profile parameter",
	[-RZ_ETOOLONG] = "value too long",
	[-RZ_EDB] = "database error",
	[-RZ_EEXIST] = "already exists",
	[-RZ_EKNOT] = "Knot refused the operation",
	[-RZ_EBUSY] = "busy",
	[-RZ_ECONFLICT] = "conflicting records",
	[-RZ_EAGAIN] = "not served yet",
	[-RZ_EACME] = "the CA refused the request",
	[-RZ_EPROTO] = "malformed reply",
	[-RZ_ETLS] = "TLS failure",
	[-RZ_EPERM] = "unsafe permissions",
	[-RZ_ENOZONE] = "zone not served",
};

const char *rz_strerror(int code)
{
	if (code > 0 || code <= RZ_E__MIN || rz_err_text[-code] == NULL)
		return "unknown error";
	return rz_err_text[-code];
}
