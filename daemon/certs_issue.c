/*
 * certs_issue.c - the issuing steps of a cert job: finalize (a new key
 * beside the files, a CSR for the profile's names) and download (the
 * chain checked against the names and the key, installed with the key in
 * one rename, its row stored).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/ari.h"
#include "acme/csr.h"
#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/log.h"
#include "daemon/posh.h"
#include "daemon/rz_err.h"

/* The new key waits beside the files (certfiles.h): not over the current
 * key until the new certificate is in place.  Reused when a restart comes
 * back here; made when there is none (or it cannot be read). */
static int pending_key(const struct rz_config *cfg, const struct rz_job *job,
                       struct acme_dkey **k, char *err, size_t errlen)
{
	struct cf_policy pol = cs_policy(cfg);
	char path[4200];
	int ret;

	*k = NULL;
	if ((ret = cf_pending_key_path(&pol, job->service, job->domain, path, sizeof(path), err,
	                               errlen)) != 0)
		return ret;
	ret = acme_dkey_load(path, k, err, errlen);
	if (ret == RZ_ENOENT || (ret != 0 && ret != RZ_EIO)) {
		acme_dkey_free(*k);
		*k = NULL;
		if ((ret = acme_dkey_new(cfg->acme_key_type, k)) == 0)
			ret = acme_key_write_pem(*k, path, err, errlen);
	}
	if (ret != 0) {
		acme_dkey_free(*k);
		*k = NULL;
	}
	return ret;
}

void cs_step_finalize(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                      struct rz_step_out *o)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], err[512] = "";
	const char *ptrs[ZG_MAX_CERT_NAMES];
	struct acme_client *c;
	struct acme_order ord = { 0 }, after = { 0 };
	struct acme_error e;
	struct acme_dkey *k = NULL;
	struct acme_csr *csr = NULL;
	size_t n = 0;
	int ret;

	if ((ret = cs_client(x->cfg, &c, &e)) != 0 ||
	    (ret = acme_order_get(c, cs_get(st, "order_url"), &ord, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	if (ord.status != ACME_ST_READY) {   /* finalized before a restart */
		acme_order_clear(&ord);
		cs_go(o, RZ_STEP_POLL, 0, st);
		return;
	}
	ret = pending_key(x->cfg, job, &k, err, sizeof(err));
	if (ret == 0 && cs_names(x->cfg, job, names, ptrs, &n) != 0)
		ret = RZ_ENOENT;
	if (ret == 0)
		ret = acme_csr_new(k, ptrs, n, &csr, err, sizeof(err));
	if (ret != 0) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "key or CSR: %s", rz_strerror(ret));
		acme_dkey_free(k);
		acme_order_clear(&ord);
		cs_retry(o, job, err);
		return;
	}
	ret = acme_order_finalize(c, ord.url, ord.finalize, csr, &after, &e);
	acme_csr_free(csr);
	acme_dkey_free(k);
	acme_order_clear(&ord);
	acme_order_clear(&after);
	if (ret != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	cs_audit(o, "acme", "acme: order finalized with a %s key",
	         acme_key_type_name(x->cfg->acme_key_type));
	cs_go(o, RZ_STEP_POLL, 0.2, st);
}

/* What the certificate row keeps of the leaf. */
struct leaf {
	char serial[128], issuer[512], ari[ACME_ARI_CERT_ID_SIZE];
	time_t not_before, not_after;
};

/* Serial (hex), issuer (one line), validity and ARI id of the leaf. */
static int leaf_info(const char *pem, struct leaf *l)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int ret = RZ_ESYNTAX;

	memset(l, 0, sizeof(*l));
	if (hex != NULL && acme_cert_validity(x, &l->not_before, &l->not_after) == 0) {
		BIO *ib = BIO_new(BIO_s_mem());
		char *p = NULL;
		long n;

		snprintf(l->serial, sizeof(l->serial), "%s", hex);
		if (ib != NULL && X509_NAME_print_ex(ib, X509_get_issuer_name(x), 0,
		                                     XN_FLAG_RFC2253) >= 0 &&
		    (n = BIO_get_mem_data(ib, &p)) > 0)
			snprintf(l->issuer, sizeof(l->issuer), "%.*s", (int)n, p);
		BIO_free(ib);
		if (acme_ari_cert_id(x, l->ari, sizeof(l->ari)) < 0)
			l->ari[0] = '\0';
		ret = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

/* Install pem for the job (certfiles.h), with its POSH documents when
 * they are on (posh.h: in the same generation, so they go live with the
 * certificate they describe), unless a restart after the install finds it
 * in place already.  0; RZ_ENOENT when no key of this order is left (a new
 * order is needed); another code with err. */
static int install(const struct rz_config *cfg, const struct rz_job *job, const char *pem,
                   const char *serial, char *err, size_t errlen)
{
	struct cf_policy pol = cs_policy(cfg);
	struct cf_extra posh[2];
	struct acme_dkey *k = NULL;
	char newkey[4200], *installed = NULL, *doc = NULL;
	size_t doclen = 0;
	int ret;

	if (cf_installed_chain(&pol, job->service, job->domain, &installed, err, errlen) == 0 &&
	    strcmp(installed, pem) == 0) {
		free(installed);
		return 0;
	}
	free(installed);
	if ((ret = cf_pending_key_path(&pol, job->service, job->domain, newkey, sizeof(newkey),
	                               err, errlen)) != 0)
		return ret;
	/* The key of this order, and only it. */
	ret = acme_dkey_load(newkey, &k, err, errlen);
	if (ret == 0 && acme_dkey_check_cert(k, pem) != 0)
		ret = RZ_ENOENT;
	acme_dkey_free(k);
	if (ret != 0)
		return RZ_ENOENT;
	if (!cs_posh_on(cfg, job))
		return cf_install(&pol, job->service, job->domain, pem, serial, err, errlen);
	if ((ret = posh_doc(pem, time(NULL), &doc, &doclen, err, errlen)) != 0)
		return ret;
	posh[0] = (struct cf_extra){ POSH_CLIENT_FILE, doc, doclen };
	posh[1] = (struct cf_extra){ POSH_SERVER_FILE, doc, doclen };
	ret = cf_install_extra(&pol, job->service, job->domain, pem, serial, posh, 2, err, errlen);
	free(doc);
	return ret;
}

/* Does the leaf of pem certify exactly the names?  When not, why says
 * what it names. */
static bool names_certified(const char *const *names, size_t n, const char *pem, char *why,
                            size_t whylen)
{
	char **got = NULL;
	size_t n_got = 0, off;
	bool same;

	if (acme_cert_names(pem, &got, &n_got) != 0) {
		snprintf(why, whylen, "the CA's certificate names cannot be read");
		return false;
	}
	same = acme_names_same_set(names, n, (const char *const *)got, n_got);
	if (!same) {
		off = (size_t)snprintf(why, whylen, "the CA's certificate names");
		for (size_t i = 0; i < n_got && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, " %s", got[i]);
		if (off < whylen)
			snprintf(why + off, whylen - off, ", not the %zu names ordered: not installed", n);
	}
	acme_names_free(got, n_got);
	return same;
}

/* The certificate's row (and its 'cert_issued' event). */
static int cert_row(const struct rz_step_ctx *x, const struct rz_job *job, const json_t *st,
                    const char *pem, const struct leaf *l, const char *const *names,
                    size_t n, const char *dir, char *err, size_t errlen)
{
	char key[4300], chain[4300], reg[ZG_OWNER_SIZE];
	struct certstore_cert row;

	snprintf(key, sizeof(key), "%s/" CF_KEY_FILE, dir);
	snprintf(chain, sizeof(chain), "%s/" CF_CHAIN_FILE, dir);
	cs_reg_domain(job->domain, reg, sizeof(reg));
	row = (struct certstore_cert){
		.domain = job->domain, .service = job->service, .serial = l->serial,
		.issuer = l->issuer, .profile = job->profile, .chain_pem = pem, .names = names,
		.n_names = n, .order_id = cs_order_id(st), .not_before = l->not_before,
		.not_after = l->not_after, .ari_cert_id = l->ari[0] ? l->ari : NULL,
		.key_path = key, .chain_path = chain,
		.key_type = acme_key_type_name(x->cfg->acme_key_type), .reg_domain = reg,
	};
	return certstore_cert_add(x->db, &row, err, errlen);
}

/* No key for this certificate any more: a new order, after cleanup. */
static void key_gone(const struct rz_job *job, json_t *st, struct rz_step_out *o)
{
	json_object_set_new(st, "after", json_string("retry"));
	json_object_set_new(st, "error", json_string("the certificate's private key is gone: a "
	                                             "new order is needed"));
	cs_audit(o, "error", "certificate: %s: %s", job->step_name, cs_get(st, "error"));
	cs_go(o, RZ_STEP_CLEANUP, 0, st);
}

static void issued(const struct rz_job *job, json_t *st, struct rz_step_out *o,
                   const struct leaf *l, const char *dir)
{
	struct tm tm;
	char when[32];

	json_object_set_new(st, "serial", json_string(l->serial));
	json_object_set_new(st, "after", json_string("deploy"));
	json_object_del(st, "account_again");   /* counted per order */
	gmtime_r(&l->not_after, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	cs_audit(o, "acme", "acme: certificate %s issued by %s, valid until %s UTC; written to "
	         "%.1000s", l->serial, l->issuer, when, dir);
	rz_log_zone(RZ_LOG_INFO, job->domain, "certificate %s issued", l->serial);
	cs_go(o, RZ_STEP_CLEANUP, 0, st);
}

void cs_step_download(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                      struct rz_step_out *o)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], dir[4200], err[1024] = "", why[1024];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	struct acme_client *c;
	struct acme_error e;
	struct leaf l;
	char *pem = NULL;
	size_t n = 0;
	int ret;

	if ((ret = cs_client(x->cfg, &c, &e)) != 0 ||
	    (ret = acme_cert_download(c, cs_get(st, "cert_url"), &pem, NULL, NULL, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	if (cs_live_dir(x->cfg, job, dir, sizeof(dir)) != 0 || leaf_info(pem, &l) != 0) {
		cs_retry(o, job, "the CA's certificate cannot be read");
	} else if (cs_names(x->cfg, job, names, ptrs, &n) != 0 || n == 0) {
		cs_give_up(o, job, st, "the profile names no certificate names");
	} else if (!names_certified(ptrs, n, pem, why, sizeof(why))) {
		cs_give_up(o, job, st, why);
	} else if ((ret = install(x->cfg, job, pem, l.serial, err, sizeof(err))) == RZ_ENOENT) {
		key_gone(job, st, o);
	} else if (ret != 0 ||
	           (ret = cert_row(x, job, st, pem, &l, ptrs, n, dir, err, sizeof(err))) != 0) {
		/* The chain and the key changed together (one rename); the row
		 * follows on the next attempt, which finds them in place. */
		cs_retry(o, job, err);
	} else {
		issued(job, st, o, &l, dir);
	}
	free(pem);
}
