/*
 * fuzz_request.c - rz_req_parse() (daemon/request.h) on the bytes of one
 * ZeroMQ message, with the profiles of config/regzone.example.yaml (loaded
 * once), then the reply built from its result.  Reaches the domain
 * validator zg_dname_check() and a dry-run zg_expand() of the profile.
 *
 * Checked besides memory safety: a refusal has a code, a printable
 * message, owns nothing and keeps only a valid id; an accepted request has
 * a domain in zg_dname_check() normal form, params_json that is a JSON
 * object of n_params strings, a 64-digit digest; every reply is JSON.
 */
#include <string.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/request.h"
#include "daemon/rz_err.h"
#include "tests/fuzz/fuzz.h"
#include "zonegen/zonegen.h"

#define EXAMPLE_CONFIG RZ_FUZZ_SRCDIR "/config/regzone.example.yaml"

/* libFuzzer calls the target from main(): the configuration it reads is
 * set up once here and only read afterwards. */
static struct rz_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024] = "";

	(void)argc;
	(void)argv;
	if (rz_config_load(EXAMPLE_CONFIG, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_request: %s\n", err);
		exit(1);
	}
	return 0;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	return n <= RZ_REQ_ID_MAX &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                  "0123456789._:@/+=-") == n;
}

static void check_accepted(const struct rz_req *req)
{
	char norm[ZG_OWNER_SIZE];
	json_t *params = NULL;

	FZ_CHECK(req->id[0] != '\0' && id_ok(req->id));
	FZ_CHECK((unsigned)req->action < RZ_ACT__MAX);
	FZ_CHECK(req->service[0] != '\0');
	FZ_CHECK(zg_dname_check(req->domain, norm, sizeof(norm), NULL, 0) == 0);
	FZ_CHECK(strcmp(norm, req->domain) == 0);
	FZ_CHECK((req->action == RZ_ACT_ENABLE) == (req->profile[0] != '\0'));
	FZ_CHECK(req->n_params <= ZG_MAX_PARAMS);
	FZ_CHECK(strlen(req->body_sha256) == 64 &&
	         strspn(req->body_sha256, "0123456789abcdef") == 64);
	FZ_CHECK(req->params_json != NULL);
	params = json_loads(req->params_json, JSON_REJECT_DUPLICATES, NULL);
	FZ_CHECK(params != NULL && json_is_object(params));
	FZ_CHECK(json_object_size(params) == req->n_params);
	for (size_t i = 0; i < req->n_params; i++) {
		const json_t *v = json_object_get(params, req->params[i].key);

		FZ_CHECK(v != NULL && json_is_string(v));
		FZ_CHECK(strcmp(json_string_value(v), req->params[i].val) == 0);
	}
	json_decref(params);
}

static void check_refused(int ret, const struct rz_req *req, const struct rz_req_error *err)
{
	FZ_CHECK(ret < 0 && ret > RZ_E__MIN);
	FZ_CHECK(err->code != RZ_RC_OK && (unsigned)err->code < RZ_RC__MAX);
	FZ_CHECK(fz_terminated(err->message, sizeof(err->message)));
	FZ_CHECK(err->message[0] != '\0' && fz_printable(err->message));
	FZ_CHECK(req->params_json == NULL && req->params_store == NULL && req->n_params == 0);
	FZ_CHECK(fz_terminated(req->id, sizeof(req->id)) && id_ok(req->id));
	FZ_CHECK(req->body_sha256[0] == '\0' || strlen(req->body_sha256) == 64);
}

/* The reply the daemon would send is JSON with the request's id. */
static void check_reply(char *reply, const char *id)
{
	json_t *j = NULL, *jid;

	if (reply == NULL)
		return;   /* out of memory */
	j = json_loads(reply, JSON_REJECT_DUPLICATES, NULL);
	FZ_CHECK(j != NULL && json_is_object(j));
	jid = json_object_get(j, "id");
	if (id[0] == '\0')
		FZ_CHECK(json_is_null(jid));
	else
		FZ_CHECK(json_is_string(jid) && strcmp(json_string_value(jid), id) == 0);
	json_decref(j);
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rz_req req;
	struct rz_req_error err;
	int ret;

	ret = rz_req_parse(cfg, (const char *)data, size, &req, &err);
	if (ret == 0) {
		check_accepted(&req);
		check_reply(rz_reply_ok(req.id, NULL), req.id);
	} else {
		check_refused(ret, &req, &err);
		check_reply(rz_reply_error(req.id, err.code, err.message), req.id);
	}
	rz_req_clear(&req);
	return 0;
}
