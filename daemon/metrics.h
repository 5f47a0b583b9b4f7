/*
 * metrics.h - what the daemon counts, served in the Prometheus text
 * exposition format 0.0.4 on GET /metrics.
 *
 * One fixed, process-wide registry (the one mutable global outside main():
 * every module counts into it without a handle passed down): at most
 * RZ_METRICS_MAX metrics, each a counter, a gauge or a histogram with a
 * name, a help text and zero, one or two label names.  A metric holds at
 * most RZ_METRIC_SERIES_MAX label value combinations (series); a new
 * combination beyond that, or a value that cannot be shown (NULL, longer
 * than RZ_METRIC_VALUE_MAX bytes, not UTF-8), is counted into the series
 * whose every label value is "other" (logged once per metric).  Nothing is
 * allocated after registration: an update never fails and never blocks
 * for longer than other updates of the same metric take.
 *
 * Threads: registration, updates and rendering may come from any thread.
 * Each metric has its own mutex; an update holds it for a lookup among its
 * series and an addition.  A render holds it while it writes that metric,
 * so each metric (a histogram's buckets, _sum and _count) is consistent
 * in itself; different metrics may be seen a few microseconds apart.
 *
 * Every update and on_scrape call takes m == NULL as a no-op (a metric
 * whose registration failed, or one registered before rz_metrics_init()),
 * and a call of the wrong kind (rz_metric_set() on a counter, say) is
 * ignored: instrumentation never stops the daemon.
 *
 * Order: rz_metrics_init() before any registration; rz_metrics_free()
 * only when no thread updates any more and the HTTP listener is stopped
 * (it invalidates every struct rz_metric *).  Without rz_metrics_init()
 * every registration returns NULL and counting costs a NULL test.
 *
 * This header includes only libc headers and rz_err.h: any module may
 * include it.
 */
#ifndef RZ_METRICS_H
#define RZ_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/rz_err.h"

#define RZ_METRICS_MAX 128          /* metrics in the registry */
#define RZ_METRIC_SERIES_MAX 64     /* label value combinations, besides "other" */
#define RZ_METRIC_BUCKETS_MAX 32    /* bounds of a histogram (+Inf not counted) */
#define RZ_METRIC_NAME_MAX 128      /* bytes of a metric or label name */
#define RZ_METRIC_HELP_MAX 512      /* bytes of a help text */
#define RZ_METRIC_VALUE_MAX 127     /* bytes of a label value */
#define RZ_METRIC_OTHER "other"     /* the label value of the overflow series */

struct rz_metric;   /* opaque; owned by the registry */

/*
 * Start the registry and register regzone_build_info{version="..."} (1)
 * and process_start_time_seconds (from /proc, else the time of this call).
 * Returns 0, RZ_EEXIST when it is already started, or RZ_ENOMEM.
 */
int rz_metrics_init(void) RZ_MUSTCHECK;

/* Free every metric; the registry can be started again.  Not while any
 * thread updates or renders (see the order above). */
void rz_metrics_free(void);

/*
 * Register a metric; the strings are copied.
 *
 * in:  name    [a-zA-Z_:][a-zA-Z0-9_:]*, at most RZ_METRIC_NAME_MAX bytes;
 *              a counter's ends in "_total"; it must not be, nor clash with,
 *              a sample name of another metric (a histogram x owns x_bucket,
 *              x_sum and x_count)
 *      help    not empty, UTF-8, at most RZ_METRIC_HELP_MAX bytes
 *      label1, label2  label names, [a-zA-Z_][a-zA-Z0-9_]* not starting
 *              with "__", distinct, not "le" for a histogram; NULL for
 *              none (label2 only with label1)
 *      bounds  the histogram's upper bucket bounds, finite and strictly
 *              increasing, 1..RZ_METRIC_BUCKETS_MAX of them; +Inf is
 *              implied.  Copied.
 * Returns the metric, or NULL (logged) when an argument is invalid, the
 * registry is full or not started, or memory ran out.  Registering the
 * same name again with the same kind, labels (and bounds) returns the
 * metric already there; any other reuse of a name returns NULL.
 *
 * A metric without labels has its one series from the start (rendered as
 * 0); a labelled one has none until an update names its values (an update
 * by 0 shows a series at 0).
 */
struct rz_metric *rz_metric_counter(const char *name, const char *help, const char *label1,
                                    const char *label2);
struct rz_metric *rz_metric_gauge(const char *name, const char *help, const char *label1,
                                  const char *label2);
struct rz_metric *rz_metric_histogram(const char *name, const char *help, const double *bounds,
                                      size_t n_bounds, const char *label1, const char *label2);

/*
 * Updates.  v1 and v2 are the label values (ignored beyond the metric's
 * labels; see above for the ones that cannot be shown).
 *   inc      counter or gauge += 1
 *   add      counter += d (d finite and >= 0, else ignored); gauge += d
 *   set      gauge = v
 *   observe  histogram: the bucket of the first bound >= v, _sum += v,
 *            _count += 1 (NaN ignored)
 * Counters are doubles: exact up to 2^53.
 */
void rz_metric_inc(struct rz_metric *m, const char *v1, const char *v2);
void rz_metric_add(struct rz_metric *m, const char *v1, const char *v2, double d);
void rz_metric_set(struct rz_metric *m, const char *v1, const char *v2, double v);
void rz_metric_observe(struct rz_metric *m, const char *v1, const char *v2, double v);

/* Seconds on a monotonic clock, for durations: observe(now - t0). */
double rz_metrics_clock(void);

/*
 * A gauge computed at scrape time (jobs due per kind and step, read from
 * PostgreSQL): each render calls fn(arg, m) first, and fn sets the series
 * with rz_metric_set(m, ...).  Only the series fn set during that call
 * are rendered (a series gone from the database disappears; when fn fails
 * and sets nothing, the metric shows no sample rather than a stale one).
 *
 * fn runs on the thread that renders (the HTTP listener's one thread: no
 * other scrape is answered meanwhile), with no lock of the registry held;
 * renders never run two at a time.  fn must bound its own time (a
 * statement_timeout of a second or two): rz_metrics_http_stop() waits for
 * it.  fn must not call rz_metrics_render() nor rz_metrics_free().  arg
 * must stay valid until rz_metrics_http_stop() has returned or fn is
 * replaced.  fn NULL removes it; m not a gauge: ignored (logged).
 */
typedef void rz_metric_collect_fn(void *arg, struct rz_metric *m);
void rz_metric_on_scrape(struct rz_metric *m, rz_metric_collect_fn *fn, void *arg);

/*
 * The whole registry in the text format 0.0.4: per metric "# HELP",
 * "# TYPE" and its samples, in the order of registration; a histogram as
 * cumulative name_bucket{...,le="..."} lines up to le="+Inf", then
 * name_sum and name_count.  Label values are escaped (\\, \", \n).
 *
 * out: *out  malloc'ed, NUL-terminated (the caller frees it); NULL on error
 *      *len  its length without the NUL
 * Returns 0, RZ_EINVAL (not started, or out or len NULL) or RZ_ENOMEM.
 */
int rz_metrics_render(char **out, size_t *len) RZ_MUSTCHECK;

/*
 * The HTTP listener (metrics_http.c): libmicrohttpd with one internal
 * thread that answers GET and HEAD on /metrics (the render above, with
 * Content-Type "text/plain; version=0.0.4; charset=utf-8"); 404 for other
 * paths, 405 for other methods, 413 for a request with a body.  At most
 * 16 connections (4 from one address), each closed after 10 s idle.  The
 * listening socket is bound to exactly addr:port; every socket is
 * close-on-exec.  Its thread inherits the caller's signal mask: start it
 * once the daemon's signals are blocked.
 */
struct rz_metrics_http;

/*
 * in:  addr   an IPv4 or IPv6 literal without brackets ("127.0.0.1", "::1";
 *             "::" listens on IPv6 only)
 *      port   0: a free port chosen by the kernel (see rz_metrics_http_port())
 * out: *out   the listener (rz_metrics_http_stop() frees it); NULL on error
 *      err    on error, a one-line reason ("metrics: 127.0.0.1:9100: bind:
 *             Address already in use"); may be NULL when errlen is 0
 * Returns 0, or RZ_EINVAL (addr not a literal, out NULL), RZ_EIO (socket,
 * bind, listen or libmicrohttpd failed) or RZ_ENOMEM.
 */
int rz_metrics_http_start(const char *addr, uint16_t port, struct rz_metrics_http **out,
                          char *err, size_t errlen) RZ_MUSTCHECK;

/* The port it listens on (the kernel's choice when 0 was asked); 0 for NULL. */
uint16_t rz_metrics_http_port(const struct rz_metrics_http *h);

/* Close every connection, join the thread and free h (NULL: nothing).
 * Returns within about 100 ms, or once a scrape under way has finished
 * (its collect functions' bound). */
void rz_metrics_http_stop(struct rz_metrics_http *h);

#endif
