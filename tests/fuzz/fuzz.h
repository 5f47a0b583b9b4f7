/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share.  Included by a
 * target only (static inline helpers, no object file of its own).
 *
 * A target hands the input to one parser, checks what the parser's header
 * promises about the result (FZ_CHECK), and frees everything, so that
 * AddressSanitizer, UBSan and LeakSanitizer see every mistake and
 * libFuzzer keeps the input that showed it.
 */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry points (Initialize is optional). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A promise of the code under test: when it does not hold, abort, so that
 * libFuzzer stores the input as a crash. */
#define FZ_CHECK(cond)                                                          \
	do {                                                                    \
		if (!(cond)) {                                                  \
			fprintf(stderr, "%s:%d: property does not hold: %s\n",  \
			        __FILE__, __LINE__, #cond);                     \
			abort();                                                \
		}                                                               \
	} while (0)

/* data[0..size) and a NUL, in a buffer of exactly size + 1 bytes (so ASan
 * sees a read past the end); as a C string it stops at the first NUL byte
 * of the input.  NULL when out of memory; free() it. */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return NULL;
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Every byte of s is printable ASCII (0x20..0x7e). */
static inline bool fz_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* s is NUL-terminated within size bytes. */
static inline bool fz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#endif
