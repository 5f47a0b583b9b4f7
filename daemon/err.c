#include "daemon/rz_err.h"

static const char *const rz_err_text[] = {
	[0] = "ok",
	[1] = "out of memory",
	[2] = "invalid argument",
	[3] = "I/O error",
	[4] = "syntax error",
	[5] = "invalid domain name",
	[6] = "not found",
	[7] = "value out of range",
	[8] = "wrong type",
	[9] = "configuration error",
	[10] = "bad profile parameter",
	[11] = "value too long",
	[12] = "database error",
	[13] = "already exists",
	[14] = "Knot refused the operation",
	[15] = "busy",
	[16] = "conflicting records",
	[17] = "not served yet",
	[18] = "the CA refused the request",
	[19] = "malformed reply",
	[20] = "TLS failure",
	[21] = "unsafe permissions",
};

const char *rz_strerror(int code)
{
	if (code > 0 || code <= RZ_E__MIN)
		return "unknown error";
	return rz_err_text[-code];
}
