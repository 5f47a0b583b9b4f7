/*
 * util.h - small helpers the acme/ files share.
 */
#ifndef ACME_UTIL_H
#define ACME_UTIL_H

#include <stddef.h>

/* printf into err (NULL or errlen 0: nothing). */
void acme_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* OpenSSL pem_password_cb that refuses: reading a key never prompts. */
int acme_no_passphrase(char *buf, int size, int rwflag, void *u);

#endif
