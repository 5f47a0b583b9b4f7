/*
 * render.c - generated records as zone-file text.
 */
#include <stdio.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

int zg_rr_format(const struct zg_rr *rr, char *buf, size_t buflen)
{
	const char *type = zg_rtype_name(rr->type);
	int n;

	if (type == NULL)
		return ZG_EINVAL;
	n = snprintf(buf, buflen, "%s %u IN %s %s\n", rr->owner, rr->ttl, type, rr->data);
	if (n < 0 || (size_t)n >= buflen)
		return ZG_ETOOLONG;
	return 0;
}

int zg_render(const struct zg_rr *rrs, size_t n, FILE *out)
{
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32];

	for (size_t i = 0; i < n; i++) {
		int ret = zg_rr_format(&rrs[i], line, sizeof(line));

		if (ret != 0)
			return ret;
		if (fputs(line, out) == EOF)
			return ZG_EIO;
	}
	return 0;
}
