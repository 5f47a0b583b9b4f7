/*
 * test_data.h - the unit tests' sample files (tests/acme/data/), found
 * through RZ_SRCDIR.  Included by a test program only.
 */
#ifndef TESTS_UNIT_TEST_DATA_H
#define TESTS_UNIT_TEST_DATA_H

/* The whole of tests/acme/data/NAME, NUL-terminated; *len its size.  The
 * test fails when it cannot be read.  free() it. */
static inline char *slurp(const char *name, size_t *len)
{
	const char *src = getenv("RZ_SRCDIR");
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/tests/acme/data/%s", src != NULL ? src : ".", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
