/* acme/ari: RFC 9773 certificate identifiers (the RFC's example and
 * certificates made here with known AKI and serial), renewalInfo replies,
 * RFC 3339, the poll interval, the renewal time with and without ARI. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme/ari.h"
#include "acme/acme_err.h"
#include "tests/unit/test_data.h"

#define DAY 86400

/* RFC 9773 section 4.1: the example's AKI keyIdentifier and serial. */
static const uint8_t rfc_aki[] = {
	0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
	0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
};
static const uint8_t rfc_serial[] = { 0x00, 0x87, 0x65, 0x43, 0x21 };
static const char rfc_id[] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

/* RFC 9773 Appendix A, the example end-entity certificate. */
static const char rfc_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt\n"
	"cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS\n"
	"BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu\n"
	"7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf\n"
	"qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B\n"
	"yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb\n"
	"+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK\n"
	"-----END CERTIFICATE-----\n";

static void test_cert_id_raw(void **state)
{
	char id[ACME_ARI_CERT_ID_SIZE], small[8];
	uint8_t big[ACME_ARI_AKI_MAX + 1];

	(void)state;
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, sizeof(rfc_aki), rfc_serial,
	                                      sizeof(rfc_serial), id, sizeof(id)),
	                 (int)strlen(rfc_id));
	assert_string_equal(id, rfc_id);
	/* exactly the size needed: 28 + 8 */
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, sizeof(rfc_aki), rfc_serial,
	                                      sizeof(rfc_serial), id, 36), 35);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, sizeof(rfc_aki), rfc_serial,
	                                      sizeof(rfc_serial), id, 35), ACME_ETOOLONG);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, sizeof(rfc_aki), rfc_serial,
	                                      sizeof(rfc_serial), small, sizeof(small)),
	                 ACME_ETOOLONG);
	memset(big, 0xab, sizeof(big));
	assert_int_equal(acme_ari_cert_id_raw(big, ACME_ARI_AKI_MAX, big, ACME_ARI_SERIAL_MAX, id,
	                                      sizeof(id)) > 0, 1);
	assert_int_equal(acme_ari_cert_id_raw(big, sizeof(big), rfc_serial, 1, id, sizeof(id)),
	                 ACME_ERANGE);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, 1, big, ACME_ARI_SERIAL_MAX + 1, id,
	                                      sizeof(id)), ACME_ERANGE);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, 0, rfc_serial, 1, id, sizeof(id)),
	                 ACME_EINVAL);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, 1, rfc_serial, 0, id, sizeof(id)),
	                 ACME_EINVAL);
	assert_int_equal(acme_ari_cert_id_raw(NULL, 1, rfc_serial, 1, id, sizeof(id)), ACME_EINVAL);
	assert_int_equal(acme_ari_cert_id_raw(rfc_aki, 1, rfc_serial, 1, NULL, 64), ACME_EINVAL);
}

static void test_cert_id_rfc_certificate(void **state)
{
	BIO *bio = BIO_new_mem_buf(rfc_cert, -1);
	X509 *x;
	char id[ACME_ARI_CERT_ID_SIZE];
	time_t nb = 1, na = 1;

	(void)state;
	assert_non_null(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(acme_ari_cert_id(x, id, sizeof(id)), (int)strlen(rfc_id));
	assert_string_equal(id, rfc_id);
	/* its validity is 0001-01-01T00:00:00Z for both */
	assert_int_equal(acme_cert_validity(x, &nb, &na), 0);
	assert_int_equal(nb, -62135596800LL);
	assert_int_equal(na, -62135596800LL);
	X509_free(x);
	BIO_free(bio);
}

/* A certificate made here: serial from hex (NULL: none set), AKI
 * keyIdentifier (NULL: no AKI), signed, then read back from DER. */
static X509 *make_cert(const char *serial_hex, const uint8_t *aki, size_t aki_len)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new(), *back;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int n;

	assert_non_null(key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	if (serial_hex != NULL) {
		assert_true(BN_hex2bn(&bn, serial_hex) > 0);
		serial = BN_to_ASN1_INTEGER(bn, NULL);
		assert_non_null(serial);
		assert_int_equal(X509_set_serialNumber(x, serial), 1);
	}
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 90L * DAY));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                            (const unsigned char *)"example.org", -1, -1, 0),
	                 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (aki != NULL) {
		AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();

		assert_non_null(akid);
		akid->keyid = ASN1_OCTET_STRING_new();
		assert_non_null(akid->keyid);
		assert_int_equal(ASN1_OCTET_STRING_set(akid->keyid, aki, (int)aki_len), 1);
		assert_int_equal(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0,
		                                   X509V3_ADD_DEFAULT), 1);
		AUTHORITY_KEYID_free(akid);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	p = der;
	back = d2i_X509(NULL, &p, n);
	assert_non_null(back);
	OPENSSL_free(der);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return back;
}

static void test_cert_id_generated(void **state)
{
	static const uint8_t aki20[20] = {
		0x14, 0x2E, 0xB3, 0x17, 0xB7, 0x58, 0x56, 0xCB, 0xAE, 0x50,
		0x09, 0x40, 0xE6, 0x1F, 0xAF, 0x9D, 0x8B, 0x14, 0xC2, 0xC6,
	};
	static const uint8_t aki1[1] = { 0xfb };
	static const struct {
		const char *serial;   /* hex as BN_hex2bn reads it */
		const uint8_t *aki;
		size_t aki_len;
		int rc;               /* length or error */
		const char *id;
	} certs[] = {
		/* the RFC's AKI and serial, on a certificate of our own */
		{ "87654321", rfc_aki, sizeof(rfc_aki), 35, rfc_id },
		/* high bit clear: no leading zero */
		{ "7F", aki20, sizeof(aki20), 30, "FC6zF7dYVsuuUAlA5h-vnYsUwsY.fw" },
		/* high bit set: 00 80 */
		{ "80", aki20, sizeof(aki20), 31, "FC6zF7dYVsuuUAlA5h-vnYsUwsY.AIA" },
		/* Let's Encrypt-sized serial, 18 bytes, high bit set: 19 content bytes */
		{ "FA0B1C2D3E4F5061728394A5B6C7D8E9F0AB", aki1, 1, 29,
		  "-w.APoLHC0-T1BhcoOUpbbH2Onwqw" },
		/* zero: one 00 byte */
		{ "0", aki1, 1, 5, "-w.AA" },
		/* negative: two's complement FF */
		{ "-1", aki1, 1, 5, "-w._w" },
		/* no AKI extension */
		{ "1234", NULL, 0, ACME_ENOENT, NULL },
		/* AKI present but empty keyIdentifier */
		{ "1234", aki1, 0, ACME_ENOENT, NULL },
		/* serial longer than ACME_ARI_SERIAL_MAX */
		{ "0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2021", aki1, 1,
		  ACME_ERANGE, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		X509 *x = make_cert(certs[i].serial, certs[i].aki, certs[i].aki_len);
		char id[ACME_ARI_CERT_ID_SIZE];
		int rc = acme_ari_cert_id(x, id, sizeof(id));

		if (rc != certs[i].rc)
			fail_msg("cert %zu (serial %s): rc %d, want %d", i, certs[i].serial, rc,
			         certs[i].rc);
		if (certs[i].id != NULL)
			assert_string_equal(id, certs[i].id);
		X509_free(x);
	}
}

static void test_cert_validity(void **state)
{
	X509 *x = make_cert("01", NULL, 0);
	time_t nb, na, now = time(NULL);

	(void)state;
	assert_int_equal(acme_cert_validity(x, &nb, &na), 0);
	assert_true(nb >= now - 5 && nb <= now + 5);
	assert_int_equal(na - nb, 90L * DAY);
	assert_int_equal(acme_cert_validity(NULL, &nb, &na), ACME_EINVAL);
	assert_int_equal(acme_ari_cert_id(NULL, (char[8]){ 0 }, 8), ACME_EINVAL);
	X509_free(x);
}

static void test_rfc3339(void **state)
{
	static const struct { const char *s; int rc; time_t want; } ts[] = {
		{ "2025-01-02T04:00:00Z", 0, 1735790400 },
		{ "2025-01-02t04:00:00z", 0, 1735790400 },
		{ "2025-01-02T04:00:00.999999999Z", 0, 1735790400 },   /* fraction dropped */
		{ "2025-01-02T04:00:00.5+00:00", 0, 1735790400 },
		{ "2025-01-02T06:00:00+02:00", 0, 1735790400 },
		{ "2025-01-01T23:30:00-04:30", 0, 1735790400 },
		{ "2025-01-02T04:00:00-00:00", 0, 1735790400 },
		{ "2016-12-31T23:59:60Z", 0, 1483228800 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2025-01-02 04:00:00Z", ACME_ESYNTAX, 0 },     /* space for T */
		{ "2025-01-02T04:00:00", ACME_ESYNTAX, 0 },      /* no offset */
		{ "2025-01-02T04:00Z", ACME_ESYNTAX, 0 },        /* no seconds */
		{ "2025-01-02T04:00:00.Z", ACME_ESYNTAX, 0 },    /* empty fraction */
		{ "2025-01-02T04:00:00+0200", ACME_ESYNTAX, 0 },
		{ "2025-01-02T04:00:00+24:00", ACME_ESYNTAX, 0 },
		{ "2025-01-02T04:00:00+02:60", ACME_ESYNTAX, 0 },
		{ "2025-01-02T04:00:00ZZ", ACME_ESYNTAX, 0 },
		{ "2025-02-30T04:00:00Z", ACME_ESYNTAX, 0 },
		{ "2025-01-02T25:00:00Z", ACME_ESYNTAX, 0 },
		{ "25-01-02T04:00:00Z", ACME_ESYNTAX, 0 },
		{ "+2025-01-02T04:00:00Z", ACME_ESYNTAX, 0 },
		{ "2025-1-02T04:00:00Z", ACME_ESYNTAX, 0 },
		{ "", ACME_ESYNTAX, 0 },
		{ "2025-01-02T04:00:00.0000000000000000000000000000000000000000000000Z", ACME_ETOOLONG,
		  0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		time_t t = 0;
		int rc = acme_rfc3339(ts[i].s, strlen(ts[i].s), &t);

		if (rc != ts[i].rc)
			fail_msg("\"%s\": rc %d, want %d", ts[i].s, rc, ts[i].rc);
		if (rc == 0 && t != ts[i].want)
			fail_msg("\"%s\": %lld, want %lld", ts[i].s, (long long)t,
			         (long long)ts[i].want);
	}
	/* length is what counts, not a NUL */
	{
		time_t t;

		assert_int_equal(acme_rfc3339("2025-01-02T04:00:00Zjunk", 20, &t), 0);
		assert_int_equal(t, 1735790400);
		assert_int_equal(acme_rfc3339(NULL, 0, &t), ACME_EINVAL);
	}
}

/* renewalInfo replies: saved ones first, then inline malformed rows. */
static const struct {
	const char *file;     /* NULL: body below */
	const char *body;
	int rc;
	time_t start, end;
	const char *url;
} infos[] = {
	{ "ari-rfc9773.json", NULL, 0, 1735790400, 1735876800, "https://acme.example.com/docs/ari" },
	{ "ari-offsets.json", NULL, 0, 1735790400, 1735876800,
	  "https://acme.example.com/docs/ari#mass-revocation" },
	{ "ari-pebble.json", NULL, 0, 1772360430, 1772533230, "" },
	{ "ari-pebble-immediate.json", NULL, 0, 1772355600, 1772355601, "" },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"end\":\"2025-01-02T04:00:01Z\"}}", 0, 1735790400, 1735790401, "" },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"end\":\"2025-01-02T04:00:00Z\"}}", ACME_ERANGE, 0, 0, NULL },     /* end == start */
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\","
	  "\"end\":\"2025-01-02T04:00:00Z\"}}", ACME_ERANGE, 0, 0, NULL },     /* end < start */
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T06:00:00+02:00\","
	  "\"end\":\"2025-01-02T04:00:00Z\"}}", ACME_ERANGE, 0, 0, NULL },     /* equal via offset */
	{ NULL, "{}", ACME_ENOENT, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\"}}", ACME_ENOENT, 0, 0,
	  NULL },
	{ NULL, "{\"suggestedWindow\":{\"end\":\"2025-01-02T04:00:00Z\"}}", ACME_ENOENT, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":[]}", ACME_ETYPE, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":null}", ACME_ETYPE, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":1735790400,\"end\":1735876800}}", ACME_ETYPE, 0, 0,
	  NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02\",\"end\":\"2025-01-03\"}}",
	  ACME_ESYNTAX, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":5}", ACME_ETYPE, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":\"not a url\"}", ACME_ESYNTAX, 0, 0,
	  NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":\"\"}", ACME_ESYNTAX, 0, 0, NULL },
	{ NULL, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	  "\"start\":\"2025-01-01T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}", ACME_ESYNTAX, 0, 0,
	  NULL },   /* duplicate key */
	{ NULL, "[]", ACME_ETYPE, 0, 0, NULL },
	{ NULL, "", ACME_ESYNTAX, 0, 0, NULL },
	{ NULL, "garbage", ACME_ESYNTAX, 0, 0, NULL },
};

static void test_ari_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
		struct acme_ari_info w;
		size_t len;
		char *body = infos[i].file != NULL ? slurp(infos[i].file, &len) : NULL;
		const char *b = body != NULL ? body : infos[i].body;
		int rc = acme_ari_parse(b, body != NULL ? len : strlen(b), &w);

		if (rc != infos[i].rc)
			fail_msg("info row %zu: rc %d, want %d", i, rc, infos[i].rc);
		if (rc == 0) {
			assert_int_equal(w.start, infos[i].start);
			assert_int_equal(w.end, infos[i].end);
			assert_string_equal(w.explanation_url, infos[i].url);
		} else {
			assert_int_equal(w.start, 0);
			assert_int_equal(w.end, 0);
		}
		free(body);
	}
}

static void test_ari_parse_bounds(void **state)
{
	struct acme_ari_info w;
	char *big = malloc(ACME_ARI_MAX_BYTES + 256);
	size_t o;

	(void)state;
	assert_non_null(big);
	o = (size_t)sprintf(big, "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	                         "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":\"https://x/");
	memset(big + o, 'a', ACME_ARI_URL_MAX);
	strcpy(big + o + ACME_ARI_URL_MAX - 10, "\"}");
	assert_int_equal(acme_ari_parse(big, strlen(big), &w), 0);
	assert_int_equal(strlen(w.explanation_url), ACME_ARI_URL_MAX);
	memset(big + o, 'a', ACME_ARI_URL_MAX);
	strcpy(big + o + ACME_ARI_URL_MAX, "\"}");
	assert_int_equal(acme_ari_parse(big, strlen(big), &w), ACME_ETOOLONG);
	memset(big, ' ', ACME_ARI_MAX_BYTES + 1);
	assert_int_equal(acme_ari_parse(big, ACME_ARI_MAX_BYTES + 1, &w), ACME_ETOOLONG);
	assert_int_equal(acme_ari_parse(NULL, 0, &w), ACME_EINVAL);
	assert_int_equal(acme_ari_parse("{}", 2, NULL), ACME_EINVAL);
	free(big);
}

static void test_next_poll(void **state)
{
	static const time_t now = 1735790400;
	static const struct { const char *ra; int rc; time_t want; } polls[] = {
		{ "21600", 0, now + 21600 },                          /* the RFC's example */
		{ "3600", 0, now + 3600 },
		{ "0", 0, now + ACME_ARI_POLL_MIN },                  /* floor */
		{ "5", 0, now + ACME_ARI_POLL_MIN },
		{ "86400", 0, now + ACME_ARI_POLL_MAX },              /* about twice a day */
		{ "Thu, 02 Jan 2025 05:00:00 GMT", 0, now + 3600 },
		{ "Wed, 01 Jan 2025 05:00:00 GMT", 0, now + ACME_ARI_POLL_MIN },  /* past */
		{ NULL, ACME_ENOENT, now + ACME_ARI_POLL_DEFAULT },     /* absent: six hours */
		{ "soon", ACME_ESYNTAX, now + ACME_ARI_POLL_DEFAULT },  /* invalid: six hours */
		{ "-1", ACME_ESYNTAX, now + ACME_ARI_POLL_DEFAULT },
		{ "", ACME_ESYNTAX, now + ACME_ARI_POLL_DEFAULT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(polls) / sizeof(polls[0]); i++) {
		time_t at = 0;

		assert_int_equal(acme_ari_next_poll(polls[i].ra, now, &at), polls[i].rc);
		assert_int_equal(at, polls[i].want);
	}
	assert_int_equal(acme_ari_next_poll("1", now, NULL), ACME_EINVAL);
}

static void test_ari_renew_time(void **state)
{
	/* the RFC's window: 2025-01-02T04:00Z .. 2025-01-03T04:00Z */
	static const struct acme_ari_info w = { 1735790400, 1735876800, "" };
	static const time_t S = 1735790400, E = 1735876800;
	static const struct { const char *what; time_t now; double j; time_t want; } picks[] = {
		{ "future window, jitter 0: start", S - 10 * DAY, 0.0, S },
		{ "future window, jitter 1: end", S - 10 * DAY, 1.0, E },
		{ "future window, jitter 0.5: middle", S - 10 * DAY, 0.5, S + DAY / 2 },
		{ "future window, jitter 0.25", S - DAY, 0.25, S + DAY / 4 },
		{ "now inside, pick later", S + 3600, 0.5, S + DAY / 2 },
		{ "now inside, pick earlier: now", S + 20 * 3600, 0.5, S + 20 * 3600 },
		{ "now inside, jitter 0: now", S + 1, 0.0, S + 1 },
		{ "now at start, jitter 0", S, 0.0, S },
		{ "window past: now", E + 7 * DAY, 0.5, E + 7 * DAY },
		{ "window just ended, jitter 1: now", E + 1, 1.0, E + 1 },
		{ "jitter below 0 clamped", S - DAY, -3.0, S },
		{ "jitter above 1 clamped", S - DAY, 7.0, E },
		{ "jitter NaN: middle", S - DAY, NAN, S + DAY / 2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		time_t at = 0;

		assert_int_equal(acme_ari_renew_time(&w, picks[i].now, picks[i].j, &at), 0);
		if (at != picks[i].want)
			fail_msg("%s: %lld, want %lld", picks[i].what, (long long)at,
			         (long long)picks[i].want);
	}
	/* every pick lies in [max(now, start), end] */
	for (double j = 0.0; j <= 1.0; j += 0.01) {
		time_t at;

		assert_int_equal(acme_ari_renew_time(&w, S - DAY, j, &at), 0);
		assert_true(at >= S && at <= E);
	}
	/* the one-second window Pebble serves to say "now" */
	{
		struct acme_ari_info imm = { 1772355600, 1772355601, "" };
		time_t at;

		assert_int_equal(acme_ari_renew_time(&imm, 1772355600 + 3600, 0.7, &at), 0);
		assert_int_equal(at, 1772355600 + 3600);
	}
	{
		struct acme_ari_info bad = { S, S, "" };
		time_t at;

		assert_int_equal(acme_ari_renew_time(&bad, S, 0.5, &at), ACME_ERANGE);
		assert_int_equal(acme_ari_renew_time(NULL, S, 0.5, &at), ACME_EINVAL);
		assert_int_equal(acme_ari_renew_time(&w, S, 0.5, NULL), ACME_EINVAL);
		assert_false(acme_ari_in_window(&bad, S));
	}
	assert_true(acme_ari_in_window(&w, S));
	assert_true(acme_ari_in_window(&w, E - 1));
	assert_false(acme_ari_in_window(&w, E));
	assert_false(acme_ari_in_window(&w, S - 1));
	assert_false(acme_ari_in_window(NULL, S));
}

static void test_renew_time_without_ari(void **state)
{
	static const time_t NB = 1767225600;  /* 2026-01-01T00:00:00Z */
	static const struct {
		const char *what;
		time_t nb, na;
		unsigned pct;
		double j;
		int rc;
		time_t want;
	} rows[] = {
		/* 90 days: 66% = 59.4 days; +-2% = +-1.8 days */
		{ "90 d, 66%, exact", NB, NB + 90 * DAY, 66, 0.5, 0, NB + 5132160 },
		{ "90 d, 66%, -2%", NB, NB + 90 * DAY, 66, 0.0, 0, NB + 5132160 - 155520 },
		{ "90 d, 66%, +2%", NB, NB + 90 * DAY, 66, 1.0, 0, NB + 5132160 + 155520 },
		{ "90 d, 50%", NB, NB + 90 * DAY, 50, 0.5, 0, NB + 45 * DAY },
		/* 45 days (tlsserver), 90%: 40.5 d + 0.9 d = 41.4 d, under 44 d */
		{ "45 d, 90%, +2%", NB, NB + 45 * DAY, 90, 1.0, 0, NB + 3576960 },
		/* 99% of 90 d would be 89.1 d: capped at not_after - 1 day */
		{ "90 d, 99%: capped", NB, NB + 90 * DAY, 99, 0.5, 0, NB + 89 * DAY },
		/* shortlived, 160 h: 66% = 105.6 h +-3.2 h, fine */
		{ "160 h, 66%", NB, NB + 160 * 3600, 66, 0.5, 0, NB + 380160 },
		/* a 1 h test certificate: margin lifetime/3 = 20 min */
		{ "1 h, 90%: capped at 40 min", NB, NB + 3600, 90, 0.5, 0, NB + 2400 },
		{ "1 h, 66%", NB, NB + 3600, 66, 0.5, 0, NB + 2376 },
		/* 2 days, 90%: margin 16 h */
		{ "2 d, 90%", NB, NB + 2 * DAY, 90, 0.5, 0, NB + 2 * DAY - 2 * DAY / 3 },
		{ "jitter clamped", NB, NB + 90 * DAY, 66, 9.0, 0, NB + 5132160 + 155520 },
		{ "jitter NaN", NB, NB + 90 * DAY, 66, NAN, 0, NB + 5132160 },
		{ "not_after == not_before", NB, NB, 66, 0.5, ACME_EINVAL, 0 },
		{ "not_after before", NB, NB - 1, 66, 0.5, ACME_EINVAL, 0 },
		{ "percent 0", NB, NB + 90 * DAY, 0, 0.5, ACME_ERANGE, 0 },
		{ "percent 100", NB, NB + 90 * DAY, 100, 0.5, ACME_ERANGE, 0 },
		{ "percent 1", NB, NB + 100 * DAY, 1, 0.5, 0, NB + DAY },
		{ "percent 1, -2%: not before not_before", NB, NB + 100 * DAY, 1, 0.0, 0, NB },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		time_t at = 0;
		int rc = acme_renew_time(rows[i].nb, rows[i].na, rows[i].pct, rows[i].j, &at);

		if (rc != rows[i].rc)
			fail_msg("%s: rc %d, want %d", rows[i].what, rc, rows[i].rc);
		if (rc == 0 && at != rows[i].want)
			fail_msg("%s: +%lld, want +%lld", rows[i].what, (long long)(at - rows[i].nb),
			         (long long)(rows[i].want - rows[i].nb));
	}
	assert_int_equal(acme_renew_time(NB, NB + DAY, 66, 0.5, NULL), ACME_EINVAL);
	/* never later than not_after - 1 day, for any percent and jitter */
	for (unsigned pct = 1; pct <= 99; pct++)
		for (double j = 0.0; j <= 1.0; j += 0.25) {
			time_t at;

			assert_int_equal(acme_renew_time(NB, NB + 90 * DAY, pct, j, &at), 0);
			assert_true(at >= NB && at <= NB + 89 * DAY);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_id_raw),
		cmocka_unit_test(test_cert_id_rfc_certificate),
		cmocka_unit_test(test_cert_id_generated),
		cmocka_unit_test(test_cert_validity),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_ari_parse),
		cmocka_unit_test(test_ari_parse_bounds),
		cmocka_unit_test(test_next_poll),
		cmocka_unit_test(test_ari_renew_time),
		cmocka_unit_test(test_renew_time_without_ari),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
