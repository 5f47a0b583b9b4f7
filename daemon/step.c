/*
 * step.c - step and kind names, step results, timing rules.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/rz_err.h"
#include "daemon/step.h"

#define CHECK_PLATEAU 12         /* propagation checks at most 250 ms apart */

static const char *const kind_names[RZ_KIND__MAX] = {
	[RZ_KIND_DNS] = "dns", [RZ_KIND_CERT] = "cert",
};

static const char *const step_names[RZ_STEP__MAX] = {
	[RZ_STEP_PUBLISH] = "publish", [RZ_STEP_VERIFY] = "verify",
	[RZ_STEP_REMOVE] = "remove", [RZ_STEP_VERIFY_REMOVED] = "verify_removed",
	[RZ_STEP_ORDER] = "order", [RZ_STEP_RESPOND] = "respond", [RZ_STEP_POLL] = "poll",
	[RZ_STEP_FINALIZE] = "finalize", [RZ_STEP_DOWNLOAD] = "download",
	[RZ_STEP_CLEANUP] = "cleanup", [RZ_STEP_VERIFY_CLEAN] = "verify_clean",
	[RZ_STEP_DEPLOY] = "deploy", [RZ_STEP_RENEW] = "renew",
};

const char *rz_kind_name(enum rz_kind k)
{
	return (unsigned)k < RZ_KIND__MAX ? kind_names[k] : NULL;
}

const char *rz_step_name(enum rz_step s)
{
	return s >= 0 && s < RZ_STEP__MAX ? step_names[s] : NULL;
}

int rz_kind_from_name(const char *name, enum rz_kind *out)
{
	for (int i = 0; name != NULL && i < RZ_KIND__MAX; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (enum rz_kind)i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

int rz_step_from_name(const char *name, enum rz_step *out)
{
	for (int i = 0; name != NULL && i < RZ_STEP__MAX; i++) {
		if (strcmp(name, step_names[i]) == 0) {
			*out = (enum rz_step)i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

bool rz_step_in_flight(enum rz_kind k, enum rz_step s)
{
	if (k != RZ_KIND_CERT)
		return false;
	switch (s) {
	case RZ_STEP_PUBLISH:
	case RZ_STEP_VERIFY:
	case RZ_STEP_RESPOND:
	case RZ_STEP_POLL:
	case RZ_STEP_FINALIZE:
	case RZ_STEP_DOWNLOAD:
		return true;
	default:
		return false;
	}
}

void rz_step_out_init(struct rz_step_out *o)
{
	memset(o, 0, sizeof(*o));
	o->res.next_step = RZ_STEP_NONE;
	o->res.dns = RZ_KEEP;
	o->res.cert = RZ_KEEP;
	o->res.active = RZ_ACTIVE_KEEP;
}

void rz_step_out_clear(struct rz_step_out *o)
{
	free(o->state_json);
	o->state_json = NULL;
	o->res.state_json = NULL;
}

void rz_step_go(struct rz_step_out *o, enum rz_step next, double delay, const char *json)
{
	o->res.next_step = next;
	o->res.delay_s = delay;
	if (json != NULL) {
		char *copy = strdup(json);

		free(o->state_json);
		o->state_json = copy;
		o->res.state_json = copy;   /* NULL when out of memory: the data stays */
	}
}

double rz_backoff(int attempts, double base, double cap, double jitter)
{
	double d = base;

	for (int i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d * (0.75 + 0.5 * jitter);
}

/*
 * 50 ms (a secondary rarely has the change sooner), growing by half to
 * 250 ms and staying there for the first dozen checks: a secondary that
 * takes a NOTIFY right after another one serves the change 0.5-1 s later,
 * and is then seen within 250 ms.  After that, growing by half to 2 s.
 */
double rz_check_delay(int polls)
{
	double d = 0.05, cap = 0.25;

	if (polls > CHECK_PLATEAU) {   /* after the plateau: from 250 ms up to 2 s */
		d = 0.25;
		cap = 2.0;
		polls -= CHECK_PLATEAU;
	}
	for (int i = 0; i < polls && d < cap; i++)
		d *= 1.5;
	return d < cap ? d : cap;
}

double rz_jitter(void)
{
	return (double)(random() % 10000) / 10000.0;
}
