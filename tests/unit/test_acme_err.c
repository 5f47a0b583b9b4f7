/*
 * acme/acme_err.c: every ACME_E* code has a text of its own, anything else
 * is "unknown error"; the numbers are the fixed ones acme/acme_err.h
 * promises (a program may map them one to one onto its own codes).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acme/acme_err.h"

static const struct {
	int code;
	int value;
} codes[] = {
	{ ACME_EOK, 0 },       { ACME_ENOMEM, -1 },    { ACME_EINVAL, -2 },
	{ ACME_EIO, -3 },      { ACME_ESYNTAX, -4 },   { ACME_EDNAME, -5 },
	{ ACME_ENOENT, -6 },   { ACME_ERANGE, -7 },    { ACME_ETYPE, -8 },
	{ ACME_ECONFIG, -9 },  { ACME_ETOOLONG, -11 }, { ACME_EEXIST, -13 },
	{ ACME_ECONFLICT, -16 }, { ACME_EAGAIN, -17 }, { ACME_EACME, -18 },
	{ ACME_EPROTO, -19 },  { ACME_ETLS, -20 },     { ACME_EPERM, -21 },
};

static void test_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_int_equal(codes[i].code, codes[i].value);
		assert_true(codes[i].code > ACME_E__MIN);
	}
	assert_int_equal(ACME_E__MIN, -22);
}

static void test_texts(void **state)
{
	static const int unknown[] = { 1, -10, -12, -14, -15, ACME_E__MIN, -23, INT_MIN, INT_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *t = acme_strerror(codes[i].code);

		assert_non_null(t);
		assert_string_not_equal(t, "unknown error");
		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(t, acme_strerror(codes[k].code));
	}
	assert_string_equal(acme_strerror(ACME_EOK), "ok");
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_string_equal(acme_strerror(unknown[i]), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_texts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
