/*
 * txt.c - TXT text as rdata in presentation form: cut into
 * character-strings, quoted, escaped (see zg_txt_data() in zonegen.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

int zg_txt_data(const char *text, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len, o = 0, i = 0;

	if (text == NULL)
		return zg_fail(ZG_EINVAL, err, errlen, "missing text");
	len = strnlen(text, ZG_TXT_MAX + 1);
	if (len > ZG_TXT_MAX)
		return zg_fail(ZG_ETOOLONG, err, errlen, "TXT text longer than %d bytes",
		                ZG_TXT_MAX);
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)text[k];

		/* Knot would print these as \DDD: refused rather than rendered,
		 * no profile needs them and they are a typo more often than not. */
		if (c < 0x20 || c > 0x7e)
			return zg_fail(ZG_EINVAL, err, errlen, "text contains a control or "
			                "non-ASCII byte 0x%02x at offset %zu", c, k);
	}
	/* Raw bytes are cut first, escaped after: an escape is never split
	 * between two strings, and each string holds ZG_TEXT_LEN bytes on the
	 * wire whatever its escapes.  The do-while writes "" for no text: a TXT
	 * record has at least one character-string (RFC 1035 3.3.14). */
	do {
		size_t end = len - i > ZG_TEXT_LEN ? i + ZG_TEXT_LEN : len;
		size_t need = o + (i > 0) + 2 + (end - i) + 1;   /* space, quotes, NUL */

		for (size_t k = i; k < end; k++)
			need += text[k] == '"' || text[k] == '\\';
		if (outlen < need)
			return zg_fail(ZG_ETOOLONG, err, errlen, "TXT data does not fit %zu bytes",
			                outlen);
		if (i > 0)
			out[o++] = ' ';
		out[o++] = '"';
		for (; i < end; i++) {
			if (text[i] == '"' || text[i] == '\\')
				out[o++] = '\\';
			out[o++] = text[i];
		}
		out[o++] = '"';
	} while (i < len);
	out[o] = '\0';
	return 0;
}
