/* b64.c - base64url without padding (acme/b64.h). */
#include <stdint.h>

#include "acme/b64.h"
#include "acme/acme_err.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int acme_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0, i;

	if (outlen < ACME_B64URL_SIZE(len))
		return ACME_ETOOLONG;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int acme_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen, size_t *n_out)
{
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	*n_out = 0;
	if (len % 4 == 1)
		return ACME_ESYNTAX;   /* no encoder produces that length */
	if (outlen < len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0))
		return ACME_ETOOLONG;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);

		if (v < 0)
			return ACME_ESYNTAX;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* leftover bits must be zero: the canonical encoding only */
	if (acc != 0)
		return ACME_ESYNTAX;
	*n_out = o;
	return 0;
}
