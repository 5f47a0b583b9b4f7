/*
 * util.h - small helpers the acme/ files share.
 */
#ifndef ACME_UTIL_H
#define ACME_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "acme/acme_err.h"

/* printf into err (NULL or errlen 0: nothing). */
void acme_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* OpenSSL pem_password_cb that refuses: reading a key never prompts. */
int acme_no_passphrase(char *buf, int size, int rwflag, void *u);

/*
 * Read the unencrypted PEM private key at path into *key.  The file must
 * be a regular file no larger than 64 KiB and closed to group and others
 * (mode 0600 or stricter).  Errors say "WHAT PATH: why": ACME_ENOENT,
 * ACME_EIO, ACME_EPERM (type or mode), ACME_ETOOLONG, ACME_ESYNTAX (not such a
 * key), ACME_ENOMEM.  The bytes read are cleansed.
 */
ACME_MUSTCHECK
int acme_key_file_read(const char *what, const char *path, EVP_PKEY **key,
                       char *err, size_t errlen);

/*
 * Write private key k (PKCS#8 PEM, unencrypted) to path: a temporary file
 * in the same directory (O_EXCL, mode 0600), fsync, then link() (replace
 * false: ACME_EEXIST when path exists, a key is never replaced) or
 * rename() over path (replace true: a reader sees the old file or the new
 * one, never a partial one), then fsync of the directory.  Errors say
 * "WHAT PATH: why": ACME_EIO, ACME_EEXIST, ACME_ENOMEM.  The PEM text is
 * cleansed.
 */
ACME_MUSTCHECK
int acme_key_file_write(const char *what, const char *path, EVP_PKEY *k, bool replace,
                        char *err, size_t errlen);

/* Parse body[0..len) as one JSON value, duplicate keys refused, into *out:
 * 0, ACME_EINVAL (body NULL), ACME_ETOOLONG (len > max), ACME_ENOMEM or
 * ACME_ESYNTAX. */
ACME_MUSTCHECK
int acme_json_load(const char *body, size_t len, size_t max, json_t **out);

/* write() all of buf, retrying EINTR: 0 or ACME_EIO. */
ACME_MUSTCHECK
int acme_write_all(int fd, const char *buf, size_t len);

/* fsync() the directory holding path (after a link or rename): 0, ACME_EIO
 * or ACME_ENOMEM. */
ACME_MUSTCHECK
int acme_fsync_dir_of(const char *path);

#endif
