/* The retry schedule: exponential, capped, spread by jitter; and the
 * propagation check's growing delay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/reconcile.h"

static void test_exponential_and_capped(void **state)
{
	static const struct { int attempts; double want; } rows[] = {
		{ 1, 1 }, { 2, 2 }, { 3, 4 }, { 4, 8 }, { 5, 16 }, { 8, 128 }, { 10, 512 },
		{ 11, 600 }, { 12, 600 }, { 100, 600 }, { 0, 1 },
	};

	(void)state;
	/* jitter 0.5 is the midpoint: no spread */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_float_equal(rz_backoff(rows[i].attempts, 1.0, 600.0, 0.5), rows[i].want, 1e-9);
}

static void test_jitter_bounds(void **state)
{
	(void)state;
	assert_float_equal(rz_backoff(3, 1.0, 600.0, 0.0), 3.0, 1e-9);      /* -25% */
	assert_float_equal(rz_backoff(3, 1.0, 600.0, 0.999999), 5.0, 1e-5); /* +25% */
	for (int a = 1; a < 30; a++)
		for (double j = 0; j < 1.0; j += 0.1) {
			double d = rz_backoff(a, 1.0, 600.0, j);

			assert_true(d >= 0.75 && d <= 750.0);
			/* never shorter than the previous attempt's shortest */
			assert_true(d >= rz_backoff(a - 1, 1.0, 600.0, 0.0) || a == 1);
		}
}

static void test_check_delay(void **state)
{
	double prev = 0;

	(void)state;
	assert_float_equal(rz_check_delay(0), 0.05, 1e-9);
	assert_float_equal(rz_check_delay(1), 0.075, 1e-9);
	/* 250 ms apart for the first dozen checks, then growing again */
	assert_float_equal(rz_check_delay(4), 0.25, 1e-9);
	assert_float_equal(rz_check_delay(12), 0.25, 1e-9);
	assert_true(rz_check_delay(14) > 0.25);
	for (int i = 0; i < 40; i++) {
		double d = rz_check_delay(i);

		assert_true(d >= prev);
		assert_true(d <= 2.0);
		prev = d;
	}
	assert_float_equal(rz_check_delay(39), 2.0, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exponential_and_capped),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_check_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
