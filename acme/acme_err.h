/*
 * acme_err.h - the error codes of the acme/ library.
 *
 * Every acme_ function that can fail returns 0 (or, where its header says
 * so, a non-negative count) on success and one of the negative ACME_E*
 * codes below on failure; acme_strerror() gives a fixed text for a code.
 * Details (which URL, which field) go into the caller's buffer or struct
 * acme_error, never into global state.
 *
 * The numbers are fixed: a program embedding the library may keep an
 * error space of its own in which the same numbers mean the same thing
 * (regzone's does), so a code can be passed on unchanged.  Values absent
 * here (-10, -12, -14, -15) are never returned by acme/.
 */
#ifndef ACME_ERR_H
#define ACME_ERR_H

enum acme_err {
	ACME_EOK = 0,
	ACME_ENOMEM = -1,      /* out of memory */
	ACME_EINVAL = -2,      /* invalid argument */
	ACME_EIO = -3,         /* I/O, network or OpenSSL failure */
	ACME_ESYNTAX = -4,     /* syntax error in input */
	ACME_EDNAME = -5,      /* invalid domain name */
	ACME_ENOENT = -6,      /* no such object (file, field, directory entry) */
	ACME_ERANGE = -7,      /* value out of range */
	ACME_ETYPE = -8,       /* value of the wrong type (JSON, key type) */
	ACME_ECONFIG = -9,     /* the CA needs something not configured (EAB) */
	ACME_ETOOLONG = -11,   /* value or reply too long */
	ACME_EEXIST = -13,     /* already exists */
	ACME_ECONFLICT = -16,  /* does not match (a certificate and its key) */
	ACME_EAGAIN = -17,     /* not ready yet: ask again later */
	ACME_EACME = -18,      /* the ACME CA refused (problem document) */
	ACME_EPROTO = -19,     /* malformed reply from the CA */
	ACME_ETLS = -20,       /* TLS failure (certificate verification) */
	ACME_EPERM = -21,      /* unsafe permissions (a key readable by others) */
	ACME_E__MIN = -22      /* sentinel: every code is > ACME_E__MIN */
};

/* Fixed text for an ACME_E* code; "unknown error" for anything else
 * (positive values, values absent above, <= ACME_E__MIN).  Never NULL. */
const char *acme_strerror(int code);

/* On a function whose result must not be ignored (a failure would go
 * unnoticed).  The compiler warns when a caller drops the result; GCC
 * warns even through a (void) cast. */
#define ACME_MUSTCHECK __attribute__((warn_unused_result))

#endif
