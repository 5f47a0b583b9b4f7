/*
 * test_renew_schedule.c - acme/schedule.h: the pure functions, then a
 * simulated year.
 *
 * The simulation: 100,000 certificates asked for at once, issued as fast
 * as Let's Encrypt's new-orders limit allows (300 per 3 h, a sliding window
 * as acme/budget.h models it), then renewed for a year on a simulated clock
 * (one step a minute) with the scheduler's own functions: the window and
 * the stable offset for the renewal time, the priority for the order of
 * service (urgent renewals, first certificates, renewals), the reserve of
 * the new-orders limit.  For each lifetime (90, 64, 45 days) it prints the
 * daily order volume against the limit's daily capacity and asserts:
 *   - no window of the limit ever holds more than its maximum (counted
 *     from every order's time, independently of the scheduler's counter);
 *   - every certificate is renewed before not_after minus the margin;
 *   - the load of the last cycle of the year is spread: its peak day is no
 *     more than 15 % above the peak that a uniform spread over the windows
 *     predicts (the issuance histogram convolved with the window after k
 *     cycles, computed exactly), and no more than 1.25 times its mean.
 * The same simulation with no window (every certificate at renew_percent)
 * and with the old per-renewal random jitter (+-2 % of the lifetime) must
 * fail the spread checks: they are run and asserted to fail.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acme/schedule.h"

#define DAY 86400

/* ---------------------------------------------------------- functions */

static void offset_stable(void **state)
{
	double a = acme_sched_offset("Z00001.test.", "xmpp");
	double sum = 0, bins[10] = { 0 };
	char d[32];

	(void)state;
	assert_true(a >= 0.0 && a < 1.0);
	/* same domain however it is written; another service elsewhere */
	assert_true(a == acme_sched_offset("z00001.test", "xmpp"));
	assert_true(a != acme_sched_offset("z00001.test", "mail"));
	assert_true(acme_sched_offset(NULL, NULL) == acme_sched_offset("", ""));
	/* similar names land all over [0, 1) */
	for (int i = 0; i < 100000; i++) {
		double o;

		snprintf(d, sizeof(d), "z%06d.test", i);
		o = acme_sched_offset(d, "xmpp");
		assert_true(o >= 0.0 && o < 1.0);
		sum += o;
		bins[(int)(o * 10)]++;
	}
	assert_true(fabs(sum / 100000 - 0.5) < 0.01);
	for (int b = 0; b < 10; b++)
		assert_true(fabs(bins[b] - 10000) < 400);
}

static void window_math(void **state)
{
	struct acme_sched_window w;
	struct acme_ari_info ari = { 0 };
	time_t nb = 1000000, na = nb + 90 * DAY;

	(void)state;
	assert_int_equal(acme_sched_window(nb, na, 66, 10, &w), 0);
	assert_int_equal(w.start, nb + (time_t)(90 * DAY * 0.61));
	assert_int_equal(w.end, nb + (time_t)(90 * DAY * 0.71));
	assert_int_equal(acme_sched_pick(&w, 0.0), w.start);
	assert_true(acme_sched_pick(&w, 0.999999) < w.end);
	assert_int_equal(acme_sched_pick(&w, 2.0), w.end);
	assert_int_equal(acme_sched_pick(&w, NAN), w.start + (w.end - w.start) / 2);
	/* zero width: one instant */
	assert_int_equal(acme_sched_window(nb, na, 66, 0, &w), 0);
	assert_int_equal(w.start, w.end);
	/* the margin: a window reaching past not_after - 1 day is cut */
	assert_int_equal(acme_sched_window(nb, nb + 10 * DAY, 90, 10, &w), 0);
	assert_int_equal(w.end, nb + 9 * DAY);
	/* short lifetimes: a third kept */
	assert_int_equal(acme_sched_window(nb, nb + 3000, 90, 10, &w), 0);
	assert_int_equal(w.end, nb + 2000);
	/* bad input */
	assert_int_equal(acme_sched_window(na, nb, 66, 10, &w), ACME_EINVAL);
	assert_int_equal(acme_sched_window(nb, na, 66, 10, NULL), ACME_EINVAL);
	assert_int_equal(acme_sched_window(nb, na, 66, 41, &w), ACME_ERANGE);
	assert_int_equal(acme_sched_window(nb, na, 90, 12, &w), ACME_ERANGE);
	assert_int_equal(acme_sched_window(nb, na, 40, 40, &w), ACME_ERANGE);
	/* the configuration's bounds */
	assert_int_equal(acme_sched_config_ok(66, 10), 0);
	assert_int_equal(acme_sched_config_ok(50, 40), 0);
	assert_int_equal(acme_sched_config_ok(90, 10), 0);
	assert_int_equal(acme_sched_config_ok(90, 11), ACME_ERANGE);
	assert_int_equal(acme_sched_config_ok(50, 41), ACME_ERANGE);
	/* ARI: the CA's window, its end held to the margin */
	ari.start = nb + 60 * DAY;
	ari.end = nb + 62 * DAY;
	assert_int_equal(acme_sched_ari_window(&ari, nb, na, &w), 0);
	assert_int_equal(w.start, ari.start);
	assert_int_equal(w.end, ari.end);
	ari.start = na - 3600;
	ari.end = na + DAY;
	assert_int_equal(acme_sched_ari_window(&ari, nb, na, &w), 0);
	assert_int_equal(w.start, na - DAY);
	assert_int_equal(w.end, na - DAY);
	ari.end = ari.start;
	assert_int_equal(acme_sched_ari_window(&ari, nb, na, &w), ACME_ERANGE);
}

static void priority_and_reserve(void **state)
{
	struct acme_sched_window w = { 100, 200 };

	(void)state;
	assert_int_equal(acme_sched_priority(false, &w, 500), ACME_PRIO_FIRST);
	assert_int_equal(acme_sched_priority(true, &w, 150), ACME_PRIO_RENEW);
	assert_int_equal(acme_sched_priority(true, &w, 200 + ACME_SCHED_GRACE), ACME_PRIO_RENEW);
	assert_int_equal(acme_sched_priority(true, &w, 201 + ACME_SCHED_GRACE), ACME_PRIO_URGENT);
	assert_int_equal(acme_sched_priority(true, NULL, 0), ACME_PRIO_URGENT);
	assert_true(ACME_PRIO_URGENT < ACME_PRIO_FIRST && ACME_PRIO_FIRST < ACME_PRIO_RENEW);
	assert_int_equal(acme_sched_new_orders_cap(300, ACME_PRIO_RENEW, true), 240);
	assert_int_equal(acme_sched_new_orders_cap(300, ACME_PRIO_RENEW, false), 300);
	assert_int_equal(acme_sched_new_orders_cap(300, ACME_PRIO_URGENT, true), 300);
	assert_int_equal(acme_sched_new_orders_cap(300, ACME_PRIO_FIRST, true), 300);
	assert_int_equal(acme_sched_new_orders_cap(20, ACME_PRIO_RENEW, true), 16);
	assert_int_equal(acme_sched_new_orders_cap(2, ACME_PRIO_RENEW, true), 1);
	assert_int_equal(acme_sched_new_orders_cap(1, ACME_PRIO_RENEW, true), 1);
	assert_int_equal(acme_sched_new_orders_cap(0, ACME_PRIO_RENEW, true), 0);
}

/* --------------------------------------------------------- simulation */

#define N_CERTS 100000
#define SIM_STEP 60                 /* seconds per simulated step */
#define LIMIT_MAX 300               /* Let's Encrypt: new orders per account */
#define LIMIT_WINDOW (3 * 3600)     /* ... per 3 h */
#define RENEW_PCT 66                /* acme.renew_percent's default */
#define WINDOW_PCT ACME_SCHED_WINDOW_DEF
#define SPREAD_VS_UNIFORM 1.15      /* last cycle's peak over the uniform prediction */
#define SPREAD_VS_MEAN 1.25         /* last cycle's peak over its mean */

enum sim_mode { SIM_STABLE, SIM_NO_SPREAD, SIM_RANDOM };
enum { Q_NONE, Q_TIME, Q_RENEW, Q_URGENT };
enum { EV_DUE, EV_PROMOTE };

struct cert {
	time_t nb, na, due, t0;
	struct acme_sched_window win;
	double off;
	unsigned gen;
	int q;
};

struct hent {
	time_t key;
	int idx, type;
	unsigned gen;
};

struct heap {
	struct hent *a;
	size_t n, cap;
};

static void hpush(struct heap *h, time_t key, int idx, int type, unsigned gen)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 1024;
		h->a = realloc(h->a, h->cap * sizeof(*h->a));
		assert_non_null(h->a);
	}
	i = h->n++;
	h->a[i] = (struct hent){ key, idx, type, gen };
	while (i > 0 && h->a[(i - 1) / 2].key > h->a[i].key) {
		struct hent t = h->a[i];

		h->a[i] = h->a[(i - 1) / 2];
		h->a[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct hent hpop(struct heap *h)
{
	struct hent top = h->a[0];
	size_t i = 0;

	h->a[0] = h->a[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->a[l].key < h->a[m].key)
			m = l;
		if (r < h->n && h->a[r].key < h->a[m].key)
			m = r;
		if (m == i)
			break;
		struct hent t = h->a[i];

		h->a[i] = h->a[m];
		h->a[m] = t;
		i = m;
	}
	return top;
}

struct sim {
	int life_days;
	enum sim_mode mode;
	bool ari_exempt;             /* renewals exempt from the limit (ARI) */
	struct cert *c;
	struct heap time, renew, urgent;
	size_t next_first;           /* first certificates not yet ordered */
	time_t *counted;             /* times of the orders the limit counts */
	size_t n_counted, lo;
	unsigned *per_day;           /* orders per day, all of them */
	int days;
	time_t burst_end, end;
	unsigned late;               /* renewals after not_after - margin */
	unsigned urgent_orders;
};

/* One certificate issued now (its first or a renewal). */
static void issue(struct sim *s, int i, time_t now)
{
	struct cert *c = &s->c[i];
	time_t life = (time_t)s->life_days * DAY;

	if (c->na != 0 && now > acme_sched_pick(&(struct acme_sched_window){ c->na - DAY,
	                                         c->na - DAY }, 0))
		s->late++;
	c->nb = now;
	c->na = now + life;
	assert_int_equal(acme_sched_window(c->nb, c->na, RENEW_PCT,
	                                   s->mode == SIM_NO_SPREAD ? 0 : WINDOW_PCT, &c->win), 0);
	if (s->mode == SIM_RANDOM)      /* the old way: a fresh draw each time */
		assert_int_equal(acme_renew_time(c->nb, c->na, RENEW_PCT, drand48(), &c->due), 0);
	else
		c->due = acme_sched_pick(&c->win, c->off);
	c->gen++;
	c->q = Q_TIME;
	hpush(&s->time, c->due, i, EV_DUE, c->gen);
	if (now / DAY < s->days)
		s->per_day[now / DAY]++;
}

/* Events up to now: renewals coming due, renewals turning urgent. */
static void sim_events(struct sim *s, time_t now)
{
	while (s->time.n > 0 && s->time.a[0].key <= now) {
		struct hent e = hpop(&s->time);
		struct cert *c = &s->c[e.idx];

		if (e.gen != c->gen)
			continue;
		if (e.type == EV_DUE && c->q == Q_TIME) {
			if (acme_sched_priority(true, &c->win, now) == ACME_PRIO_URGENT) {
				c->q = Q_URGENT;
				hpush(&s->urgent, c->na, e.idx, 0, c->gen);
			} else {
				c->q = Q_RENEW;
				hpush(&s->renew, c->due, e.idx, 0, c->gen);
				hpush(&s->time, c->win.end + ACME_SCHED_GRACE + 1, e.idx, EV_PROMOTE,
				      c->gen);
			}
		} else if (e.type == EV_PROMOTE && c->q == Q_RENEW &&
		           acme_sched_priority(true, &c->win, now) == ACME_PRIO_URGENT) {
			c->q = Q_URGENT;    /* its entry in renew is skipped when popped */
			hpush(&s->urgent, c->na, e.idx, 0, c->gen);
		}
	}
}

/* The next waiting certificate of a queue (-1: none). */
static int qtop(struct sim *s, struct heap *h, int q)
{
	while (h->n > 0 && (s->c[h->a[0].idx].gen != h->a[0].gen || s->c[h->a[0].idx].q != q))
		(void)hpop(h);
	return h->n > 0 ? h->a[0].idx : -1;
}

/* Orders at now, in the scheduler's order, within the limit. */
static void sim_orders(struct sim *s, time_t now)
{
	while (s->lo < s->n_counted && s->counted[s->lo] <= now - LIMIT_WINDOW)
		s->lo++;
	for (;;) {
		size_t used = s->n_counted - s->lo;
		bool firsts = s->next_first < N_CERTS;
		int i;

		if ((i = qtop(s, &s->urgent, Q_URGENT)) >= 0 && (s->ari_exempt || used < LIMIT_MAX)) {
			(void)hpop(&s->urgent);
			s->urgent_orders++;
		} else if (i < 0 && firsts && used < LIMIT_MAX) {
			i = (int)s->next_first++;
			s->c[i].t0 = now;
			if (s->next_first == N_CERTS)
				s->burst_end = now;
		} else if (i < 0 && (i = qtop(s, &s->renew, Q_RENEW)) >= 0 &&
		           (s->ari_exempt ||
		            used < acme_sched_new_orders_cap(LIMIT_MAX, ACME_PRIO_RENEW, firsts))) {
			(void)hpop(&s->renew);
		} else {
			return;
		}
		if (!s->ari_exempt || s->c[i].na == 0)
			s->counted[s->n_counted++] = now;
		issue(s, i, now);
	}
}

/* The most orders the limit counts in any of its windows. */
static size_t max_in_window(const struct sim *s)
{
	size_t most = 0, lo = 0;

	for (size_t hi = 0; hi < s->n_counted; hi++) {
		while (s->counted[lo] <= s->counted[hi] - LIMIT_WINDOW)
			lo++;
		if (hi - lo + 1 > most)
			most = hi - lo + 1;
	}
	return most;
}

/* What a uniform spread predicts for days [d0, d1): each certificate's
 * k-th renewal after t0 anywhere in [t0 + k*a, t0 + k*(a + b)] with equal
 * likelihood, where [a, a + b] is the window relative to not_before. */
static void uniform_prediction(const struct sim *s, int d0, int d1, double *pred)
{
	double life = (double)s->life_days * DAY;
	double a = floor(life * (2.0 * RENEW_PCT - WINDOW_PCT) / 200.0);
	double b = floor(life * (2.0 * RENEW_PCT + WINDOW_PCT) / 200.0) - a;

	for (int d = d0; d < d1; d++)
		pred[d - d0] = 0;
	for (int i = 0; i < N_CERTS; i++) {
		for (int k = 1;; k++) {
			double lo = (double)s->c[i].t0 + k * a, hi = lo + k * b;

			if (lo >= (double)d1 * DAY)
				break;
			if (hi <= (double)d0 * DAY)
				continue;
			for (int d = (int)(lo / DAY); d <= (int)(hi / DAY) && d < d1; d++) {
				double x = fmax(lo, (double)d * DAY), y = fmin(hi, (double)(d + 1) * DAY);

				if (d >= d0 && y > x)
					pred[d - d0] += (y - x) / (hi - lo);
			}
		}
	}
}

struct sim_result {
	double peak, mean, pred_peak, first_peak;
	size_t most;
	unsigned late, waiting_late;
};

static void run_sim(int life_days, enum sim_mode mode, bool ari_exempt, struct sim_result *r)
{
	struct sim s = { .life_days = life_days, .mode = mode, .ari_exempt = ari_exempt };
	char d[32];
	int cycle, d0, d1;
	double *pred;

	srand48(42);
	s.days = 500;
	s.c = calloc(N_CERTS, sizeof(*s.c));
	s.counted = calloc(40u * N_CERTS, sizeof(*s.counted));
	s.per_day = calloc((size_t)s.days, sizeof(*s.per_day));
	assert_true(s.c != NULL && s.counted != NULL && s.per_day != NULL);
	for (int i = 0; i < N_CERTS; i++) {
		snprintf(d, sizeof(d), "z%06d.test", i + 1);
		s.c[i].off = acme_sched_offset(d, "xmpp");
	}
	s.end = 0;
	for (time_t now = 0; s.end == 0 || now < s.end; now += SIM_STEP) {
		assert_true(now < (time_t)s.days * DAY);   /* the burst never ends */
		sim_events(&s, now);
		sim_orders(&s, now);
		if (s.end == 0 && s.next_first == N_CERTS)
			s.end = s.burst_end / DAY * DAY + 365 * DAY;
		assert_true(s.n_counted < 40u * N_CERTS);
	}
	memset(r, 0, sizeof(*r));
	r->most = max_in_window(&s);
	r->late = s.late;
	/* nobody still waiting past its margin at the end */
	for (int i = 0; i < N_CERTS; i++)
		if (s.c[i].q != Q_TIME && s.end > s.c[i].na - DAY)
			r->waiting_late++;
	/* the last cycle of the year: its peak and mean, and the uniform
	 * prediction for the same days */
	cycle = (int)ceil(life_days * RENEW_PCT / 100.0);
	d1 = (int)(s.end / DAY);
	d0 = d1 - cycle;
	pred = calloc((size_t)cycle, sizeof(*pred));
	assert_non_null(pred);
	uniform_prediction(&s, d0, d1, pred);
	for (int dd = d0; dd < d1; dd++) {
		r->peak = fmax(r->peak, s.per_day[dd]);
		r->mean += s.per_day[dd] / (double)cycle;
		r->pred_peak = fmax(r->pred_peak, pred[dd - d0]);
	}
	for (int dd = 0; dd < d0; dd++)
		r->first_peak = fmax(r->first_peak, s.per_day[dd]);
	print_message("  %2d days %-9s %-7s: burst issued in %.1f days; orders/day: peak %.0f "
	              "before, last cycle (days %d-%d) peak %.0f mean %.0f (uniform spread "
	              "predicts peak %.0f); capacity %u/day; most in a window %zu/%u; "
	              "urgent orders %u; late %u + %u\n",
	              life_days, mode == SIM_STABLE ? "stable" : mode == SIM_NO_SPREAD ? "no-spread" :
	              "random", ari_exempt ? "ARI" : "counted", (double)s.burst_end / DAY,
	              r->first_peak, d0, d1, r->peak, r->mean, r->pred_peak,
	              LIMIT_MAX * (unsigned)(DAY / LIMIT_WINDOW), r->most, LIMIT_MAX,
	              s.urgent_orders, r->late, r->waiting_late);
	free(pred);
	free(s.c);
	free(s.counted);
	free(s.per_day);
	free(s.time.a);
	free(s.renew.a);
	free(s.urgent.a);
}

static bool spread_ok(const struct sim_result *r)
{
	return r->peak <= SPREAD_VS_UNIFORM * r->pred_peak && r->peak <= SPREAD_VS_MEAN * r->mean;
}

static void simulated_year(void **state)
{
	static const struct {
		int life;
		bool ari;
	} runs[] = { { 90, false }, { 64, false }, { 45, true } };
	struct sim_result r;

	(void)state;
	for (size_t k = 0; k < sizeof(runs) / sizeof(runs[0]); k++) {
		run_sim(runs[k].life, SIM_STABLE, runs[k].ari, &r);
		assert_true(r.most <= LIMIT_MAX);
		assert_int_equal(r.late, 0);
		assert_int_equal(r.waiting_late, 0);
		assert_true(spread_ok(&r));
	}
	/* the checks can fail: without a window, or with the old draw */
	run_sim(90, SIM_NO_SPREAD, false, &r);
	assert_true(r.most <= LIMIT_MAX);
	assert_false(spread_ok(&r));
	run_sim(90, SIM_RANDOM, false, &r);
	assert_false(spread_ok(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offset_stable),
		cmocka_unit_test(window_math),
		cmocka_unit_test(priority_and_reserve),
		cmocka_unit_test(simulated_year),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
