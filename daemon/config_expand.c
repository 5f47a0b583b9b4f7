/*
 * config_expand.c - a stored service's records: its profile of the running
 * configuration with its stored parameters (see rz_config_expand()).
 */
#include <stdio.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/rz_err.h"

int rz_config_expand(const struct rz_config *cfg, const char *profile, const char *domain,
                     const char *params_json, const struct zg_builtins *b, struct zg_rr *rrs,
                     size_t *n, char *err, size_t errlen)
{
	const struct zg_profile *p = rz_config_profile(cfg, profile);
	struct zg_kv kv[ZG_MAX_PARAMS];
	json_t *params = NULL, *v;
	const char *key;
	size_t n_kv = 0;
	int ret;

	*n = 0;
	if (p == NULL) {
		snprintf(err, errlen, "profile '%s' is no longer in the configuration", profile);
		return RZ_ENOENT;
	}
	params = json_loads(params_json, 0, NULL);
	if (!json_is_object(params)) {
		json_decref(params);
		snprintf(err, errlen, "stored params are not a JSON object");
		return RZ_EINVAL;
	}
	json_object_foreach(params, key, v) {
		if (!json_is_string(v) || n_kv == ZG_MAX_PARAMS) {
			json_decref(params);
			snprintf(err, errlen, "stored params are not string values");
			return RZ_EINVAL;
		}
		kv[n_kv].key = key;
		kv[n_kv++].val = json_string_value(v);
	}
	ret = zg_expand_with(p, domain, b, kv, n_kv, rrs, n, err, errlen);
	json_decref(params);
	return ret;
}
