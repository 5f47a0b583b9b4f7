/*
 * psl.c - the Public Suffix List: a strict reader, a hash set of rules, the
 * list's matching algorithm, and the RFC 3492 Punycode encoder that turns
 * the list's U-labels into A-labels.
 *
 * Rules live in one open-addressing hash set keyed by the name a rule is
 * about ("uk", "co.uk", "ck" for "*.ck", "www.ck" for "!www.ck"), each key
 * with flags saying which kinds of rule it carries.  Every suffix of a
 * rule's name is a key too (with no flags when it is no rule itself), so a
 * lookup walks the name's suffixes from the right and stops at the first
 * one that is not in the set: no rule can match beyond it.  Keys are hashed
 * from their last byte to their first, so each suffix's hash extends the
 * previous one's.  A suffix key points into its rule's stored name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zonegen/psl.h"
#include "zonegen/zg_err.h"

#define NAME_MAX_LEN  253
#define LABEL_MAX_LEN 63
#define LABELS_MAX    127             /* 253 bytes hold at most 127 labels */

enum {
	F_RULE = 1,        /* "name" */
	F_WILD = 2,        /* "*.name" */
	F_EXCEPT = 4,      /* "!name" */
};

struct ent {
	uint32_t hash;
	uint32_t off;      /* into names */
	uint8_t len;       /* 0: empty slot */
	uint8_t flags;
};

struct zg_psl {
	struct ent *tab;
	size_t cap;        /* a power of two */
	size_t count;      /* used slots */
	char *names;       /* rule names, back to back, no separators */
	size_t used, size;
	size_t rules;
};

/* ------------------------------------------------------------ Punycode */

enum { P_BASE = 36, P_TMIN = 1, P_TMAX = 26, P_SKEW = 38, P_DAMP = 700,
       P_BIAS = 72, P_N = 128 };

static uint32_t adapt(uint32_t delta, uint32_t points, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / P_DAMP : delta / 2;
	delta += delta / points;
	while (delta > ((P_BASE - P_TMIN) * P_TMAX) / 2) {
		delta /= P_BASE - P_TMIN;
		k += P_BASE;
	}
	return k + (P_BASE - P_TMIN + 1) * delta / (delta + P_SKEW);
}

static char digit_char(uint32_t d)
{
	return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

/*
 * RFC 3492 section 6.3 for cp[0..n), appended to out[*len..) without ever
 * passing cap bytes.  Returns 0 or ZG_ETOOLONG.
 */
static int punycode_encode(const uint32_t *cp, size_t n, char *out, size_t *len, size_t cap)
{
	uint32_t cur = P_N, delta = 0, bias = P_BIAS, h, b = 0;

	for (size_t i = 0; i < n; i++) {
		if (cp[i] < 0x80) {
			if (*len >= cap)
				return ZG_ETOOLONG;
			out[(*len)++] = (char)cp[i];
			b++;
		}
	}
	if (b > 0) {
		if (*len >= cap)
			return ZG_ETOOLONG;
		out[(*len)++] = '-';
	}
	h = b;
	while (h < n) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (cp[i] >= cur && cp[i] < m)
				m = cp[i];
		/* n <= 64 code points below 0x110000: no overflow, but check */
		if ((m - cur) > (UINT32_MAX - delta) / (h + 1))
			return ZG_ETOOLONG;
		delta += (m - cur) * (h + 1);
		cur = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < cur && ++delta == 0)
				return ZG_ETOOLONG;
			if (cp[i] != cur)
				continue;
			for (uint32_t q = delta, k = P_BASE;; k += P_BASE) {
				uint32_t t = k <= bias ? P_TMIN : k >= bias + P_TMAX ? P_TMAX : k - bias;

				if (*len >= cap)
					return ZG_ETOOLONG;
				if (q < t) {
					out[(*len)++] = digit_char(q);
					break;
				}
				out[(*len)++] = digit_char(t + (q - t) % (P_BASE - t));
				q = (q - t) / (P_BASE - t);
			}
			bias = adapt(delta, h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		cur++;
	}
	return 0;
}

/* One UTF-8 sequence at s[*i..len) into *cp (RFC 3629: no overlong forms,
 * no surrogates, nothing past U+10FFFF).  false when invalid. */
static bool utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	unsigned char c = s[*i];
	uint32_t v, min;
	size_t extra;

	if (c < 0x80) {
		*cp = c;
		(*i)++;
		return true;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		extra = 1;
		v = c & 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		extra = 2;
		v = c & 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		extra = 3;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return false;
	}
	if (len - *i <= extra)
		return false;
	for (size_t k = 1; k <= extra; k++) {
		unsigned char d = s[*i + k];

		if ((d & 0xC0) != 0x80)
			return false;
		v = (v << 6) | (d & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return false;
	*cp = v;
	*i += extra + 1;
	return true;
}

static bool ldh(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int zg_psl_alabel(const char *label, size_t len, char *out, size_t outlen)
{
	uint32_t cp[LABEL_MAX_LEN + 1];
	char buf[LABEL_MAX_LEN + 1];
	size_t n = 0, i = 0, blen = 0;
	bool ascii = true;
	int rc;

	if (label == NULL || out == NULL)
		return ZG_EINVAL;
	if (len == 0)
		return ZG_ESYNTAX;
	while (i < len) {
		uint32_t c;

		if (n > LABEL_MAX_LEN)
			return ZG_ETOOLONG;   /* every code point costs an output byte */
		if (!utf8_next((const unsigned char *)label, len, &i, &c))
			return ZG_ESYNTAX;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c < 0x80 ? !ldh(c) : c < 0xA0)
			return ZG_ESYNTAX;
		if (c >= 0x80)
			ascii = false;
		cp[n++] = c;
	}
	if (n > LABEL_MAX_LEN)
		return ZG_ETOOLONG;
	if (cp[0] == '-' || cp[n - 1] == '-')
		return ZG_ESYNTAX;
	if (ascii) {
		for (size_t k = 0; k < n; k++)
			buf[blen++] = (char)cp[k];
	} else {
		memcpy(buf, "xn--", 4);
		blen = 4;
		if ((rc = punycode_encode(cp, n, buf, &blen, LABEL_MAX_LEN)) < 0)
			return rc;
	}
	if (outlen <= blen)
		return ZG_ETOOLONG;
	memcpy(out, buf, blen);
	out[blen] = '\0';
	return (int)blen;
}

/* ------------------------------------------------------------ hash set */

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

static uint32_t fnv_byte(uint32_t h, unsigned char c)
{
	return (h ^ c) * FNV_PRIME;
}

/* The hash of s[from..to) hashed backwards, continuing h. */
static uint32_t hash_back(uint32_t h, const char *s, size_t from, size_t to)
{
	while (to > from)
		h = fnv_byte(h, (unsigned char)s[--to]);
	return h;
}

static struct ent *find(const struct zg_psl *p, const char *s, size_t len, uint32_t h)
{
	for (size_t i = h & (p->cap - 1);; i = (i + 1) & (p->cap - 1)) {
		struct ent *e = &p->tab[i];

		if (e->len == 0)
			return NULL;
		if (e->hash == h && e->len == len && memcmp(p->names + e->off, s, len) == 0)
			return e;
	}
}

static int grow(struct zg_psl *p)
{
	size_t cap = p->cap * 2;
	struct ent *tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return ZG_ENOMEM;
	for (size_t i = 0; i < p->cap; i++) {
		size_t k;

		if (p->tab[i].len == 0)
			continue;
		for (k = p->tab[i].hash & (cap - 1); tab[k].len != 0; k = (k + 1) & (cap - 1))
			;
		tab[k] = p->tab[i];
	}
	free(p->tab);
	p->tab = tab;
	p->cap = cap;
	return 0;
}

/* Add the rule name key[0..len) with flags, and every suffix of it. */
static int insert(struct zg_psl *p, const char *key, size_t len, uint8_t flags)
{
	size_t off = p->used, i = len;
	uint32_t h = FNV_OFFSET;
	bool stored = false;

	if (p->size - p->used < len) {
		size_t size = p->size * 2 > p->used + len ? p->size * 2 : p->used + len;
		char *names = realloc(p->names, size);

		if (names == NULL)
			return ZG_ENOMEM;
		p->names = names;
		p->size = size;
	}
	memcpy(p->names + off, key, len);
	for (;;) {
		size_t j = i;
		struct ent *e;

		while (j > 0 && key[j - 1] != '.')
			j--;
		h = hash_back(h, key, j, i);
		if ((e = find(p, key + j, len - j, h)) == NULL) {
			size_t k;

			if ((p->count + 1) * 2 > p->cap && grow(p) < 0)
				return ZG_ENOMEM;
			for (k = h & (p->cap - 1); p->tab[k].len != 0; k = (k + 1) & (p->cap - 1))
				;
			e = &p->tab[k];
			e->hash = h;
			e->off = (uint32_t)(off + j);
			e->len = (uint8_t)(len - j);
			e->flags = 0;
			p->count++;
			stored = true;
		}
		if (j == 0) {
			e->flags |= flags;
			break;
		}
		h = fnv_byte(h, '.');
		i = j - 1;
	}
	if (stored)
		p->used += len;
	return 0;
}

/* ------------------------------------------------------------ reader */

/* Fit to be echoed in a message: valid UTF-8 without control characters. */
static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t c;

		if (!utf8_next((const unsigned char *)s, n, &i, &c) || c < 0x20 ||
		    (c >= 0x7f && c < 0xa0))
			return false;
	}
	return true;
}

/* One rule r[0..n) (no whitespace in it) of line lineno. */
static int parse_rule(struct zg_psl *p, const char *r, size_t n, const char *what,
                      size_t lineno, char *err, size_t errlen)
{
	char key[NAME_MAX_LEN + 1];
	const char *why = NULL, *s = r;
	size_t klen = 0, labels = 0, i = 0, len = n;
	uint8_t flags = F_RULE;
	int rc = ZG_ESYNTAX;

	if (n == 1 && r[0] == '*') {
		p->rules++;    /* the implicit default, said out loud */
		return 0;
	}
	if (s[0] == '!') {
		flags = F_EXCEPT;
		s++;
		len--;
	} else if (len >= 2 && s[0] == '*' && s[1] == '.') {
		flags = F_WILD;
		s += 2;
		len -= 2;
	}
	while (why == NULL) {
		char lab[LABEL_MAX_LEN + 1];
		size_t j = i;
		int l;

		while (j < len && s[j] != '.')
			j++;
		if (j == i) {
			why = "empty label (a leading, trailing or double dot)";
			break;
		}
		if (memchr(s + i, '*', j - i) != NULL) {
			why = "'*' is allowed only as the whole leftmost label";
			break;
		}
		if (memchr(s + i, '!', j - i) != NULL) {
			why = "'!' is allowed only in front of a rule";
			break;
		}
		l = zg_psl_alabel(s + i, j - i, lab, sizeof(lab));
		if (l == ZG_ETOOLONG) {
			rc = ZG_ETOOLONG;
			why = "label longer than 63 bytes (as an A-label)";
			break;
		}
		if (l < 0) {
			why = "invalid label: letters, digits, hyphens (not first or last) "
			      "or UTF-8 non-ASCII characters";
			break;
		}
		if (klen + (klen > 0) + (size_t)l > NAME_MAX_LEN) {
			rc = ZG_ETOOLONG;
			why = "rule longer than 253 bytes (as A-labels)";
			break;
		}
		if (klen > 0)
			key[klen++] = '.';
		memcpy(key + klen, lab, (size_t)l);
		klen += (size_t)l;
		labels++;
		if (j == len)
			break;
		i = j + 1;
	}
	if (why == NULL && flags == F_EXCEPT && labels < 2)
		why = "an exception rule needs at least two labels";
	if (why != NULL) {
		if (printable(r, n))
			return zg_fail(rc, err, errlen, "%s:%zu: rule '%.*s': %s", what, lineno, (int)n, r,
			            why);
		return zg_fail(rc, err, errlen, "%s:%zu: %s", what, lineno, why);
	}
	if ((rc = insert(p, key, klen, flags)) < 0)
		return zg_fail(rc, err, errlen, "%s: out of memory", what);
	p->rules++;
	return 0;
}

int zg_psl_parse(const char *text, size_t len, const char *what, struct zg_psl **out,
                 char *err, size_t errlen)
{
	struct zg_psl *p = NULL;
	size_t pos = 0, lineno = 0;
	int rc = ZG_EINVAL;

	if (what == NULL)
		what = "psl";
	if (out == NULL || (text == NULL && len > 0)) {
		rc = zg_fail(ZG_EINVAL, err, errlen, "%s: missing argument", what);
		goto out;
	}
	*out = NULL;
	if (len > ZG_PSL_MAX_BYTES) {
		rc = zg_fail(ZG_ETOOLONG, err, errlen, "%s: larger than %u bytes", what,
		          ZG_PSL_MAX_BYTES);
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) != NULL) {
		p->cap = 1024;
		p->size = 4096;
		p->tab = calloc(p->cap, sizeof(*p->tab));
		p->names = malloc(p->size);
	}
	if (p == NULL || p->tab == NULL || p->names == NULL) {
		rc = zg_fail(ZG_ENOMEM, err, errlen, "%s: out of memory", what);
		goto out;
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - pos, i = 0, r;

		pos += n + (nl != NULL);
		lineno++;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > ZG_PSL_LINE_MAX) {
			rc = zg_fail(ZG_ETOOLONG, err, errlen, "%s:%zu: line longer than %d bytes", what,
			          lineno, ZG_PSL_LINE_MAX);
			goto out;
		}
		if (memchr(line, '\0', n) != NULL) {
			rc = zg_fail(ZG_ESYNTAX, err, errlen, "%s:%zu: NUL byte", what, lineno);
			goto out;
		}
		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == n || (n - i >= 2 && line[i] == '/' && line[i + 1] == '/'))
			continue;
		for (r = i; r < n && line[r] != ' ' && line[r] != '\t' && line[r] != '\r'; r++)
			;
		if ((rc = parse_rule(p, line + i, r - i, what, lineno, err, errlen)) < 0)
			goto out;
	}
	if (p->rules == 0) {
		rc = zg_fail(ZG_ESYNTAX, err, errlen, "%s: no rules", what);
		goto out;
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	zg_psl_free(p);
	return rc;
}

int zg_psl_load(const char *path, struct zg_psl **out, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, size;
	int fd = -1, rc = ZG_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (path == NULL || out == NULL) {
		rc = zg_fail(ZG_EINVAL, err, errlen, "psl: missing argument");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = zg_fail(errno == ENOENT ? ZG_ENOENT : ZG_EIO, err, errlen, "%s: %s", path,
		          strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = zg_fail(ZG_EIO, err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = zg_fail(ZG_EIO, err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)ZG_PSL_MAX_BYTES) {
		rc = zg_fail(ZG_ETOOLONG, err, errlen, "%s: larger than %u bytes", path,
		          ZG_PSL_MAX_BYTES);
		goto out;
	}
	/* one byte more than the file, to see it end (or grow) */
	size = (size_t)st.st_size + 1;
	if ((buf = malloc(size)) == NULL) {
		rc = zg_fail(ZG_ENOMEM, err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		ssize_t got;

		if (len == size) {
			char *b;

			if (size > ZG_PSL_MAX_BYTES) {
				rc = zg_fail(ZG_ETOOLONG, err, errlen, "%s: larger than %u bytes", path,
				          ZG_PSL_MAX_BYTES);
				goto out;
			}
			size = size * 2 > ZG_PSL_MAX_BYTES + 1 ? ZG_PSL_MAX_BYTES + 1 : size * 2;
			if ((b = realloc(buf, size)) == NULL) {
				rc = zg_fail(ZG_ENOMEM, err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = b;
		}
		got = read(fd, buf + len, size - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = zg_fail(ZG_EIO, err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	rc = zg_psl_parse(buf, len, path, out, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

void zg_psl_free(struct zg_psl *psl)
{
	if (psl == NULL)
		return;
	free(psl->tab);
	free(psl->names);
	free(psl);
}

size_t zg_psl_rule_count(const struct zg_psl *psl)
{
	return psl != NULL ? psl->rules : 0;
}

/* ------------------------------------------------------------ lookup */

int zg_psl_registered_domain(const struct zg_psl *psl, const char *name, char *out,
                             size_t outlen)
{
	char buf[NAME_MAX_LEN + 1];
	size_t starts[LABELS_MAX + 1];
	size_t len, n = 0, ps = 1, exc = 0, dlen;
	uint32_t h = FNV_OFFSET;
	const char *d;

	if (psl == NULL || name == NULL || out == NULL || outlen == 0)
		return ZG_EINVAL;
	out[0] = '\0';
	len = strnlen(name, NAME_MAX_LEN + 2);
	if (len > 1 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_MAX_LEN)
		return ZG_EDNAME;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c + ('a' - 'A'));
		if (c != '.' && !ldh((unsigned char)c))
			return ZG_EDNAME;
		buf[i] = c;
	}
	for (size_t i = 0, start = 0; i <= len; i++) {
		if (i < len && buf[i] != '.')
			continue;
		if (i == start || i - start > LABEL_MAX_LEN || buf[start] == '-' || buf[i - 1] == '-')
			return ZG_EDNAME;
		starts[n++] = start;
		start = i + 1;
	}
	/* labels are starts[0..n); walk their suffixes from the right */
	for (size_t k = 1; k <= n; k++) {
		size_t from = starts[n - k], to = k == 1 ? len : starts[n - k + 1] - 1;
		const struct ent *e;

		h = hash_back(h, buf, from, to);
		if ((e = find(psl, buf + from, len - from, h)) == NULL)
			break;
		if ((e->flags & F_RULE) && k > ps)
			ps = k;
		if ((e->flags & F_WILD) && k < n && k + 1 > ps)
			ps = k + 1;
		if (e->flags & F_EXCEPT)
			exc = k;
		h = fnv_byte(h, '.');
	}
	if (exc > 0)
		ps = exc - 1;   /* an exception wins; its leftmost label is registrable */
	if (ps >= n)
		return ZG_ENOENT;
	d = buf + starts[n - ps - 1];
	dlen = len - starts[n - ps - 1];
	if (outlen <= dlen)
		return ZG_ETOOLONG;
	memcpy(out, d, dlen);
	out[dlen] = '\0';
	return 0;
}
