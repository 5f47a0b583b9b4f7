/*
 * metrics.c - the registry and its text rendering (contract in metrics.h).
 *
 * Locks: reg.lock guards the list of metrics (registration appends, a
 * render copies the pointers, free empties it); each metric's lock guards
 * its series; reg.render makes renders (and free) one at a time, and is
 * the only lock held while a collect function runs.  No two of reg.lock
 * and a metric's lock are ever held together, so there is no lock order
 * to keep.
 *
 * Storage: everything a metric will ever need is allocated when it is
 * registered: RZ_METRIC_SERIES_MAX + 1 series when it has labels (the
 * last slot is kept for "other"), one when it has none, the label values
 * inline (RZ_METRIC_VALUE_MAX + 1 bytes each), a histogram's bucket
 * counts (not cumulative: bucket i counts bounds[i-1] < v <= bounds[i],
 * the last one v > every bound; the render sums them up).
 *
 * Numbers are written with snprintf()/strtod() in the C locale (the
 * daemon never calls setlocale()).
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/rz_err.h"

#ifndef REGZONE_VERSION
#define REGZONE_VERSION "unknown"
#endif

#define SLOTS (RZ_METRIC_SERIES_MAX + 1)   /* the last one only for "other" */
#define VALUE_ROOM (RZ_METRIC_VALUE_MAX + 1)
#define RENDER_FIRST 4096                  /* first size of the output buffer */

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM, K__MAX };

static const char *const kind_names[K__MAX] = { "counter", "gauge", "histogram" };

struct series {
	double value;              /* counter, gauge; a histogram's _sum */
	uint32_t gen;              /* the render whose collect function set it last */
};

struct rz_metric {
	pthread_mutex_t lock;
	enum kind kind;
	char *name;
	char *help;
	char *label[2];
	int n_labels;
	double *bounds;            /* histogram */
	size_t n_bounds;
	size_t n_slots;            /* SLOTS, or 1 without labels */
	/* under lock: */
	size_t n_series;           /* slots in use */
	struct series *series;     /* n_slots */
	char *values;              /* n_slots * n_labels * VALUE_ROOM */
	uint64_t *buckets;         /* histogram: n_slots * (n_bounds + 1) */
	bool overflowed;           /* the "other" series was logged */
	rz_metric_collect_fn *fn;
	void *arg;
	uint32_t gen;              /* renders that called fn */
};

static struct {
	pthread_mutex_t lock;
	pthread_mutex_t render;
	bool ready;
	size_t n;
	struct rz_metric *m[RZ_METRICS_MAX];
} reg = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, false, 0, { NULL } };

/* --- checks ------------------------------------------------------------ */

/* Well-formed UTF-8: no overlong form, no surrogate, nothing above U+10FFFF. */
static bool utf8_ok(const char *str)
{
	static const unsigned char mask[4] = { 0x7f, 0x1f, 0x0f, 0x07 };
	static const unsigned long least[4] = { 0, 0x80, 0x800, 0x10000 };
	const unsigned char *s = (const unsigned char *)str;

	while (*s != '\0') {
		int more = *s < 0x80 ? 0 : *s < 0xc0 ? -1 : *s < 0xe0 ? 1 : *s < 0xf0 ? 2 :
		           *s < 0xf8 ? 3 : -1;
		unsigned long cp;

		if (more < 0)
			return false;
		cp = *s & mask[more];
		for (int i = 1; i <= more; i++) {   /* stops at a NUL: not 10xxxxxx */
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < least[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += more + 1;
	}
	return true;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (colon only when colon_ok), 1..NAME_MAX bytes. */
static bool name_ok(const char *s, bool colon_ok)
{
	size_t n;

	if (s == NULL || s[0] == '\0' || strnlen(s, RZ_METRIC_NAME_MAX + 1) > RZ_METRIC_NAME_MAX)
		return false;
	for (n = 0; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (colon_ok && c == ':') || (n > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Why the arguments of a registration are refused; NULL when they are fine. */
static const char *args_why(enum kind kind, const char *name, const char *help,
                            const double *bounds, size_t n_bounds, const char *l1, const char *l2)
{
	const char *label[2] = { l1, l2 };

	if (!name_ok(name, true))
		return "not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, at most 128 bytes)";
	if (kind == K_COUNTER && !ends_with(name, "_total"))
		return "a counter's name ends in _total";
	if (help == NULL || help[0] == '\0' || strnlen(help, RZ_METRIC_HELP_MAX + 1) > RZ_METRIC_HELP_MAX)
		return "no help text, or one longer than 512 bytes";
	if (!utf8_ok(help))
		return "help text not UTF-8";
	for (const char *c = help; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 && *c != '\n')
			return "control character in the help text";
	if (l1 == NULL && l2 != NULL)
		return "a second label without a first";
	for (int i = 0; i < 2; i++) {
		if (label[i] == NULL)
			continue;
		if (!name_ok(label[i], false) || strncmp(label[i], "__", 2) == 0)
			return "not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __*)";
		if (kind == K_HISTOGRAM && strcmp(label[i], "le") == 0)
			return "label le is the histogram's own";
	}
	if (l2 != NULL && strcmp(l1, l2) == 0)
		return "the same label twice";
	if (kind != K_HISTOGRAM)
		return NULL;
	if (bounds == NULL || n_bounds == 0 || n_bounds > RZ_METRIC_BUCKETS_MAX)
		return "a histogram needs 1..32 bucket bounds";
	for (size_t i = 0; i < n_bounds; i++)
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return "bucket bounds not finite and strictly increasing";
	return NULL;
}

/* Is full the name base followed by one of a histogram's sample suffixes? */
static bool histogram_sample(const char *full, const char *base)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t n = strlen(base);

	if (strncmp(full, base, n) != 0)
		return false;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (strcmp(full + n, sfx[i]) == 0)
			return true;
	return false;
}

/* Would a metric (kind, name) give a sample or family name of a's? */
static bool clashes(const struct rz_metric *a, enum kind kind, const char *name)
{
	return strcmp(a->name, name) == 0 ||
	       (a->kind == K_HISTOGRAM && histogram_sample(name, a->name)) ||
	       (kind == K_HISTOGRAM && histogram_sample(a->name, name));
}

/* Do a and b have the same kind, labels and bounds? */
static bool same_metric(const struct rz_metric *a, const struct rz_metric *b)
{
	if (a->kind != b->kind || a->n_labels != b->n_labels || a->n_bounds != b->n_bounds)
		return false;
	for (int i = 0; i < a->n_labels; i++)
		if (strcmp(a->label[i], b->label[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_bounds; i++)
		if (a->bounds[i] != b->bounds[i])
			return false;
	return true;
}

/* --- registration ------------------------------------------------------ */

static void metric_free(struct rz_metric *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->name);
	free(m->help);
	free(m->label[0]);
	free(m->label[1]);
	free(m->bounds);
	free(m->series);
	free(m->values);
	free(m->buckets);
	free(m);
}

/* A new metric, not in the registry yet; NULL when memory ran out. */
static struct rz_metric *metric_alloc(enum kind kind, const char *name, const char *help,
                                      const double *bounds, size_t n_bounds, const char *l1,
                                      const char *l2)
{
	struct rz_metric *m = calloc(1, sizeof(*m));
	bool ok;

	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->kind = kind;
	m->n_labels = l1 == NULL ? 0 : l2 == NULL ? 1 : 2;
	m->n_slots = m->n_labels == 0 ? 1 : SLOTS;
	m->name = strdup(name);
	m->help = strdup(help);
	m->label[0] = l1 == NULL ? NULL : strdup(l1);
	m->label[1] = l2 == NULL ? NULL : strdup(l2);
	m->series = calloc(m->n_slots, sizeof(*m->series));
	ok = m->name != NULL && m->help != NULL && (l1 == NULL || m->label[0] != NULL) &&
	     (l2 == NULL || m->label[1] != NULL) && m->series != NULL;
	if (m->n_labels > 0) {
		m->values = calloc(m->n_slots * (size_t)m->n_labels, VALUE_ROOM);
		ok = ok && m->values != NULL;
	}
	if (kind == K_HISTOGRAM) {
		m->n_bounds = n_bounds;
		m->bounds = malloc(n_bounds * sizeof(*m->bounds));
		m->buckets = calloc(m->n_slots * (n_bounds + 1), sizeof(*m->buckets));
		ok = ok && m->bounds != NULL && m->buckets != NULL;
		if (m->bounds != NULL)
			memcpy(m->bounds, bounds, n_bounds * sizeof(*m->bounds));
	}
	if (!ok) {
		metric_free(m);
		return NULL;
	}
	if (m->n_labels == 0)
		m->n_series = 1;   /* the one series, shown from the start */
	return m;
}

/* Into the registry: m itself, the metric already there under that name
 * (m freed), or NULL with the reason in *why (m freed). */
static struct rz_metric *metric_add(struct rz_metric *m, const char **why)
{
	struct rz_metric *got = m;

	pthread_mutex_lock(&reg.lock);
	if (!reg.ready) {
		*why = "the registry is not started";
		got = NULL;
		goto out;
	}
	for (size_t i = 0; i < reg.n; i++) {
		if (!clashes(reg.m[i], m->kind, m->name))
			continue;
		if (strcmp(reg.m[i]->name, m->name) == 0 && same_metric(reg.m[i], m)) {
			got = reg.m[i];
		} else {
			*why = "the name is taken (by another kind, other labels or bounds) or clashes";
			got = NULL;
		}
		goto out;
	}
	if (reg.n == RZ_METRICS_MAX) {
		*why = "the registry is full (RZ_METRICS_MAX)";
		got = NULL;
		goto out;
	}
	reg.m[reg.n++] = m;
out:
	pthread_mutex_unlock(&reg.lock);
	if (got != m)
		metric_free(m);
	return got;
}

static struct rz_metric *metric_new(enum kind kind, const char *name, const char *help,
                                    const double *bounds, size_t n_bounds, const char *l1,
                                    const char *l2)
{
	const char *why = args_why(kind, name, help, bounds, n_bounds, l1, l2);
	struct rz_metric *m = NULL;

	if (why == NULL) {
		m = metric_alloc(kind, name, help, bounds, n_bounds, l1, l2);
		if (m == NULL)
			why = "out of memory";
		else
			m = metric_add(m, &why);
	}
	if (m == NULL)
		rz_log(RZ_LOG_WARN, "metrics: %s %.128s refused: %s", kind_names[kind],
		       name == NULL ? "(null)" : name, why);
	return m;
}

struct rz_metric *rz_metric_counter(const char *name, const char *help, const char *label1,
                                    const char *label2)
{
	return metric_new(K_COUNTER, name, help, NULL, 0, label1, label2);
}

struct rz_metric *rz_metric_gauge(const char *name, const char *help, const char *label1,
                                  const char *label2)
{
	return metric_new(K_GAUGE, name, help, NULL, 0, label1, label2);
}

struct rz_metric *rz_metric_histogram(const char *name, const char *help, const double *bounds,
                                      size_t n_bounds, const char *label1, const char *label2)
{
	return metric_new(K_HISTOGRAM, name, help, bounds, n_bounds, label1, label2);
}

/* --- updates ----------------------------------------------------------- */

static char *value_at(const struct rz_metric *m, size_t slot, int label)
{
	return m->values + (slot * (size_t)m->n_labels + (size_t)label) * VALUE_ROOM;
}

/* The slot in use whose values are v, or m->n_series. */
static size_t series_match_l(const struct rz_metric *m, const char *const *v)
{
	size_t s;

	for (s = 0; s < m->n_series; s++) {
		int l;

		for (l = 0; l < m->n_labels; l++)
			if (strcmp(value_at(m, s, l), v[l]) != 0)
				break;
		if (l == m->n_labels)
			break;
	}
	return s;
}

static size_t series_add_l(struct rz_metric *m, const char *const *v)
{
	size_t s = m->n_series++;

	for (int l = 0; l < m->n_labels; l++)
		memcpy(value_at(m, s, l), v[l], strlen(v[l]) + 1);
	return s;
}

/* Can the label values v1, v2 of m be shown? */
static bool values_fit(const struct rz_metric *m, const char *v1, const char *v2)
{
	const char *v[2] = { v1, v2 };

	for (int l = 0; l < m->n_labels; l++)
		if (v[l] == NULL || strnlen(v[l], VALUE_ROOM) > RZ_METRIC_VALUE_MAX || !utf8_ok(v[l]))
			return false;
	return true;
}

/* The slot of the series (v1, v2), made when it is new: the "other" one
 * when the values do not fit (values_fit()) or the regular slots are
 * taken. */
static size_t series_l(struct rz_metric *m, const char *v1, const char *v2, bool fits)
{
	const char *v[2] = { v1, v2 };
	size_t s;

	if (m->n_labels == 0)
		return 0;
	if (fits) {
		s = series_match_l(m, v);
		if (s < m->n_series)
			return s;
		if (m->n_series < RZ_METRIC_SERIES_MAX)
			return series_add_l(m, v);
	}
	if (!m->overflowed) {
		m->overflowed = true;
		rz_log(RZ_LOG_WARN, "metrics: %s: label values beyond %d series, or that cannot be "
		       "shown, are counted as \"" RZ_METRIC_OTHER "\"", m->name, RZ_METRIC_SERIES_MAX);
	}
	v[0] = v[1] = RZ_METRIC_OTHER;
	s = series_match_l(m, v);
	if (s < m->n_series)
		return s;
	return series_add_l(m, v);   /* at most slot SERIES_MAX: regular ones stop before */
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static void update(struct rz_metric *m, const char *v1, const char *v2, enum op op, double d)
{
	bool fits;
	size_t s;

	if (m == NULL)
		return;
	switch (op) {
	case OP_ADD:
		if (m->kind == K_HISTOGRAM || (m->kind == K_COUNTER && !(isfinite(d) && d >= 0)))
			return;
		break;
	case OP_SET:
		if (m->kind != K_GAUGE)
			return;
		break;
	case OP_OBSERVE:
		if (m->kind != K_HISTOGRAM || isnan(d))
			return;
		break;
	}
	fits = values_fit(m, v1, v2);   /* outside the lock: it reads only the caller's */
	pthread_mutex_lock(&m->lock);
	s = series_l(m, v1, v2, fits);
	m->series[s].gen = m->gen;
	if (op == OP_SET) {
		m->series[s].value = d;
	} else if (op == OP_ADD) {
		m->series[s].value += d;
	} else {
		size_t b = 0;

		while (b < m->n_bounds && d > m->bounds[b])
			b++;
		m->buckets[s * (m->n_bounds + 1) + b]++;
		m->series[s].value += d;
	}
	pthread_mutex_unlock(&m->lock);
}

void rz_metric_inc(struct rz_metric *m, const char *v1, const char *v2)
{
	update(m, v1, v2, OP_ADD, 1.0);
}

void rz_metric_add(struct rz_metric *m, const char *v1, const char *v2, double d)
{
	update(m, v1, v2, OP_ADD, d);
}

void rz_metric_set(struct rz_metric *m, const char *v1, const char *v2, double v)
{
	update(m, v1, v2, OP_SET, v);
}

void rz_metric_observe(struct rz_metric *m, const char *v1, const char *v2, double v)
{
	update(m, v1, v2, OP_OBSERVE, v);
}

double rz_metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rz_metric_on_scrape(struct rz_metric *m, rz_metric_collect_fn *fn, void *arg)
{
	if (m == NULL)
		return;
	if (m->kind != K_GAUGE) {
		rz_log(RZ_LOG_WARN, "metrics: %s: only a gauge is computed at scrape time", m->name);
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->fn = fn;
	m->arg = fn == NULL ? NULL : arg;
	pthread_mutex_unlock(&m->lock);
}

/* --- rendering --------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->cap - b->len <= n) {
		size_t cap = b->cap == 0 ? RENDER_FIRST : b->cap;
		char *p;

		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* s with backslash and newline escaped, and the double quote when quoted
 * (a label value; a help text leaves it). */
static void buf_escaped(struct buf *b, const char *s, bool quoted)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" :
		                  (quoted && *s == '"') ? "\\\"" : NULL;

		if (esc == NULL)
			continue;
		buf_put(b, run, (size_t)(s - run));
		buf_str(b, esc);
		run = s + 1;
	}
	buf_put(b, run, (size_t)(s - run));
}

/* The shortest of %.15g and %.17g that reads back as v; NaN, +Inf, -Inf. */
static void fmt_double(char *out, size_t n, double v)
{
	if (isnan(v))
		snprintf(out, n, "NaN");
	else if (isinf(v))
		snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(out, n, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, n, "%.17g", v);
	}
}

/* One sample line: name suffix{labels[,le="le"]} value */
static void sample(struct buf *b, const struct rz_metric *m, size_t slot, const char *suffix,
                   const char *le, const char *value)
{
	buf_str(b, m->name);
	buf_str(b, suffix);
	if (m->n_labels > 0 || le != NULL) {
		buf_str(b, "{");
		for (int l = 0; l < m->n_labels; l++) {
			buf_str(b, l > 0 ? "," : "");
			buf_str(b, m->label[l]);
			buf_str(b, "=\"");
			buf_escaped(b, value_at(m, slot, l), true);
			buf_str(b, "\"");
		}
		if (le != NULL) {
			buf_str(b, m->n_labels > 0 ? ",le=\"" : "le=\"");
			buf_str(b, le);
			buf_str(b, "\"");
		}
		buf_str(b, "}");
	}
	buf_str(b, " ");
	buf_str(b, value);
	buf_str(b, "\n");
}

static void histogram_l(struct buf *b, const struct rz_metric *m, size_t slot)
{
	const uint64_t *bucket = m->buckets + slot * (m->n_bounds + 1);
	uint64_t total = 0;
	char le[40], num[40];

	for (size_t i = 0; i <= m->n_bounds; i++) {
		total += bucket[i];
		if (i < m->n_bounds)
			fmt_double(le, sizeof(le), m->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(num, sizeof(num), "%" PRIu64, total);
		sample(b, m, slot, "_bucket", le, num);
	}
	fmt_double(num, sizeof(num), m->series[slot].value);
	sample(b, m, slot, "_sum", NULL, num);
	snprintf(num, sizeof(num), "%" PRIu64, total);
	sample(b, m, slot, "_count", NULL, num);
}

/* Called with reg.render held: the collect function first (no lock of
 * the metric held), then the metric under its lock. */
static void render_metric(struct buf *b, struct rz_metric *m)
{
	rz_metric_collect_fn *fn;
	void *arg;
	uint32_t gen = 0;

	pthread_mutex_lock(&m->lock);
	fn = m->fn;
	arg = m->arg;
	if (fn != NULL)
		gen = ++m->gen;
	pthread_mutex_unlock(&m->lock);
	if (fn != NULL)
		fn(arg, m);

	pthread_mutex_lock(&m->lock);
	buf_str(b, "# HELP ");
	buf_str(b, m->name);
	buf_str(b, " ");
	buf_escaped(b, m->help, false);
	buf_str(b, "\n# TYPE ");
	buf_str(b, m->name);
	buf_str(b, " ");
	buf_str(b, kind_names[m->kind]);
	buf_str(b, "\n");
	for (size_t s = 0; s < m->n_series; s++) {
		char num[40];

		if (fn != NULL && m->series[s].gen != gen)
			continue;   /* not set by this scrape's collect function */
		if (m->kind == K_HISTOGRAM) {
			histogram_l(b, m, s);
			continue;
		}
		fmt_double(num, sizeof(num), m->series[s].value);
		sample(b, m, s, "", NULL, num);
	}
	pthread_mutex_unlock(&m->lock);
}

int rz_metrics_render(char **out, size_t *len)
{
	struct rz_metric *all[RZ_METRICS_MAX];
	struct buf b = { NULL, 0, 0, false };
	bool ready;
	size_t n;

	if (out == NULL || len == NULL)
		return RZ_EINVAL;
	*out = NULL;
	*len = 0;
	pthread_mutex_lock(&reg.render);
	pthread_mutex_lock(&reg.lock);
	ready = reg.ready;
	n = ready ? reg.n : 0;
	memcpy(all, reg.m, n * sizeof(all[0]));
	pthread_mutex_unlock(&reg.lock);
	buf_put(&b, "", 0);   /* an empty registry is "" rather than NULL */
	for (size_t i = 0; i < n; i++)
		render_metric(&b, all[i]);
	pthread_mutex_unlock(&reg.render);
	if (!ready) {
		free(b.p);
		return RZ_EINVAL;
	}
	if (b.oom) {
		free(b.p);
		return RZ_ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* --- the registry ------------------------------------------------------ */

/*
 * The process's start in seconds since the epoch: boot time (btime of
 * /proc/stat) plus its start in clock ticks after boot (field 22 of
 * /proc/self/stat, counted after the ')' that ends its name); -1 when
 * either cannot be read.
 */
static double proc_start_time(void)
{
	char line[1024];
	unsigned long long ticks = 0;
	long long btime = -1;
	long hz = sysconf(_SC_CLK_TCK);
	size_t n;
	char *p;
	FILE *f;

	f = fopen("/proc/self/stat", "re");
	if (f == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	p = strrchr(line, ')');
	/* after ')': field 3 (state) ... field 21, then starttime */
	for (int field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu", &ticks) != 1 || hz <= 0)
		return -1;
	f = fopen("/proc/stat", "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	if (btime < 0)
		return -1;
	return (double)btime + (double)ticks / (double)hz;
}

int rz_metrics_init(void)
{
	struct rz_metric *build, *start;
	double t;

	pthread_mutex_lock(&reg.lock);
	if (reg.ready) {
		pthread_mutex_unlock(&reg.lock);
		return RZ_EEXIST;
	}
	reg.ready = true;
	reg.n = 0;
	pthread_mutex_unlock(&reg.lock);

	build = rz_metric_gauge("regzone_build_info", "The version of regzone running (always 1).",
	                        "version", NULL);
	start = rz_metric_gauge("process_start_time_seconds",
	                        "Start time of the process since unix epoch in seconds.", NULL, NULL);
	if (build == NULL || start == NULL) {
		rz_metrics_free();
		return RZ_ENOMEM;
	}
	rz_metric_set(build, REGZONE_VERSION, NULL, 1);
	t = proc_start_time();
	if (t < 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		t = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1e3;
	}
	rz_metric_set(start, NULL, NULL, t);
	return 0;
}

void rz_metrics_free(void)
{
	pthread_mutex_lock(&reg.render);
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.n; i++) {
		metric_free(reg.m[i]);
		reg.m[i] = NULL;
	}
	reg.n = 0;
	reg.ready = false;
	pthread_mutex_unlock(&reg.lock);
	pthread_mutex_unlock(&reg.render);
}
