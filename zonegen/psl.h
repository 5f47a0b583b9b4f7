/*
 * psl.h - the Public Suffix List (https://publicsuffix.org/list/) and the
 * "registered domain" of a name: its public suffix plus one label, the unit
 * Let's Encrypt counts certificates by (50 per registered domain a week).
 *
 * The list is the whole file, ICANN and PRIVATE sections alike, as Let's
 * Encrypt uses it.  Debian ships it in the package publicsuffix as
 * /usr/share/publicsuffix/public_suffix_list.dat (ZG_PSL_DEFAULT_PATH).
 *
 * File format, read strictly:
 *   - UTF-8 text, lines ended by LF (a CR before it is ignored), a UTF-8
 *     byte order mark at the start is skipped;
 *   - a line is at most ZG_PSL_LINE_MAX bytes, comments included;
 *   - blank lines and lines starting with "//" are ignored; leading SP/HTAB
 *     is skipped; a rule ends at the first SP, HTAB or CR, the rest of the
 *     line is ignored (the list's own definition);
 *   - a rule is a domain name without a trailing dot ("co.uk"), or "*."
 *     and a name (every name one label below it is a public suffix), or
 *     "!" and a name of at least two labels (an exception to a wildcard:
 *     that name is registrable), or "*" alone (the implicit default);
 *     "*" anywhere else, empty labels, leading or trailing dots, labels
 *     longer than 63 bytes, names longer than 253 bytes and characters
 *     other than letters, digits, hyphen (no leading or trailing hyphen)
 *     and non-ASCII are errors;
 *   - a label with non-ASCII characters (a U-label, "公司.cn") is
 *     converted to its A-label ("xn--55qx5d.cn", RFC 3492 Punycode) at
 *     load time, since zonegen only handles A-labels.  ASCII letters are
 *     lowercased; no other IDNA mapping or normalisation is done: the list
 *     keeps its U-labels lowercase and in NFC, as IDNA2008 wants them.
 *
 * Thread safety: a loaded list is never modified; any number of threads may
 * call zg_psl_registered_domain() on it at once.  zg_psl_free() must not
 * race with them.
 *
 * Errors are ZG_E* codes (zonegen/zg_err.h).
 */
#ifndef ZONEGEN_PSL_H
#define ZONEGEN_PSL_H

#include <stddef.h>

#include "zonegen/zg_err.h"

#define ZG_PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"
/* Largest file read (Debian 12's is 246 KB). */
#define ZG_PSL_MAX_BYTES (4u << 20)
/* Longest line, in bytes, without its LF (the list's longest is ~150). */
#define ZG_PSL_LINE_MAX 255
/* Bytes that always hold a registered domain with its NUL. */
#define ZG_PSL_NAME_SIZE 254

struct zg_psl;

/*
 * Read the list at path into *out (a new list; free it with zg_psl_free()).
 * err (errlen bytes, may be NULL) receives "PATH:LINE: reason" for a bad
 * line, "PATH: reason" otherwise.
 * Returns 0, or
 *   ZG_EINVAL   NULL path or out;
 *   ZG_ENOENT   no such file;
 *   ZG_EIO      cannot open or read it, or not a regular file;
 *   ZG_ETOOLONG file larger than ZG_PSL_MAX_BYTES, a line longer than
 *               ZG_PSL_LINE_MAX bytes, or a rule with a label longer than
 *               63 bytes or a name longer than 253 bytes (as A-labels);
 *   ZG_ESYNTAX  any other malformed rule (see above), a NUL byte, invalid
 *               UTF-8 in a rule, or no rule at all;
 *   ZG_ENOMEM.
 * *out is NULL on error.
 */
int zg_psl_load(const char *path, struct zg_psl **out, char *err, size_t errlen);

/*
 * The same from len bytes of text (need not be NUL-terminated; not kept;
 * NULL with len 0 is an empty list: ZG_ESYNTAX).
 * what names the text in messages ("what:LINE: reason"); NULL gives "psl".
 * Returns what zg_psl_load() returns, except ZG_ENOENT and ZG_EIO;
 * ZG_EINVAL is for a NULL out or a NULL text with len > 0.
 */
int zg_psl_parse(const char *text, size_t len, const char *what, struct zg_psl **out,
                 char *err, size_t errlen);

/* Free a list; NULL is fine. */
void zg_psl_free(struct zg_psl *psl);

/* Number of rule lines read (duplicates counted). */
size_t zg_psl_rule_count(const struct zg_psl *psl);

/*
 * The registered domain of name: the public suffix that the list's
 * algorithm picks (https://publicsuffix.org/list/ "Algorithm": the
 * matching exception rule if any, else the matching rule with the most
 * labels, else the implicit "*") plus one more label of name.
 * name: an A-label host name, lowercase (ASCII uppercase is folded),
 * LDH labels of 1..63 bytes without leading or trailing hyphen, at most
 * 253 bytes; one trailing dot is accepted and ignored.  A wildcard
 * certificate name ("*.example.org") is not a host name: strip its "*."
 * first.  Punycode validity of "xn--" labels is not checked here
 * (zg_dname_check() does that).
 * out: outlen bytes, receives the registered domain, lowercase, without a
 * trailing dot (ZG_PSL_NAME_SIZE bytes always suffice).
 * Returns 0, or
 *   ZG_EINVAL   NULL psl, name or out, or outlen 0;
 *   ZG_EDNAME   name is not such a host name;
 *   ZG_ENOENT   name is itself a public suffix ("co.uk", "com", or any
 *               single label): it has no registered domain;
 *   ZG_ETOOLONG outlen is too small.
 * On any error but ZG_EINVAL, out holds "".
 */
int zg_psl_registered_domain(const struct zg_psl *psl, const char *name, char *out,
                             size_t outlen);

/*
 * One label (len bytes of UTF-8 at label, no dots) as an A-label: ASCII
 * labels are lowercased and copied; a label with non-ASCII characters
 * becomes "xn--" + its RFC 3492 Punycode (its ASCII letters lowercased
 * first).  The ASCII characters must be letters, digits or hyphens; no
 * leading or trailing hyphen; non-ASCII code points must be U+00A0 or
 * above.  out receives the NUL-terminated A-label (64 bytes always
 * suffice).
 * Returns the A-label's length, or
 *   ZG_EINVAL   NULL label or out;
 *   ZG_ESYNTAX  empty label, invalid UTF-8 (overlong forms, surrogates,
 *               past U+10FFFF, truncated), a character not allowed;
 *   ZG_ETOOLONG the A-label would be longer than 63 bytes, or outlen is
 *               too small for it.
 */
int zg_psl_alabel(const char *label, size_t len, char *out, size_t outlen);

#endif
