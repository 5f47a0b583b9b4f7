/*
 * fuzz_config.c - rz_config_load() (daemon/config.h) on the input as a
 * whole YAML file.  The input is written to a memfd that the loader opens
 * by its /proc/self/fd/N name (the loader's own fopen() and read path).
 *
 * Checked besides memory safety and leaks (rz_config_free() on every
 * result):
 *   - a refusal gives *out NULL and "PATH:LINE:COL: message" or
 *     "PATH: message" in err;
 *   - an accepted file has a default profile, every profile passes the
 *     zonegen checks the loader ran, and each one expands for a customer
 *     domain (without parameters) without breaking zg_expand()'s promises.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/rz_err.h"
#include "tests/fuzz/fuzz.h"
#include "zonegen/zonegen.h"

/* Set up once by LLVMFuzzerInitialize (libFuzzer's main), then only read. */
static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("fuzz_config: memfd_create");
		exit(1);
	}
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return 0;
}

static bool put_file(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(memfd, 0) != 0)
		return false;
	while (off < size) {
		ssize_t n = pwrite(memfd, data + off, size - off, (off_t)off);

		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

static void check_profile(const struct zg_profile *p)
{
	struct zg_rr *rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs));
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	char err[256];
	size_t n = 0;
	int ret;

	if (rrs == NULL)
		return;
	FZ_CHECK(p->name != NULL && p->service != NULL);
	for (size_t i = 0; i < p->n_records; i++)
		FZ_CHECK(zg_rtmpl_check(p, &p->records[i], err, sizeof(err)) == 0);
	FZ_CHECK(zg_profile_check(p, err, sizeof(err)) == 0);
	ret = zg_expand(p, "example.org", NULL, 0, rrs, &n, err, sizeof(err));
	FZ_CHECK(ret <= 0 && ret > RZ_E__MIN);
	FZ_CHECK(ret == 0 ? n == p->n_records : n == 0);
	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(fz_terminated(rrs[i].owner, sizeof(rrs[i].owner)));
		FZ_CHECK(fz_terminated(rrs[i].data, sizeof(rrs[i].data)));
	}
	ret = zg_cert_names(p, "example.org", names, &n);
	FZ_CHECK(ret == 0 ? n == p->n_cert_names : ret == RZ_EDNAME && n == 0);
	free(rrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rz_config *cfg = NULL;
	char err[1024];
	size_t plen = strlen(memfd_path);
	int ret;

	if (!put_file(data, size))
		return 0;
	memset(err, 'x', sizeof(err));
	ret = rz_config_load(memfd_path, &cfg, err, sizeof(err));
	FZ_CHECK(fz_terminated(err, sizeof(err)));
	if (ret != 0) {
		FZ_CHECK(ret < 0 && ret > RZ_E__MIN);
		FZ_CHECK(cfg == NULL);
		FZ_CHECK(strncmp(err, memfd_path, plen) == 0 && err[plen] == ':');
		return 0;
	}
	FZ_CHECK(cfg != NULL && cfg->n_profiles > 0);
	FZ_CHECK(rz_config_profile(cfg, NULL) != NULL);
	for (size_t i = 0; i < cfg->n_profiles; i++)
		check_profile(&cfg->profiles[i]);
	rz_config_free(cfg);
	return 0;
}
