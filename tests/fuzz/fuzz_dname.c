/*
 * fuzz_dname.c - the name validators on one string (the input up to its
 * first NUL byte): zg_dname_check() and zg_hostname_check()
 * (zonegen/zonegen.h), and acme_dns_name_check() (acme/csr.h), which the
 * CA's authorization identifiers go through.
 *
 * Checked besides memory safety:
 *   - the two zonegen checks give the same verdict (same rules);
 *   - an accepted name comes out in normal form: 1..253 characters,
 *     lowercase, no trailing dot, accepted again unchanged;
 *   - the output buffer is honoured: exactly strlen + 1 bytes are enough,
 *     one byte less is refused without a write (buffers are malloc'ed at
 *     their exact size, so ASan sees an overflow);
 *   - a name a customer may ask for is one a certificate may carry.
 */
#include <string.h>

#include "acme/csr.h"
#include "tests/fuzz/fuzz.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

static void check_accepted(const char *in, const char *out)
{
	size_t len = strlen(out);
	char *again = NULL, *exact = NULL, *small = NULL;

	FZ_CHECK(len >= 3 && len <= ZG_DNAME_LEN);
	FZ_CHECK(out[len - 1] != '.');
	for (size_t i = 0; i < len; i++)
		FZ_CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
	FZ_CHECK(acme_dns_name_check(out) == 0);

	again = malloc(ZG_OWNER_SIZE);
	exact = malloc(len + 1);
	small = malloc(len);
	if (again != NULL && exact != NULL && small != NULL) {
		FZ_CHECK(zg_dname_check(out, again, ZG_OWNER_SIZE, NULL, 0) == 0);
		FZ_CHECK(strcmp(again, out) == 0);
		FZ_CHECK(zg_dname_check(in, exact, len + 1, NULL, 0) == 0);
		FZ_CHECK(strcmp(exact, out) == 0);
		FZ_CHECK(zg_dname_check(in, small, len, NULL, 0) == ZG_EDNAME);
	}
	free(again);
	free(exact);
	free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fz_cstr(data, size), *out = malloc(ZG_OWNER_SIZE), *tiny = malloc(8);
	char err[256] = "", herr[256] = "";
	int d, h;

	if (in == NULL || out == NULL || tiny == NULL)
		goto out;
	d = zg_dname_check(in, out, ZG_OWNER_SIZE, err, sizeof(err));
	FZ_CHECK(d == 0 || d == ZG_EDNAME);
	h = zg_hostname_check(in, NULL, 0, herr, sizeof(herr));
	FZ_CHECK(h == d);
	if (d == 0)
		check_accepted(in, out);
	else
		FZ_CHECK(err[0] != '\0' && herr[0] != '\0');
	/* A short error buffer is cut, never overrun. */
	tiny[0] = '\0';
	(void)zg_dname_check(in, NULL, 0, tiny, 8);
	FZ_CHECK(fz_terminated(tiny, 8));
	(void)acme_dns_name_check(in);
out:
	free(in);
	free(out);
	free(tiny);
	return 0;
}
