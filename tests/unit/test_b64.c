/* base64url against RFC 4648's test vectors (section 10) and JWS examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acme/b64.h"
#include "acme/acme_err.h"

static const struct { const char *raw; const char *enc; } vectors[] = {
	{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	/* RFC 7515 A.1: the protected header {"typ":"JWT",\r\n "alg":"HS256"} */
	{ "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" },
	{ "\xfb\xff\xfe", "-__-" },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char enc[128];
		uint8_t dec[128];
		size_t n;
		size_t len = strlen(vectors[i].raw);

		assert_int_equal(acme_b64url_encode((const uint8_t *)vectors[i].raw, len, enc,
		                                    sizeof(enc)), (int)strlen(vectors[i].enc));
		assert_string_equal(enc, vectors[i].enc);
		assert_int_equal(acme_b64url_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, vectors[i].raw, len);
	}
}

static void test_bad_input(void **state)
{
	static const char *const bad[] = { "Zg==", "Z", "Zm9v+", "Zm9v/", "Zm 9v", "Zh", "Zm9\n" };
	uint8_t dec[16];
	size_t n;
	char small[4];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_b64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &n),
		                 ACME_ESYNTAX);
	assert_int_equal(acme_b64url_decode("Zm9vYmFy", 8, dec, 3, &n), ACME_ETOOLONG);
	assert_int_equal(acme_b64url_encode((const uint8_t *)"foo", 3, small, sizeof(small)),
	                 ACME_ETOOLONG);
}

static void test_roundtrip_all_bytes(void **state)
{
	uint8_t raw[256], dec[256];
	char enc[ACME_B64URL_SIZE(256)];
	size_t n;

	(void)state;
	for (int i = 0; i < 256; i++)
		raw[i] = (uint8_t)i;
	for (size_t len = 0; len <= sizeof(raw); len++) {
		assert_true(acme_b64url_encode(raw, len, enc, sizeof(enc)) >= 0);
		assert_null(strpbrk(enc, "+/="));
		assert_int_equal(acme_b64url_decode(enc, strlen(enc), dec, sizeof(dec), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(dec, raw, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_roundtrip_all_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
