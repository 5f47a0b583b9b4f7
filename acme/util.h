/*
 * util.h - small helpers the acme/ files share.
 */
#ifndef ACME_UTIL_H
#define ACME_UTIL_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

/* printf into err (NULL or errlen 0: nothing). */
void acme_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* OpenSSL pem_password_cb that refuses: reading a key never prompts. */
int acme_no_passphrase(char *buf, int size, int rwflag, void *u);

/*
 * Read the unencrypted PEM private key at path into *key.  The file must
 * be a regular file no larger than 64 KiB and closed to group and others
 * (mode 0600 or stricter).  Errors say "WHAT PATH: why": RZ_ENOENT,
 * RZ_EIO, RZ_EPERM (type or mode), RZ_ETOOLONG, RZ_ESYNTAX (not such a
 * key), RZ_ENOMEM.  The bytes read are cleansed.
 */
int acme_key_file_read(const char *what, const char *path, EVP_PKEY **key,
                       char *err, size_t errlen);

/* Parse body[0..len) as one JSON value, duplicate keys refused, into *out:
 * 0, RZ_EINVAL (body NULL), RZ_ETOOLONG (len > max), RZ_ENOMEM or
 * RZ_ESYNTAX. */
int acme_json_load(const char *body, size_t len, size_t max, json_t **out);

/* write() all of buf, retrying EINTR: 0 or RZ_EIO. */
int acme_write_all(int fd, const char *buf, size_t len);

/* fsync() the directory holding path (after a link or rename): 0, RZ_EIO
 * or RZ_ENOMEM. */
int acme_fsync_dir_of(const char *path);

#endif
