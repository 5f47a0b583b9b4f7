/*
 * fuzz_profile.c - profile templates (zonegen/zonegen.h): a profile built
 * in memory from the input, checked with zg_rtmpl_check() and
 * zg_profile_check() as the configuration loader does, then expanded with
 * zg_expand() for a domain and request parameters from the input, its
 * certificate names listed with zg_cert_names() and its records written
 * with zg_rr_format().
 *
 * Input: strings separated by NUL bytes, in this order.  A missing string
 * reads as "".  In the "shape" strings ([k] below) a byte stands for its
 * value minus one (a string holds no NUL), and for 0 when absent:
 *   domain
 *   shape      [0] params, [1] records, [2] certificate names, [3] request
 *              parameters (each modulo its maximum + 2), [4..5] profile TTL
 *   per parameter:   name, then [0] kind (modulo ZG_P__MAX; bit 7 set: no
 *                    default) followed by the default value
 *   per record:      [0] type (modulo ZG_RR__MAX), [1] fields (bit 7 set:
 *                    the ones the type needs; else bits 0-3 = target,
 *                    address, text, tag), [2..3] TTL / 16 (0: the
 *                    profile's), [4..5] priority, [6..7] weight,
 *                    [8..9] port, [10] CAA flags;
 *                    then the owner, then one string per field present
 *   per certificate name: the name
 *   per request parameter: key, value
 * A profile the configuration loader could not produce (a parameter name
 * it refuses, an invalid default) is dropped.
 *
 * Checked besides memory safety: an expansion yields one record per
 * template, with the template's type and TTL, an owner that is a
 * lowercase FQDN under the domain, and data that is printable, free of
 * zone-file syntax (quotes only around TXT and CAA values), with valid
 * addresses and host names; every certificate name is one the CA may be
 * asked for (acme_dns_name_check()); every record fits zg_render()'s line.
 */
#include <arpa/inet.h>
#include <string.h>

#include "acme/csr.h"
#include "tests/fuzz/fuzz.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

/* The input as a sequence of NUL-separated strings. */
struct toks {
	const uint8_t *p, *end;
};

/* The next string, malloc'ed ("" once the input is used up); NULL only
 * when out of memory. */
static char *tok_next(struct toks *t)
{
	const uint8_t *nul = memchr(t->p, '\0', (size_t)(t->end - t->p));
	size_t n = nul != NULL ? (size_t)(nul - t->p) : (size_t)(t->end - t->p);
	char *s = fz_cstr(t->p, n);

	t->p += n;
	if (t->p < t->end)
		t->p++;   /* the NUL */
	return s;
}

/* Byte k of a shape string minus one, 0 past its end. */
static unsigned byte_at(const char *s, size_t k)
{
	return k < strlen(s) ? (unsigned char)s[k] - 1u : 0;
}

static unsigned u16_at(const char *s, size_t k)
{
	return byte_at(s, k) << 8 | byte_at(s, k + 1);
}

enum { F_TARGET = 1, F_ADDRESS = 2, F_TEXT = 4, F_TAG = 8 };

/* The string fields each type takes (as zonegen/profile.c has them). */
static unsigned type_fields(enum zg_rtype t)
{
	switch (t) {
	case ZG_RR_A:
	case ZG_RR_AAAA:
		return F_ADDRESS;
	case ZG_RR_CNAME:
	case ZG_RR_SRV:
	case ZG_RR_MX:
		return F_TARGET;
	case ZG_RR_TXT:
		return F_TEXT;
	case ZG_RR_CAA:
		return F_TEXT | F_TAG;
	default:
		return 0;
	}
}

/* What the configuration loader requires of a parameter name. */
static bool param_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n &&
	       strcmp(s, "domain") != 0;
}

/* Fill p from the input.  false: out of memory, or a profile the loader
 * would refuse before zonegen sees it. */
static bool build(struct toks *t, struct zg_profile *p, char **shape)
{
	size_t n_params, n_records, n_cert_names;
	bool ok = true;

	if ((*shape = tok_next(t)) == NULL)
		return false;
	n_params = byte_at(*shape, 0) % (ZG_MAX_PARAMS + 2);
	n_records = byte_at(*shape, 1) % (ZG_MAX_RECORDS + 2);
	n_cert_names = byte_at(*shape, 2) % (ZG_MAX_CERT_NAMES + 2);
	p->ttl = 60 + u16_at(*shape, 4) * 10u % (604800 - 60 + 1);
	p->name = strdup("fuzz");
	p->service = strdup("xmpp");
	p->params = calloc(n_params + 1, sizeof(*p->params));
	p->records = calloc(n_records + 1, sizeof(*p->records));
	p->cert_names = calloc(n_cert_names + 1, sizeof(*p->cert_names));
	if (p->name == NULL || p->service == NULL || p->params == NULL || p->records == NULL ||
	    p->cert_names == NULL)
		return false;
	/* Counted only now: zg_profile_clear() walks the arrays by them. */
	p->n_params = n_params;
	p->n_records = n_records;
	p->n_cert_names = n_cert_names;

	for (size_t i = 0; i < p->n_params; i++) {
		struct zg_param *pa = &p->params[i];
		char *spec;

		if ((pa->name = tok_next(t)) == NULL || (spec = tok_next(t)) == NULL)
			return false;
		pa->type = (enum zg_ptype)(byte_at(spec, 0) % ZG_P__MAX);
		if (!(byte_at(spec, 0) & 0x80) && (pa->def = strdup(spec[0] ? spec + 1 : "")) == NULL) {
			free(spec);
			return false;
		}
		free(spec);
		if (!param_name_ok(pa->name) ||
		    (pa->def != NULL && zg_param_value_check(pa->type, pa->def, NULL, 0) != 0))
			ok = false;
	}

	for (size_t i = 0; i < p->n_records; i++) {
		struct zg_rtmpl *r = &p->records[i];
		char **field[4] = { &r->target, &r->address, &r->text, &r->tag };
		char *spec = tok_next(t);
		unsigned fields;

		if (spec == NULL)
			return false;
		r->type = (enum zg_rtype)(byte_at(spec, 0) % ZG_RR__MAX);
		fields = byte_at(spec, 1) & 0x80 ? type_fields(r->type) : byte_at(spec, 1) & 0x0f;
		r->ttl = u16_at(spec, 2) * 16u;
		r->priority = (uint16_t)u16_at(spec, 4);
		r->weight = (uint16_t)u16_at(spec, 6);
		r->port = (uint16_t)u16_at(spec, 8);
		r->flags = (uint8_t)byte_at(spec, 10);
		free(spec);
		if ((r->owner = tok_next(t)) == NULL)
			return false;
		for (unsigned f = 0; f < 4; f++)
			if ((fields & (1u << f)) && (*field[f] = tok_next(t)) == NULL)
				return false;
	}

	for (size_t i = 0; i < p->n_cert_names; i++)
		if ((p->cert_names[i] = tok_next(t)) == NULL)
			return false;
	return ok;
}

static bool is_lower_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* The name at the end of s ("... name."): a host name as
 * zg_hostname_check() accepts it, or for a CNAME (alias) a name as
 * zg_alias_check() accepts it ('_' labels, rz1._domainkey.hosting.example),
 * or for SRV and MX the root "." (no such service, null MX). */
static void check_host_at_end(const char *s, enum zg_rtype type)
{
	const char *h = strrchr(s, ' ');
	char buf[ZG_OWNER_SIZE];

	h = h != NULL ? h + 1 : s;
	if (type != ZG_RR_CNAME && strcmp(h, ".") == 0)
		return;
	FZ_CHECK(strlen(h) >= 2 && h[strlen(h) - 1] == '.');
	if (type == ZG_RR_CNAME)
		FZ_CHECK(zg_alias_check(h, buf, sizeof(buf), NULL, 0) == 0);
	else
		FZ_CHECK(zg_hostname_check(h, buf, sizeof(buf), NULL, 0) == 0);
	FZ_CHECK(strlen(buf) + 1 == strlen(h) && strncmp(buf, h, strlen(buf)) == 0);
}

/* TXT data as zg_txt_data() writes it: quoted character-strings of at
 * most 255 bytes each, one space apart; inside the quotes '\' only as the
 * escape of '"' or '\' (so ';' and parentheses can be nothing but text). */
static void check_txt(const char *d)
{
	const char *c = d;

	for (;;) {
		size_t bytes = 0;

		FZ_CHECK(*c == '"');
		for (c++; *c != '"'; c++, bytes++) {
			FZ_CHECK(*c != '\0');
			if (*c == '\\') {
				c++;
				FZ_CHECK(*c == '"' || *c == '\\');
			}
		}
		FZ_CHECK(bytes <= 255);
		c++;
		if (*c == '\0')
			break;
		FZ_CHECK(*c == ' ' && c[1] == '"');
		c++;
	}
}

static void check_rr(const struct zg_profile *p, const struct zg_rtmpl *r, const char *domain,
                     const struct zg_rr *rr)
{
	size_t olen = strnlen(rr->owner, sizeof(rr->owner)), dlen = strlen(domain);
	size_t quotes = 0;
	unsigned char bin[16];
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32];

	FZ_CHECK(rr->type == r->type);
	FZ_CHECK(rr->ttl == (r->ttl != 0 ? r->ttl : p->ttl));
	FZ_CHECK(olen < sizeof(rr->owner) && olen <= ZG_DNAME_LEN + 1);
	FZ_CHECK(olen == dlen + 1 || (olen > dlen + 1 && rr->owner[olen - dlen - 2] == '.'));
	FZ_CHECK(strncmp(rr->owner + olen - dlen - 1, domain, dlen) == 0);
	FZ_CHECK(rr->owner[olen - 1] == '.');
	for (size_t i = 0; i < olen; i++)
		FZ_CHECK(is_lower_name_char(rr->owner[i]));

	FZ_CHECK(fz_terminated(rr->data, sizeof(rr->data)) && rr->data[0] != '\0');
	FZ_CHECK(fz_printable(rr->data));
	/* ';' only as text: a TXT's (check_txt below), a CAA value's RFC 8657
	 * parameters ("ca; accounturi=..."), inside its quotes */
	if (rr->type == ZG_RR_CAA)
		FZ_CHECK(strpbrk(rr->data, "()\\") == NULL &&
		         (strchr(rr->data, ';') == NULL ||
		          strchr(rr->data, ';') > strchr(rr->data, '"')));
	else if (rr->type != ZG_RR_TXT)
		FZ_CHECK(strpbrk(rr->data, ";()\\") == NULL);
	for (const char *c = rr->data; *c != '\0'; c++)
		quotes += *c == '"';
	switch (rr->type) {
	case ZG_RR_A:
		FZ_CHECK(inet_pton(AF_INET, rr->data, bin) == 1);
		break;
	case ZG_RR_AAAA:
		FZ_CHECK(inet_pton(AF_INET6, rr->data, bin) == 1);
		break;
	case ZG_RR_CNAME:
	case ZG_RR_SRV:
	case ZG_RR_MX:
		FZ_CHECK(quotes == 0);
		check_host_at_end(rr->data, rr->type);
		break;
	case ZG_RR_TXT:
		check_txt(rr->data);
		break;
	case ZG_RR_CAA:
		FZ_CHECK(quotes == 2 && rr->data[strlen(rr->data) - 1] == '"');
		break;
	default:
		FZ_CHECK(!"a record type no template has");
	}
	FZ_CHECK(zg_rr_format(rr, line, sizeof(line)) == 0);
	FZ_CHECK(strchr(line, '\n') == line + strlen(line) - 1);
}

static void expand(const struct zg_profile *p, const char *domain, const struct zg_kv *kv,
                   size_t n_kv)
{
	char norm[ZG_OWNER_SIZE], err[256], (*names)[ZG_OWNER_SIZE] = NULL;
	struct zg_rr *rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs));
	bool valid = zg_dname_check(domain, norm, sizeof(norm), NULL, 0) == 0;
	size_t n = 99;
	int ret;

	names = calloc(ZG_MAX_CERT_NAMES, sizeof(*names));
	if (rrs == NULL || names == NULL)
		goto out;
	ret = zg_expand(p, valid ? norm : domain, kv, n_kv, rrs, &n, err, sizeof(err));
	FZ_CHECK(ret <= 0 && ret > ZG_E__MIN);
	FZ_CHECK(fz_terminated(err, sizeof(err)));
	if (ret != 0) {
		FZ_CHECK(n == 0);
		goto out;
	}
	FZ_CHECK(valid && n == p->n_records);
	for (size_t i = 0; i < n; i++)
		check_rr(p, &p->records[i], norm, &rrs[i]);
	ret = zg_cert_names(p, norm, names, &n);
	FZ_CHECK(ret == 0 || ret == ZG_EDNAME);
	for (size_t i = 0; ret == 0 && i < n; i++)
		FZ_CHECK(acme_dns_name_check(names[i]) == 0);
out:
	free(rrs);
	free(names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toks t = { data, data + size };
	struct zg_profile p;
	struct zg_kv kv[ZG_MAX_PARAMS + 1];
	char *kvs[2 * (ZG_MAX_PARAMS + 1)] = { NULL };
	char *domain = tok_next(&t), *shape = NULL, err[256];
	size_t n_kv = 0;
	bool checked = true;

	memset(&p, 0, sizeof(p));
	if (domain == NULL || !build(&t, &p, &shape))
		goto out;
	n_kv = byte_at(shape, 3) % (ZG_MAX_PARAMS + 2);
	for (size_t i = 0; i < n_kv; i++) {
		if ((kvs[2 * i] = tok_next(&t)) == NULL || (kvs[2 * i + 1] = tok_next(&t)) == NULL)
			goto out;
		kv[i].key = kvs[2 * i];
		kv[i].val = kvs[2 * i + 1];
	}

	for (size_t i = 0; checked && i < p.n_records; i++) {
		int ret = zg_rtmpl_check(&p, &p.records[i], err, sizeof(err));

		FZ_CHECK(ret == 0 || ret == ZG_EINVAL);
		checked = ret == 0;
	}
	if (checked && zg_profile_check(&p, err, sizeof(err)) == 0)
		expand(&p, domain, kv, n_kv);
out:
	zg_profile_clear(&p);
	for (size_t i = 0; i < sizeof(kvs) / sizeof(kvs[0]); i++)
		free(kvs[i]);
	free(shape);
	free(domain);
	return 0;
}
