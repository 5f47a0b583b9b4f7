/*
 * fuzz_acme.c - the readers of the CA's JSON replies.  The first input
 * byte picks the kind of reply, the rest is the body:
 *   'd' directory          acme_parse_directory()    (acme/parse.h)
 *   'a' newAccount reply   acme_parse_account()
 *   'o' order              acme_parse_order()
 *   'z' authorization      acme_parse_authz()
 *   'c' challenge          acme_parse_challenge()
 *   'p' problem document   acme_problem_parse(), _class(), _text()
 *                          (acme/problem.h)
 *   'r' renewalInfo        acme_ari_parse(), acme_ari_renew_time()
 *                          (acme/ari.h)
 * Any other byte b picks kind b % 7 in that order, so every input reaches
 * some reader; for those the account reply has no Location (b odd) or an
 * http one, and the problem document the HTTP status 0 (b odd) or 503.
 *
 * Checked besides memory safety and leaks: an accepted reply holds what
 * the header promises (required URLs present and https, a status this
 * kind of object may have, counts within bounds, a dns-01 token that
 * passes acme_token_check(), problem text printable and cut safely); a
 * refusal sets e->code to the value returned and a one-line message.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acme/acct.h"
#include "acme/ari.h"
#include "acme/client.h"
#include "acme/csr.h"
#include "acme/parse.h"
#include "acme/problem.h"
#include "acme/acme_err.h"
#include "tests/fuzz/fuzz.h"

#define LOCATION "https://ca.test/acme/acct/1"
#define NOW ((time_t)1767225600)   /* 2026-01-01T00:00:00Z */

static const char kinds[] = "daozcpr";

static bool https_url(const char *s)
{
	return s != NULL && strncasecmp(s, "https://", 8) == 0 && strlen(s) > 8;
}

static void check_error(int ret, const struct acme_error *e)
{
	FZ_CHECK(ret < 0 && ret > ACME_E__MIN);
	FZ_CHECK(e->code == ret);
	FZ_CHECK(fz_terminated(e->msg, sizeof(e->msg)) && e->msg[0] != '\0');
}

/* A parsed problem: printable, within bounds, and its text cut safely. */
static void check_problem(const struct acme_problem *p)
{
	char *text = malloc(ACME_PROBLEM_TEXT_MAX), *tiny = malloc(4);

	FZ_CHECK(p->type[0] != '\0' && fz_printable(p->type) && strchr(p->type, ' ') == NULL);
	FZ_CHECK(fz_printable(p->detail));
	FZ_CHECK((unsigned)p->kind < ACME_PT__MAX);
	FZ_CHECK(p->status == 0 || (p->status >= 100 && p->status <= 599));
	FZ_CHECK(p->n_sub <= ACME_PROBLEM_MAX_SUB && p->n_sub <= p->n_sub_total);
	FZ_CHECK(fz_printable(p->identifier.type) && fz_printable(p->identifier.value));
	for (size_t i = 0; i < p->n_sub; i++) {
		FZ_CHECK(fz_printable(p->sub[i].type) && fz_printable(p->sub[i].detail));
		FZ_CHECK(fz_printable(p->sub[i].identifier.type));
		FZ_CHECK(fz_printable(p->sub[i].identifier.value));
	}
	FZ_CHECK((unsigned)acme_problem_class(p) < ACME_PC__MAX);
	if (text != NULL && tiny != NULL) {
		FZ_CHECK(acme_problem_text(p, text, ACME_PROBLEM_TEXT_MAX) == 0);
		FZ_CHECK(fz_terminated(text, ACME_PROBLEM_TEXT_MAX) && fz_printable(text));
		FZ_CHECK(acme_problem_text(p, tiny, 4) == 0 && fz_terminated(tiny, 4));
	}
	free(text);
	free(tiny);
}

static void fuzz_directory(const char *body, size_t len)
{
	struct acme_directory d;
	struct acme_error e;
	int ret = acme_parse_directory(body, len, &d, &e);

	if (ret != 0) {
		check_error(ret, &e);
		return;
	}
	FZ_CHECK(https_url(d.new_nonce) && https_url(d.new_account) && https_url(d.new_order));
	FZ_CHECK(d.revoke_cert == NULL || https_url(d.revoke_cert));
	FZ_CHECK(d.key_change == NULL || https_url(d.key_change));
	FZ_CHECK(d.renewal_info == NULL || https_url(d.renewal_info));
	acme_directory_clear(&d);
}

static void fuzz_account(const char *body, size_t len, const char *location)
{
	struct acme_error e;
	char *url = NULL;
	int ret = acme_parse_account(body, len, location, &url, &e);

	if (ret != 0) {
		check_error(ret, &e);
		FZ_CHECK(url == NULL);
		return;
	}
	FZ_CHECK(location != NULL && url != NULL && strcmp(url, location) == 0);
	free(url);
}

static void fuzz_order(const char *body, size_t len)
{
	struct acme_order o;
	struct acme_error e;
	struct acme_problem *perr = calloc(1, sizeof(*perr));
	int ret;

	if (perr == NULL)
		return;
	ret = acme_parse_order(body, len, &o, perr, &e);
	if (ret != 0) {
		check_error(ret, &e);
		FZ_CHECK(o.identifiers == NULL && o.authorizations == NULL && o.finalize == NULL);
		goto out;
	}
	FZ_CHECK(o.status == ACME_ST_PENDING || o.status == ACME_ST_READY ||
	         o.status == ACME_ST_PROCESSING || o.status == ACME_ST_VALID ||
	         o.status == ACME_ST_INVALID);
	FZ_CHECK(o.n_identifiers >= 1 && o.n_identifiers <= ACME_CSR_MAX_NAMES);
	FZ_CHECK(o.n_authorizations <= ACME_CSR_MAX_NAMES);
	for (size_t i = 0; i < o.n_identifiers; i++)
		FZ_CHECK(o.identifiers[i] != NULL);
	for (size_t i = 0; i < o.n_authorizations; i++)
		FZ_CHECK(https_url(o.authorizations[i]));
	FZ_CHECK(https_url(o.finalize));
	FZ_CHECK(o.certificate == NULL || https_url(o.certificate));
	FZ_CHECK(o.status != ACME_ST_VALID || o.certificate != NULL);
	FZ_CHECK(o.url == NULL);
	if (perr->type[0] != '\0')
		check_problem(perr);
	acme_order_clear(&o);
out:
	free(perr);
}

static void fuzz_authz(const char *body, size_t len)
{
	struct acme_authz a;
	struct acme_error e;
	struct acme_problem *perr = calloc(1, sizeof(*perr));
	int ret;

	if (perr == NULL)
		return;
	ret = acme_parse_authz(body, len, &a, perr, &e);
	if (ret != 0) {
		check_error(ret, &e);
		FZ_CHECK(a.identifier == NULL && a.dns01.url == NULL && a.dns01.token == NULL);
		goto out;
	}
	FZ_CHECK((unsigned)a.status < ACME_ST__MAX && a.status != ACME_ST_READY &&
	         a.status != ACME_ST_PROCESSING);
	FZ_CHECK(a.identifier != NULL && acme_dns_name_check(a.identifier) == 0);
	FZ_CHECK(strncmp(a.identifier, "*.", 2) != 0);
	if (a.has_dns01) {
		FZ_CHECK(https_url(a.dns01.url));
		FZ_CHECK(a.dns01.token != NULL && acme_token_check(a.dns01.token) == 0);
		FZ_CHECK((unsigned)a.dns01.status < ACME_ST__MAX);
	} else {
		FZ_CHECK(a.dns01.url == NULL && a.dns01.token == NULL);
	}
	if (perr->type[0] != '\0')
		check_problem(perr);
	acme_authz_clear(&a);
out:
	free(perr);
}

static void fuzz_challenge(const char *body, size_t len)
{
	struct acme_problem *perr = calloc(1, sizeof(*perr));
	struct acme_error e;
	enum acme_status st = ACME_ST__MAX;
	int ret;

	if (perr == NULL)
		return;
	ret = acme_parse_challenge(body, len, &st, perr, &e);
	if (ret != 0) {
		check_error(ret, &e);
	} else {
		FZ_CHECK(st == ACME_ST_PENDING || st == ACME_ST_PROCESSING || st == ACME_ST_VALID ||
		         st == ACME_ST_INVALID);
		if (perr->type[0] != '\0')
			check_problem(perr);
	}
	free(perr);
}

static void fuzz_problem(const char *body, size_t len, int http_status)
{
	struct acme_problem *p = malloc(sizeof(*p));
	int ret;

	if (p == NULL)
		return;
	memset(p, 0xa5, sizeof(*p));
	ret = acme_problem_parse(body, len, http_status, p);
	FZ_CHECK(p->http_status == http_status);
	if (ret != 0) {
		FZ_CHECK(ret < 0 && ret > ACME_E__MIN);
		FZ_CHECK(strcmp(p->type, "about:blank") == 0 && p->kind == ACME_PT_OTHER);
		FZ_CHECK(p->detail[0] == '\0' && p->n_sub == 0 && p->n_sub_total == 0);
	}
	check_problem(p);
	free(p);
}

static void fuzz_ari(const char *body, size_t len)
{
	struct acme_ari_info w;
	time_t t = 0;
	int ret;

	memset(&w, 0xa5, sizeof(w));
	ret = acme_ari_parse(body, len, &w);
	if (ret != 0) {
		FZ_CHECK(ret < 0 && ret > ACME_E__MIN);
		FZ_CHECK(w.start == 0 && w.end == 0 && w.explanation_url[0] == '\0');
		return;
	}
	FZ_CHECK(w.end > w.start);
	FZ_CHECK(fz_terminated(w.explanation_url, sizeof(w.explanation_url)));
	FZ_CHECK(fz_printable(w.explanation_url) && strchr(w.explanation_url, ' ') == NULL);
	FZ_CHECK(acme_ari_renew_time(&w, NOW, 0.5, &t) == 0);
	FZ_CHECK(t >= NOW && (t == NOW || (t >= w.start && t <= w.end)));
	FZ_CHECK(acme_ari_renew_time(&w, NOW, 0.0, &t) == 0 && t >= NOW);
	FZ_CHECK(acme_ari_renew_time(&w, NOW, 1.0, &t) == 0 && t >= NOW);
	FZ_CHECK(acme_ari_in_window(&w, w.start) && !acme_ari_in_window(&w, w.end));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hit;
	const char *body;
	size_t len, kind;
	uint8_t b;

	if (size == 0)
		return 0;
	b = data[0];
	hit = b != 0 ? strchr(kinds, b) : NULL;
	kind = hit != NULL ? (size_t)(hit - kinds) : b % (sizeof(kinds) - 1);
	body = (const char *)data + 1;
	len = size - 1;
	switch (kinds[kind]) {
	case 'd':
		fuzz_directory(body, len);
		break;
	case 'a':
		fuzz_account(body, len, hit != NULL ? LOCATION : b & 1 ? NULL : "http://ca.test/a/1");
		break;
	case 'o':
		fuzz_order(body, len);
		break;
	case 'z':
		fuzz_authz(body, len);
		break;
	case 'c':
		fuzz_challenge(body, len);
		break;
	case 'p':
		fuzz_problem(body, len, hit != NULL ? 400 : b & 1 ? 0 : 503);
		break;
	case 'r':
		fuzz_ari(body, len);
		break;
	}
	return 0;
}
