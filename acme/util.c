/* util.c - the small helpers of acme/util.h: messages, key files, JSON, fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "acme/util.h"
#include "acme/acme_err.h"

#define KEYFILE_MAX (64 * 1024)          /* a PEM key is far smaller */

void acme_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int acme_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int acme_key_file_read(const char *what, const char *path, EVP_PKEY **key,
                       char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int fd, ret;

	*key = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = errno == ENOENT ? ACME_ENOENT : ACME_EIO;
		acme_seterr(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return ret;
	}
	ret = ACME_EIO;
	if (fstat(fd, &st) != 0) {
		acme_seterr(err, errlen, "%s %s: %s", what, path, strerror(errno));
		goto out;
	}
	ret = ACME_EPERM;
	if (!S_ISREG(st.st_mode)) {
		acme_seterr(err, errlen, "%s %s: not a regular file", what, path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		acme_seterr(err, errlen, "%s %s: mode %04o gives group/others access; refusing "
		            "it (chmod 600)", what, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	ret = ACME_ETOOLONG;
	if (st.st_size > KEYFILE_MAX) {
		acme_seterr(err, errlen, "%s %s: file too large", what, path);
		goto out;
	}
	ret = ACME_ENOMEM;
	if ((buf = malloc(KEYFILE_MAX + 1)) == NULL)
		goto out;
	for (;;) {
		ssize_t r = read(fd, buf + len, KEYFILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = ACME_EIO;
			acme_seterr(err, errlen, "%s %s: %s", what, path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > KEYFILE_MAX) {
			ret = ACME_ETOOLONG;
			acme_seterr(err, errlen, "%s %s: file too large", what, path);
			goto out;
		}
	}
	ret = ACME_ENOMEM;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto out;
	ret = ACME_ESYNTAX;
	*key = PEM_read_bio_PrivateKey(bio, NULL, acme_no_passphrase, NULL);
	if (*key == NULL) {
		acme_seterr(err, errlen, "%s %s: not an unencrypted PEM private key", what, path);
		goto out;
	}
	ret = 0;
out:
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	close(fd);
	return ret;
}

int acme_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ACME_EIO;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int acme_fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, ret = ACME_EIO;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return ACME_ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fsync(fd) == 0)
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

int acme_json_load(const char *body, size_t len, size_t max, json_t **out)
{
	json_error_t jerr;

	*out = NULL;
	if (body == NULL)
		return ACME_EINVAL;
	if (len > max)
		return ACME_ETOOLONG;
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL)
		return json_error_code(&jerr) == json_error_out_of_memory ? ACME_ENOMEM : ACME_ESYNTAX;
	return 0;
}

/* The temporary file of acme_key_file_write(): pem written, synced and
 * closed.  0, or ACME_EIO with err (and no file left). */
static int key_tmp_write(const char *what, const char *path, char *tmp, const char *pem,
                         size_t len, char *err, size_t errlen)
{
	/* mkostemp opens with O_CREAT|O_EXCL and mode 0600. */
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0) {
		acme_seterr(err, errlen, "%s %s: cannot create a temporary file: %s", what, path,
		            strerror(errno));
		return ACME_EIO;
	}
	if (fchmod(fd, 0600) != 0 || acme_write_all(fd, pem, len) != 0 || fsync(fd) != 0) {
		acme_seterr(err, errlen, "%s %s: writing %s: %s", what, path, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return ACME_EIO;
	}
	if (close(fd) != 0) {
		acme_seterr(err, errlen, "%s %s: writing %s: %s", what, path, tmp, strerror(errno));
		unlink(tmp);
		return ACME_EIO;
	}
	return 0;
}

int acme_key_file_write(const char *what, const char *path, EVP_PKEY *k, bool replace,
                        char *err, size_t errlen)
{
	BIO *mem = NULL;
	char *tmp = NULL, *pem = NULL;
	bool made = false;
	long len;
	int ret = ACME_ENOMEM;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		goto out;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	ret = ACME_EIO;
	if (PEM_write_bio_PrivateKey(mem, k, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(mem, &pem)) <= 0) {
		acme_seterr(err, errlen, "%s %s: PEM encoding failed", what, path);
		goto out;
	}
	if ((ret = key_tmp_write(what, path, tmp, pem, (size_t)len, err, errlen)) != 0)
		goto out;
	made = true;
	if ((replace ? rename(tmp, path) : link(tmp, path)) != 0) {
		ret = !replace && errno == EEXIST ? ACME_EEXIST : ACME_EIO;
		acme_seterr(err, errlen, "%s %s: cannot create it: %s", what, path, strerror(errno));
		goto out;
	}
	made = !replace;   /* renamed: the temporary name is gone */
	if (acme_fsync_dir_of(path) != 0) {
		ret = ACME_EIO;
		acme_seterr(err, errlen, "%s %s: fsync of its directory: %s", what, path,
		            strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (made)
		unlink(tmp);
	free(tmp);
	BIO_free_all(mem);   /* BUF_MEM_free() clears the PEM text */
	return ret;
}
