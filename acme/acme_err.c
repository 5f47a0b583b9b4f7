/* acme_err.c - the texts of the ACME_E* codes. */
#include <stddef.h>

#include "acme/acme_err.h"

static const char *const err_text[-ACME_E__MIN] = {
	[-ACME_EOK] = "ok",
	[-ACME_ENOMEM] = "out of memory",
	[-ACME_EINVAL] = "invalid argument",
	[-ACME_EIO] = "I/O error",
	[-ACME_ESYNTAX] = "syntax error",
	[-ACME_EDNAME] = "invalid domain name",
	[-ACME_ENOENT] = "not found",
	[-ACME_ERANGE] = "value out of range",
	[-ACME_ETYPE] = "wrong type",
	[-ACME_ECONFIG] = "configuration error",
	[-ACME_ETOOLONG] = "value too long",
	[-ACME_EEXIST] = "already exists",
	[-ACME_ECONFLICT] = "conflicting values",
	[-ACME_EAGAIN] = "not served yet",
	[-ACME_EACME] = "the CA refused the request",
	[-ACME_EPROTO] = "malformed reply",
	[-ACME_ETLS] = "TLS failure",
	[-ACME_EPERM] = "unsafe permissions",
};

const char *acme_strerror(int code)
{
	if (code > 0 || code <= ACME_E__MIN || err_text[-code] == NULL)
		return "unknown error";
	return err_text[-code];
}
