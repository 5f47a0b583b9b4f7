/*
 * test_metrics.c - the metrics registry and its listener (metrics.h): the
 * exact text of a small registry (every kind, labels escaped, cumulative
 * buckets), names refused, NULL and wrong-kind calls ignored, the series
 * bound, exact counts under eight threads, collect functions, promtool's
 * verdict on the text, and the HTTP listener over a plain socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "daemon/rz_err.h"

#define PROMTOOL "/usr/bin/promtool"

static int setup(void **state)
{
	(void)state;
	return rz_metrics_init();
}

static int teardown(void **state)
{
	(void)state;
	rz_metrics_free();
	return 0;
}

static char *render(void)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(rz_metrics_render(&text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* The text after the two metrics rz_metrics_init() registers, which are
 * checked on the way (the start time within a minute of now). */
static const char *after_standard(const char *text)
{
	static const char head[] =
		"# HELP regzone_build_info The version of regzone running (always 1).\n"
		"# TYPE regzone_build_info gauge\n"
		"regzone_build_info{version=\"" REGZONE_VERSION "\"} 1\n"
		"# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		"# TYPE process_start_time_seconds gauge\n"
		"process_start_time_seconds ";
	char *end;
	double t;

	assert_memory_equal(text, head, sizeof(head) - 1);
	t = strtod(text + sizeof(head) - 1, &end);
	assert_true(*end == '\n');
	assert_true(fabs(t - (double)time(NULL)) < 60);
	return end + 1;
}

static void test_render_exact(void **state)
{
	static const double b3[] = { 0.25, 1, 2.5 }, b1[] = { 1 };
	struct rz_metric *req, *plain, *unused, *temp, *step, *wait;
	char *text;

	(void)state;
	req = rz_metric_counter("rz_requests_total", "Requests by action.", "action", "code");
	plain = rz_metric_counter("rz_plain_total", "No labels.", NULL, NULL);
	unused = rz_metric_counter("rz_unused_total", "Never counted.", "kind", NULL);
	temp = rz_metric_gauge("rz_temp", "A gauge\\ with \"quotes\"\nand a newline.", "where", NULL);
	step = rz_metric_histogram("rz_step_seconds", "Step durations.", b3, 3, "step", NULL);
	wait = rz_metric_histogram("rz:wait_seconds", "Not observed.", b1, 1, NULL, NULL);
	assert_non_null(req);
	assert_non_null(plain);
	assert_non_null(unused);
	assert_non_null(temp);
	assert_non_null(step);
	assert_non_null(wait);

	rz_metric_inc(req, "enable", "ok");
	rz_metric_inc(req, "enable", "ok");
	rz_metric_add(req, "a\"b\\c", "line\nbreak", 3);
	rz_metric_add(req, "enable", "ok", 0.5);
	rz_metric_inc(plain, NULL, NULL);
	rz_metric_inc(plain, "ignored", "ignored");
	rz_metric_set(temp, "x", NULL, -2.5);
	rz_metric_add(temp, "x", NULL, 1);
	rz_metric_set(temp, "y", "ignored", 0.1);
	rz_metric_set(temp, "third", NULL, 1.0 / 3);
	rz_metric_set(temp, "big", NULL, 1e21);
	rz_metric_set(temp, "inf", NULL, INFINITY);
	rz_metric_set(temp, "ninf", NULL, -INFINITY);
	rz_metric_set(temp, "nan", NULL, NAN);
	rz_metric_set(temp, "", NULL, 7);
	rz_metric_set(temp, "caf\xc3\xa9", NULL, 0);
	rz_metric_observe(step, "publish", NULL, 0.125);
	rz_metric_observe(step, "publish", NULL, 0.25);   /* le is <=: the first bucket */
	rz_metric_observe(step, "publish", NULL, 0.5);
	rz_metric_observe(step, "publish", NULL, 3);
	rz_metric_observe(step, "verify", NULL, 1);

	text = render();
	assert_string_equal(after_standard(text),
		"# HELP rz_requests_total Requests by action.\n"
		"# TYPE rz_requests_total counter\n"
		"rz_requests_total{action=\"enable\",code=\"ok\"} 2.5\n"
		"rz_requests_total{action=\"a\\\"b\\\\c\",code=\"line\\nbreak\"} 3\n"
		"# HELP rz_plain_total No labels.\n"
		"# TYPE rz_plain_total counter\n"
		"rz_plain_total 2\n"
		"# HELP rz_unused_total Never counted.\n"
		"# TYPE rz_unused_total counter\n"
		"# HELP rz_temp A gauge\\\\ with \"quotes\"\\nand a newline.\n"
		"# TYPE rz_temp gauge\n"
		"rz_temp{where=\"x\"} -1.5\n"
		"rz_temp{where=\"y\"} 0.1\n"
		"rz_temp{where=\"third\"} 0.33333333333333331\n"
		"rz_temp{where=\"big\"} 1e+21\n"
		"rz_temp{where=\"inf\"} +Inf\n"
		"rz_temp{where=\"ninf\"} -Inf\n"
		"rz_temp{where=\"nan\"} NaN\n"
		"rz_temp{where=\"\"} 7\n"
		"rz_temp{where=\"caf\xc3\xa9\"} 0\n"
		"# HELP rz_step_seconds Step durations.\n"
		"# TYPE rz_step_seconds histogram\n"
		"rz_step_seconds_bucket{step=\"publish\",le=\"0.25\"} 2\n"
		"rz_step_seconds_bucket{step=\"publish\",le=\"1\"} 3\n"
		"rz_step_seconds_bucket{step=\"publish\",le=\"2.5\"} 3\n"
		"rz_step_seconds_bucket{step=\"publish\",le=\"+Inf\"} 4\n"
		"rz_step_seconds_sum{step=\"publish\"} 3.875\n"
		"rz_step_seconds_count{step=\"publish\"} 4\n"
		"rz_step_seconds_bucket{step=\"verify\",le=\"0.25\"} 0\n"
		"rz_step_seconds_bucket{step=\"verify\",le=\"1\"} 1\n"
		"rz_step_seconds_bucket{step=\"verify\",le=\"2.5\"} 1\n"
		"rz_step_seconds_bucket{step=\"verify\",le=\"+Inf\"} 1\n"
		"rz_step_seconds_sum{step=\"verify\"} 1\n"
		"rz_step_seconds_count{step=\"verify\"} 1\n"
		"# HELP rz:wait_seconds Not observed.\n"
		"# TYPE rz:wait_seconds histogram\n"
		"rz:wait_seconds_bucket{le=\"1\"} 0\n"
		"rz:wait_seconds_bucket{le=\"+Inf\"} 0\n"
		"rz:wait_seconds_sum 0\n"
		"rz:wait_seconds_count 0\n");
	free(text);
}

enum kind { COUNTER, GAUGE, HISTOGRAM };

static struct rz_metric *reg_kind(enum kind k, const char *name, const char *help,
                                  const double *b, size_t nb, const char *l1, const char *l2)
{
	if (k == COUNTER)
		return rz_metric_counter(name, help, l1, l2);
	if (k == GAUGE)
		return rz_metric_gauge(name, help, l1, l2);
	return rz_metric_histogram(name, help, b, nb, l1, l2);
}

static void test_refused(void **state)
{
	static const double ok[] = { 1, 2 }, flat[] = { 1, 1 }, down[] = { 2, 1 },
	                    nan2[] = { 1, NAN }, inf[] = { 1, INFINITY }, many[33] = { 0 };
	char long_name[RZ_METRIC_NAME_MAX + 2];
	static const struct {
		enum kind kind;
		const char *name, *help, *l1, *l2;
		const double *bounds;
		size_t n;
	} cases[] = {
		{ COUNTER, NULL, "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "", "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "1rz_total", "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "rz-x_total", "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "rz x_total", "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "rz_\xc3\xa9_total", "h", NULL, NULL, NULL, 0 },
		{ COUNTER, "rz_requests", "h", NULL, NULL, NULL, 0 },     /* no _total */
		{ GAUGE, "rz_g", NULL, NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_g", "", NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_g", "tab\there", NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_g", "bad \xff utf-8", NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_g", "overlong \xc0\xaf", NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", "__reserved", NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", "1a", NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", "a:b", NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", "a-b", NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", "", NULL, NULL, 0 },
		{ GAUGE, "rz_g", "h", NULL, "second", NULL, 0 },
		{ GAUGE, "rz_g", "h", "same", "same", NULL, 0 },
		{ HISTOGRAM, "rz_h", "h", "le", NULL, ok, 2 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, NULL, 2 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, ok, 0 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, many, 33 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, flat, 2 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, down, 2 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, nan2, 2 },
		{ HISTOGRAM, "rz_h", "h", NULL, NULL, inf, 2 },
		/* clashes with the ones registered below */
		{ GAUGE, "rz_taken_seconds_sum", "h", NULL, NULL, NULL, 0 },
		{ GAUGE, "rz_taken_seconds_bucket", "h", NULL, NULL, NULL, 0 },
		{ HISTOGRAM, "rz_level", "h", NULL, NULL, ok, 2 },                 /* rz_level_count */
		{ GAUGE, "rz_taken_seconds", "h", NULL, NULL, NULL, 0 },           /* other kind */
		{ HISTOGRAM, "rz_taken_seconds", "h", "other", NULL, ok, 2 },      /* other labels */
		{ HISTOGRAM, "rz_taken_seconds", "h", NULL, NULL, ok, 1 },         /* other bounds */
		{ GAUGE, "process_start_time_seconds", "h", "x", NULL, NULL, 0 },
	};
	struct rz_metric *taken, *level;

	(void)state;
	taken = rz_metric_histogram("rz_taken_seconds", "h", ok, 2, NULL, NULL);
	level = rz_metric_gauge("rz_level_count", "h", NULL, NULL);
	assert_non_null(taken);
	assert_non_null(level);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rz_metric *m = reg_kind(cases[i].kind, cases[i].name, cases[i].help,
		                               cases[i].bounds, cases[i].n, cases[i].l1, cases[i].l2);

		if (m != NULL)
			fail_msg("case %zu (%s) was accepted", i, cases[i].name ? cases[i].name : "NULL");
	}
	/* the same metric again is the one there (any help text) */
	assert_ptr_equal(rz_metric_histogram("rz_taken_seconds", "other help", ok, 2, NULL, NULL),
	                 taken);
	assert_ptr_equal(rz_metric_gauge("rz_level_count", "h", NULL, NULL), level);

	/* a name of exactly the longest length, and one byte more */
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_null(rz_metric_gauge(long_name, "h", NULL, NULL));
	long_name[RZ_METRIC_NAME_MAX] = '\0';
	assert_non_null(rz_metric_gauge(long_name, "h", NULL, NULL));

	/* the registry holds RZ_METRICS_MAX metrics, no more */
	for (int i = 0;; i++) {
		char name[32];

		snprintf(name, sizeof(name), "rz_fill_%d", i);
		if (rz_metric_gauge(name, "h", NULL, NULL) == NULL) {
			assert_int_equal(i, RZ_METRICS_MAX - 5);   /* 2 standard + 3 above */
			break;
		}
	}

	/* started once only; nothing registers or renders once freed */
	assert_int_equal(rz_metrics_init(), RZ_EEXIST);
	rz_metrics_free();
	{
		char *text = (char *)"x";
		size_t len = 9;

		assert_null(rz_metric_gauge("rz_after", "h", NULL, NULL));
		assert_int_equal(rz_metrics_render(&text, &len), RZ_EINVAL);
		assert_null(text);
		assert_int_equal(len, 0);
		assert_int_equal(rz_metrics_render(NULL, &len), RZ_EINVAL);
	}
	assert_int_equal(rz_metrics_init(), 0);
}

static void collect_never(void *arg, struct rz_metric *m)
{
	(void)arg;
	(void)m;
	fail_msg("collect function of a counter called");
}

static void test_ignored(void **state)
{
	static const double b[] = { 1 };
	struct rz_metric *c, *g, *h;
	char *before, *after;

	(void)state;
	c = rz_metric_counter("rz_c_total", "c", "k", NULL);
	g = rz_metric_gauge("rz_g", "g", NULL, NULL);
	h = rz_metric_histogram("rz_h", "h", b, 1, NULL, NULL);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	rz_metric_inc(c, "x", NULL);
	before = render();

	/* a metric whose registration failed: no-ops */
	rz_metric_inc(NULL, "a", "b");
	rz_metric_add(NULL, NULL, NULL, 1);
	rz_metric_set(NULL, "a", NULL, 1);
	rz_metric_observe(NULL, NULL, "b", 1);
	rz_metric_on_scrape(NULL, collect_never, NULL);
	/* the wrong kind, or a value a counter or histogram cannot take */
	rz_metric_set(c, "x", NULL, 100);
	rz_metric_observe(c, "x", NULL, 1);
	rz_metric_add(c, "x", NULL, -1);
	rz_metric_add(c, "x", NULL, NAN);
	rz_metric_add(c, "x", NULL, INFINITY);
	rz_metric_observe(g, NULL, NULL, 1);
	rz_metric_inc(h, NULL, NULL);
	rz_metric_add(h, NULL, NULL, 1);
	rz_metric_set(h, NULL, NULL, 1);
	rz_metric_observe(h, NULL, NULL, NAN);
	rz_metric_on_scrape(c, collect_never, NULL);
	rz_metric_on_scrape(h, collect_never, NULL);

	after = render();
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_true(rz_metrics_clock() > 0);
}

/* The sum of the samples of name{...} in text, and how many there are. */
static double sum_series(const char *text, const char *prefix, int *n)
{
	double sum = 0;
	size_t k = strlen(prefix);

	*n = 0;
	for (const char *l = text; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *sp;

		if (strncmp(l, prefix, k) != 0)
			continue;
		sp = strstr(l, "} ");
		assert_non_null(sp);
		sum += strtod(sp + 2, NULL);
		(*n)++;
	}
	return sum;
}

static void test_series_bound(void **state)
{
	struct rz_metric *one, *two, *own;
	char v[32], w[32], longest[RZ_METRIC_VALUE_MAX + 1], toolong[RZ_METRIC_VALUE_MAX + 2];
	char *text;
	int n;

	(void)state;
	one = rz_metric_counter("rz_one_total", "one label", "k", NULL);
	two = rz_metric_counter("rz_two_total", "two labels", "a", "b");
	assert_non_null(one);
	assert_non_null(two);
	for (int i = 0; i < 1000; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		snprintf(w, sizeof(w), "w%d", i % 7);
		rz_metric_inc(one, v, NULL);
		rz_metric_add(two, v, w, 2);
	}
	text = render();
	assert_true(sum_series(text, "rz_one_total{", &n) == 1000);
	assert_int_equal(n, RZ_METRIC_SERIES_MAX + 1);
	assert_non_null(strstr(text, "rz_one_total{k=\"v63\"} 1\n"));
	assert_null(strstr(text, "rz_one_total{k=\"v64\"}"));
	assert_non_null(strstr(text, "rz_one_total{k=\"other\"} 936\n"));
	assert_true(sum_series(text, "rz_two_total{", &n) == 2000);
	assert_int_equal(n, RZ_METRIC_SERIES_MAX + 1);
	assert_non_null(strstr(text, "rz_two_total{a=\"other\",b=\"other\"} 1872\n"));
	free(text);

	/* values that cannot be shown go to "other" while there is room; a
	 * caller's own "other" is the overflow series, never a second one */
	memset(toolong, 'x', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	memcpy(longest, toolong, sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	own = rz_metric_counter("rz_own_total", "own other", "k", NULL);
	rz_metric_inc(own, "other", NULL);
	rz_metric_inc(own, longest, NULL);
	rz_metric_inc(own, NULL, NULL);
	rz_metric_inc(own, toolong, NULL);
	rz_metric_inc(own, "cut \xe2\x82", NULL);
	rz_metric_inc(own, "surrogate \xed\xa0\x80", NULL);
	rz_metric_inc(own, "overlong \xe0\x80\xaf", NULL);
	rz_metric_inc(own, "too high \xf4\x90\x80\x80", NULL);
	text = render();
	assert_true(sum_series(text, "rz_own_total{", &n) == 8);
	assert_int_equal(n, 2);
	assert_non_null(strstr(text, "rz_own_total{k=\"other\"} 7\n"));
	assert_non_null(strstr(text, longest));
	free(text);
	for (int i = 0; i < 100; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		rz_metric_inc(own, v, NULL);
	}
	text = render();
	assert_true(sum_series(text, "rz_own_total{", &n) == 108);
	assert_int_equal(n, RZ_METRIC_SERIES_MAX);
	assert_non_null(strstr(text, "rz_own_total{k=\"other\"} 45\n"));   /* 7 + v62..v99 */
	assert_null(strstr(text, toolong));
	free(text);
}

#define THREADS 8
#define PER_THREAD 100000

struct hammer {
	struct rz_metric *plain, *labelled, *hist;
	int id;
};

static void *hammer_run(void *arg)
{
	const struct hammer *h = arg;
	static const char *const kinds[] = { "dns", "cert", "acme" };

	for (int i = 0; i < PER_THREAD; i++) {
		rz_metric_inc(h->plain, NULL, NULL);
		rz_metric_inc(h->labelled, kinds[(i + h->id) % 3], h->id % 2 ? "odd" : "even");
		rz_metric_observe(h->hist, NULL, NULL, (double)(i % 4));
	}
	return NULL;
}

struct renders {
	atomic_bool stop;
	int renders, bad;   /* renders done; how many saw +Inf differ from _count */
};

/* Render until told to stop: in each, the histogram's +Inf bucket must be
 * its _count (a snapshot consistent within the metric).  No cmocka
 * asserts in this thread: the main one checks the counts. */
static void *render_run(void *arg)
{
	static const char inf_s[] = "rz_hammer_seconds_bucket{le=\"+Inf\"} ";
	static const char count_s[] = "rz_hammer_seconds_count ";
	struct renders *r = arg;

	while (!atomic_load(&r->stop)) {
		char *text = NULL;
		size_t len;
		const char *inf, *count;

		if (rz_metrics_render(&text, &len) != 0) {
			r->bad++;
			continue;
		}
		inf = strstr(text, inf_s);
		count = strstr(text, count_s);
		if (inf == NULL || count == NULL ||
		    strtoull(inf + sizeof(inf_s) - 1, NULL, 10) !=
		    strtoull(count + sizeof(count_s) - 1, NULL, 10))
			r->bad++;
		r->renders++;
		free(text);
	}
	return NULL;
}

static void test_threads(void **state)
{
	static const double b[] = { 0.5, 1.5, 2.5 };
	struct hammer h[THREADS];
	pthread_t t[THREADS], r;
	struct renders rs = { false, 0, 0 };
	char *text;
	int n;

	(void)state;
	h[0].plain = rz_metric_counter("rz_hammer_total", "h", NULL, NULL);
	h[0].labelled = rz_metric_counter("rz_hammer_kind_total", "h", "kind", "parity");
	h[0].hist = rz_metric_histogram("rz_hammer_seconds", "h", b, 3, NULL, NULL);
	assert_non_null(h[0].plain);
	assert_non_null(h[0].labelled);
	assert_non_null(h[0].hist);
	assert_int_equal(pthread_create(&r, NULL, render_run, &rs), 0);
	for (int i = 0; i < THREADS; i++) {
		h[i] = h[0];
		h[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&rs.stop, true);
	pthread_join(r, NULL);
	assert_true(rs.renders > 0);
	assert_int_equal(rs.bad, 0);

	text = render();
	assert_non_null(strstr(text, "\nrz_hammer_total 800000\n"));
	assert_true(sum_series(text, "rz_hammer_kind_total{", &n) == THREADS * PER_THREAD);
	assert_int_equal(n, 6);
	assert_non_null(strstr(text, "\nrz_hammer_seconds_bucket{le=\"0.5\"} 200000\n"
	                             "rz_hammer_seconds_bucket{le=\"1.5\"} 400000\n"
	                             "rz_hammer_seconds_bucket{le=\"2.5\"} 600000\n"
	                             "rz_hammer_seconds_bucket{le=\"+Inf\"} 800000\n"
	                             "rz_hammer_seconds_sum 1200000\n"
	                             "rz_hammer_seconds_count 800000\n"));
	free(text);
}

struct due {
	int calls;
	struct rz_metric *seen;
};

/* First scrape: two series; later ones: only the second. */
static void collect_due(void *arg, struct rz_metric *m)
{
	struct due *d = arg;

	d->seen = m;
	if (d->calls++ == 0)
		rz_metric_set(m, "dns", "publish", 3);
	rz_metric_set(m, "cert", "order", d->calls);
}

static void test_collect(void **state)
{
	struct rz_metric *g;
	struct due d = { 0, NULL };
	char *text;

	(void)state;
	g = rz_metric_gauge("rz_jobs_due", "Jobs due by kind and step.", "kind", "step");
	assert_non_null(g);
	rz_metric_on_scrape(g, collect_due, &d);
	text = render();
	assert_int_equal(d.calls, 1);
	assert_ptr_equal(d.seen, g);
	assert_non_null(strstr(text, "# TYPE rz_jobs_due gauge\n"
	                             "rz_jobs_due{kind=\"dns\",step=\"publish\"} 3\n"
	                             "rz_jobs_due{kind=\"cert\",step=\"order\"} 1\n"));
	free(text);
	text = render();
	assert_int_equal(d.calls, 2);
	assert_non_null(strstr(text, "# TYPE rz_jobs_due gauge\n"
	                             "rz_jobs_due{kind=\"cert\",step=\"order\"} 2\n"));
	assert_null(strstr(text, "publish"));   /* gone from the database: gone here */
	free(text);
	/* removed: no more calls, the series shown as they are */
	rz_metric_on_scrape(g, NULL, &d);
	rz_metric_set(g, "dns", "publish", 5);
	text = render();
	assert_int_equal(d.calls, 2);
	assert_non_null(strstr(text, "rz_jobs_due{kind=\"dns\",step=\"publish\"} 5\n"));
	free(text);
}

/* promtool check metrics on the text: exit 0 and not a line of output. */
static void test_promtool(void **state)
{
	static const double b[] = { 0.01, 0.1, 1, 10 };
	struct rz_metric *c, *g, *h;
	char path[] = "/tmp/test_metrics.XXXXXX";
	char cmd[128], line[512], *text;
	FILE *p;
	int fd, rc, lines = 0;

	(void)state;
	if (access(PROMTOOL, X_OK) != 0) {
		print_message("%s missing: not checked\n", PROMTOOL);
		return;
	}
	c = rz_metric_counter("regzone_requests_total", "Requests by action and result.", "action",
	                      "code");
	g = rz_metric_gauge("regzone_jobs_due", "Jobs due.", "kind", NULL);
	h = rz_metric_histogram("regzone_step_duration_seconds", "How long a step took.", b, 4,
	                        "kind", "step");
	assert_non_null(rz_metric_counter("regzone_unused_total", "Not counted yet.", "x", NULL));
	rz_metric_inc(c, "enable", "ok");
	rz_metric_inc(c, "a\"b\\c\nd", "caf\xc3\xa9");
	rz_metric_set(g, "dns", NULL, 2);
	rz_metric_set(g, "cert", NULL, NAN);
	rz_metric_observe(h, "dns", "publish", 0.05);
	rz_metric_observe(h, "cert", "order", 20);

	text = render();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(text);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s 2>&1", PROMTOOL, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p) != NULL) {
		print_error("promtool: %s", line);
		lines++;
	}
	rc = pclose(p);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(lines, 0);
}

/* --- the listener ------------------------------------------------------ */

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { 5, 0 };
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, sl), 0);
	return fd;
}

/* Send req, read the reply to EOF into resp (cap bytes); its status, or
 * -1 when the connection was closed (or reset) without one. */
static int http_try(int family, uint16_t port, const char *req, char *resp, size_t cap)
{
	int fd = connect_to(family, port), status = -1;
	size_t got = 0;
	ssize_t n = 0;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		n = -1;
	while (n >= 0 && got < cap - 1 && (n = read(fd, resp + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	assert_true(n >= 0 || errno == ECONNRESET || errno == EPIPE);   /* not the 5 s timeout */
	resp[got] = '\0';
	close(fd);
	if (n >= 0 && sscanf(resp, "HTTP/1.%*d %d ", &status) != 1)
		status = -1;
	return status;
}

static int http(int family, uint16_t port, const char *req, char *resp, size_t cap)
{
	int status = http_try(family, port, req, resp, cap);

	if (status < 0)
		fail_msg("no reply to %.20s", req);
	return status;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	assert_non_null(b);
	return b + 4;
}

static double mono_s(void)
{
	return rz_metrics_clock();
}

static void test_http(void **state)
{
	struct rz_metrics_http *h = NULL;
	char resp[65536], err[256];
	uint16_t port;
	double t0;

	(void)state;
	rz_metric_inc(rz_metric_counter("rz_http_total", "h", NULL, NULL), NULL, NULL);
	assert_int_equal(rz_metrics_http_start("127.0.0.1", 0, &h, err, sizeof(err)), 0);
	port = rz_metrics_http_port(h);
	assert_true(port != 0);

	assert_int_equal(http(AF_INET, port, "GET /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp)),
	                 200);
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(body_of(resp), "\nrz_http_total 1\n"));
	assert_memory_equal(body_of(resp), "# HELP regzone_build_info ", 26);

	/* a query string is no other path */
	assert_int_equal(http(AF_INET, port, "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n"
	                      "Connection: close\r\n\r\n", resp, sizeof(resp)), 200);
	assert_int_equal(http(AF_INET, port, "HEAD /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp)),
	                 200);
	assert_string_equal(body_of(resp), "");
	assert_int_equal(http(AF_INET, port, "GET /other HTTP/1.0\r\n\r\n", resp, sizeof(resp)), 404);
	assert_int_equal(http(AF_INET, port, "GET /metrics/ HTTP/1.0\r\n\r\n", resp, sizeof(resp)),
	                 404);
	assert_int_equal(http(AF_INET, port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
	                      resp, sizeof(resp)), 405);
	assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(http(AF_INET, port, "DELETE /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp)),
	                 405);
	assert_int_equal(http(AF_INET, port, "GET /metrics HTTP/1.0\r\nContent-Length: 5\r\n\r\n"
	                      "hello", resp, sizeof(resp)), 413);
	assert_int_equal(http(AF_INET, port, "GET /metrics HTTP/1.1\r\nHost: a\r\n"
	                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", resp, sizeof(resp)), 413);

	/* at most HTTP_PER_IP_MAX (4) connections from one address: a fifth
	 * gets no reply; once they are gone, requests are answered again */
	{
		const char *partial = "GET /metrics HTTP/1.1\r\n";
		const char *whole = "GET /metrics HTTP/1.0\r\n\r\n";
		int held[4], status = -1, tries;

		for (int i = 0; i < 4; i++) {
			held[i] = connect_to(AF_INET, port);
			assert_int_equal(write(held[i], partial, strlen(partial)),
			                 (ssize_t)strlen(partial));
		}
		assert_int_equal(http_try(AF_INET, port, whole, resp, sizeof(resp)), -1);
		for (int i = 0; i < 4; i++)
			close(held[i]);
		/* (libmicrohttpd's epoll mode kept them counted for 10 s) */
		for (tries = 0; tries < 50 && status < 0; tries++) {
			usleep(20000);
			status = http_try(AF_INET, port, whole, resp, sizeof(resp));
		}
		assert_int_equal(status, 200);
		if (tries > 1)
			print_message("answered again after %d tries\n", tries);
	}

	/* the port is taken: the reason comes back */
	{
		struct rz_metrics_http *h2 = (struct rz_metrics_http *)&h;

		assert_int_equal(rz_metrics_http_start("127.0.0.1", port, &h2, err, sizeof(err)),
		                 RZ_EIO);
		assert_null(h2);
		assert_non_null(strstr(err, "bind: Address already in use"));
	}

	/* stop with a keep-alive connection open, its reply read */
	{
		int fd = connect_to(AF_INET, port);
		const char *req = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
		ssize_t n;

		assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
		n = read(fd, resp, sizeof(resp) - 1);
		assert_true(n > 12);
		assert_memory_equal(resp, "HTTP/1.1 200", 12);
		t0 = mono_s();
		rz_metrics_http_stop(h);
		assert_true(mono_s() - t0 < 1.0);
		close(fd);
	}
	/* the port is free again */
	assert_int_equal(rz_metrics_http_start("127.0.0.1", port, &h, err, sizeof(err)), 0);
	rz_metrics_http_stop(h);
	rz_metrics_http_stop(NULL);
	assert_int_equal(rz_metrics_http_port(NULL), 0);
}

static void test_http_args(void **state)
{
	struct rz_metrics_http *h = (struct rz_metrics_http *)&h;
	char err[256] = "";
	char resp[65536];
	int fd;

	(void)state;
	assert_int_equal(rz_metrics_http_start("localhost", 0, &h, err, sizeof(err)), RZ_EINVAL);
	assert_null(h);
	assert_non_null(strstr(err, "localhost: not an IPv4 or IPv6 literal"));
	assert_int_equal(rz_metrics_http_start("[::1]", 0, &h, NULL, 0), RZ_EINVAL);
	assert_int_equal(rz_metrics_http_start("127.0.0.1:80", 0, &h, NULL, 0), RZ_EINVAL);
	assert_int_equal(rz_metrics_http_start(NULL, 0, &h, NULL, 0), RZ_EINVAL);
	assert_int_equal(rz_metrics_http_start("127.0.0.1", 0, NULL, NULL, 0), RZ_EINVAL);
	/* an address of no interface here */
	assert_int_equal(rz_metrics_http_start("192.0.2.1", 0, &h, err, sizeof(err)), RZ_EIO);
	assert_non_null(strstr(err, "bind: Cannot assign requested address"));

	/* IPv6, where the host has it */
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		print_message("no IPv6: [::1] not checked\n");
		return;
	}
	close(fd);
	if (rz_metrics_http_start("::1", 0, &h, err, sizeof(err)) != 0) {
		print_message("no ::1 (%s): not checked\n", err);
		return;
	}
	assert_int_equal(http(AF_INET6, rz_metrics_http_port(h), "GET /metrics HTTP/1.0\r\n\r\n",
	                      resp, sizeof(resp)), 200);
	rz_metrics_http_stop(h);
	/* "::" is IPv6 only (IPV6_V6ONLY): IPv4 loopback on that port is refused */
	assert_int_equal(rz_metrics_http_start("::", 0, &h, err, sizeof(err)), 0);
	assert_int_equal(http(AF_INET6, rz_metrics_http_port(h), "GET /metrics HTTP/1.0\r\n\r\n",
	                      resp, sizeof(resp)), 200);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(rz_metrics_http_port(h)),
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
		assert_int_equal(errno, ECONNREFUSED);
	}
	close(fd);
	rz_metrics_http_stop(h);
}

/* The fds above 2 open now, as a bitmap of the first 1024. */
static void open_fds(bool *open, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	memset(open, 0, n);
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] != '.' && fd > 2 && fd != dirfd(d) && (size_t)fd < n)
			open[fd] = true;
	}
	closedir(d);
}

/* Every fd the listener opens (listening socket, eventfd, an accepted
 * connection) is close-on-exec. */
static void test_http_cloexec(void **state)
{
	static bool before[1024], during[1024];
	struct rz_metrics_http *h = NULL;
	const char *partial = "GET /metrics HTTP/1.1\r\n";
	int fd, added = 0;

	(void)state;
	open_fds(before, sizeof(before));
	assert_int_equal(rz_metrics_http_start("127.0.0.1", 0, &h, NULL, 0), 0);
	fd = connect_to(AF_INET, rz_metrics_http_port(h));
	assert_int_equal(write(fd, partial, strlen(partial)), (ssize_t)strlen(partial));
	/* until the accepted socket shows up (the client's one is ours) */
	for (int tries = 0; tries < 200; tries++) {
		added = 0;
		open_fds(during, sizeof(during));
		for (size_t i = 0; i < sizeof(during); i++)
			added += during[i] && !before[i];
		if (added >= 4)   /* listener, eventfd, client, accepted */
			break;
		usleep(5000);
	}
	assert_true(added >= 4);
	for (int i = 0; i < (int)sizeof(during); i++) {
		if (!during[i] || before[i])
			continue;
		if (!(fcntl(i, F_GETFD) & FD_CLOEXEC))
			fail_msg("fd %d is not close-on-exec", i);
	}
	close(fd);
	rz_metrics_http_stop(h);
	/* and every one of them is closed again */
	open_fds(during, sizeof(during));
	assert_memory_equal(before, during, sizeof(before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_render_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_series_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promtool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_cloexec, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
