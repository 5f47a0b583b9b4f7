/*
 * rz_err.h - the one error space of regzone.
 *
 * Every function that can fail returns 0 on success or one of the negative
 * RZ_E* codes below; rz_strerror() gives the fixed text for a code.  Details
 * (which key, which label) go into the caller's message buffer, never into
 * global state.
 */
#ifndef RZ_ERR_H
#define RZ_ERR_H

enum rz_err {
	RZ_EOK = 0,
	RZ_ENOMEM = -1,      /* out of memory */
	RZ_EINVAL = -2,      /* invalid argument */
	RZ_EIO = -3,         /* I/O error (errno kept by the caller) */
	RZ_ESYNTAX = -4,     /* syntax error in input */
	RZ_EDNAME = -5,      /* invalid domain name */
	RZ_ENOENT = -6,      /* no such object (profile, parameter, file) */
	RZ_ERANGE = -7,      /* value out of range */
	RZ_ETYPE = -8,       /* value of the wrong type */
	RZ_ECONFIG = -9,     /* configuration error */
	RZ_EPARAM = -10,     /* bad or missing profile parameter */
	RZ_ETOOLONG = -11,   /* value too long */
	RZ_EDB = -12,        /* database error */
	RZ_EEXIST = -13,     /* already exists */
	RZ_EKNOT = -14,      /* Knot refused a control operation */
	RZ_EBUSY = -15,      /* resource busy (a zone transaction is open) */
	RZ_ECONFLICT = -16,  /* a customer's records clash with ours */
	RZ_EAGAIN = -17,     /* not served yet: ask again later */
	RZ_EACME = -18,      /* the ACME CA refused (problem document) */
	RZ_EPROTO = -19,     /* malformed reply from a server */
	RZ_ETLS = -20,       /* TLS failure (certificate verification) */
	RZ_EPERM = -21,      /* unsafe permissions (a key readable by others) */
	RZ_ENOZONE = -22,    /* knotd does not serve that zone */
	RZ_E__MIN = -23      /* sentinel: codes are > RZ_E__MIN */
};

/* Fixed text for an RZ_E* code; never NULL. */
const char *rz_strerror(int code);

/* On a function whose result must not be ignored: a failure would go
 * unnoticed.  GCC warns (an error under -Werror) even through a (void)
 * cast. */
#define RZ_MUSTCHECK __attribute__((warn_unused_result))

#endif
