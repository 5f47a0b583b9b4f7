/*
 * fuzz_dates.c - the CA's dates: the Retry-After header value
 * (acme_retry_after(), acme/retry.h; acme_ari_next_poll(), acme/ari.h) on
 * the input up to its first NUL byte, and the RFC 3339 reader of
 * renewalInfo windows (acme_rfc3339(), acme/ari.h) on the input bytes
 * (not NUL-terminated: ASan sees a read past them).
 *
 * Checked besides memory safety and undefined behaviour (overflow): a
 * Retry-After is never before now nor after now + ACME_RETRY_AFTER_MAX and
 * leaves *out alone when refused; the next renewalInfo poll is always set
 * and within [ACME_ARI_POLL_MIN, ACME_ARI_POLL_MAX] of now (or
 * ACME_ARI_POLL_DEFAULT after a refusal); an RFC 3339 time lies in years
 * 0..9999 give or take a day of offset.
 */
#include <time.h>

#include "acme/ari.h"
#include "acme/retry.h"
#include "acme/acme_err.h"
#include "tests/fuzz/fuzz.h"

/* Two reference times: 2026-01-01T00:00:00Z, and the epoch (the two-digit
 * years of rfc850-date depend on now). */
static const time_t nows[] = { (time_t)1767225600, 0 };

#define SENTINEL ((time_t)-12345)

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:60Z, one day of offset aside. */
#define RFC3339_MIN (-62167219200LL - 86400)
#define RFC3339_MAX (253402300800LL + 86400)

static void retry_after(const char *s, time_t now)
{
	time_t t = SENTINEL;
	int ret = acme_retry_after(s, now, &t);

	if (ret == 0) {
		FZ_CHECK(t >= now && t <= now + ACME_RETRY_AFTER_MAX);
	} else {
		FZ_CHECK(ret == ACME_ESYNTAX || ret == ACME_ERANGE || ret == ACME_ETOOLONG);
		FZ_CHECK(t == SENTINEL);
	}
	t = SENTINEL;
	ret = acme_ari_next_poll(s, now, &t);
	if (ret == 0)
		FZ_CHECK(t >= now + ACME_ARI_POLL_MIN && t <= now + ACME_ARI_POLL_MAX);
	else
		FZ_CHECK(ret < 0 && t == now + ACME_ARI_POLL_DEFAULT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_cstr(data, size);
	time_t t = SENTINEL;
	int ret;

	if (s == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
		retry_after(s, nows[i]);

	ret = acme_rfc3339((const char *)data, size, &t);
	if (ret == 0)
		FZ_CHECK((long long)t >= RFC3339_MIN && (long long)t <= RFC3339_MAX);
	else
		FZ_CHECK(ret == ACME_ESYNTAX || ret == ACME_ETOOLONG);
	free(s);
	return 0;
}
