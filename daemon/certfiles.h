/*
 * certfiles.h - where a service's certificate files live and how they
 * change.  The chain and the key of a certificate change together, in one
 * rename(2) of a symbolic link: at every moment the live path names one
 * complete generation, and a crash never leaves a chain next to another
 * certificate's key.  (A reader that opens the two files by the live path
 * at two moments that straddle a swap still gets two generations; one
 * that resolves the link once does not.  Prosody re-reads after the
 * deploy hook, which runs after the swap.)
 *
 * Layout under <dir> (certificates.dir).  XMPP (service "xmpp") keeps the
 * place where Prosody has always read its files, <dir>/<domain>; any other
 * service S goes one level down, <dir>/S/<domain> (a service name has no
 * dot and a domain has one, so the two never meet):
 *
 *   <P> = <dir> for "xmpp", <dir>/S for another service
 *
 *   <P>/<domain>                  symbolic link to .<domain>.d/<gen>: the
 *                                 live path; consumers read
 *                                 <P>/<domain>/fullchain.pem and privkey.pem
 *   <P>/.<domain>.d/              private directory (regzone's alone)
 *     <gen>/fullchain.pem         the chain, leaf first (mode 0644)
 *     <gen>/privkey.pem           its key (0640 to the group, else 0600)
 *     <gen>/<extra>               public files that go with the
 *                                 certificate (the POSH documents,
 *                                 daemon/posh.h), 0644 like the chain
 *     <prev>/                     the generation live before <gen>,
 *                                 kept until the next install, so a reader
 *                                 that went through the link before the
 *                                 swap still finds both of its files
 *     pending-privkey.pem         the key of an order in progress (0600)
 *   Short-lived names: <P>/.<domain>.d/<gen>.tmp/ (a generation being
 *   written), <P>/.<domain>.link (the new link before its rename),
 *   <P>/.<domain>.d/_legacy/ (a directory of the old layout, see below).
 *
 * Prosody's certificate index (certmanager.lua, index_certs) skips names
 * starting with '.', follows a link to a directory and looks 3 levels deep,
 * so it sees <dir>/<domain>/fullchain.pem and never the private
 * directories.  It also sees <dir>/S/<domain>/ of other services: a name
 * carried by both an XMPP and another service's certificate may be served
 * by Prosody with either (both are valid for it).
 *
 * Modes.  With a group (struct cf_policy.group), the directories regzone
 * creates are 0750 and keys 0640, both with that group; without one,
 * 0700 and 0600.  Chains are 0644 (public data; the directories decide who
 * reaches them).  <dir> and <dir>/S are created with those modes when they
 * are missing and never chmod'ed or chown'ed once they exist (an operator's
 * mode, group or ACL stays).  The private directory and everything in it
 * are regzone's: each install gives the private directory and the new
 * generation exactly the policy's modes and group (a changed
 * certificates.group applies at the next install), and never more.  A
 * group is set with fchown(): the process must be a member of it (or
 * privileged), RZ_EPERM otherwise.
 *
 * Migration.  Before this module, <P>/<domain> was a real directory with
 * the two files (and privkey.pem.new, the key of an order in progress).
 * cf_pending_key_path() adopts that privkey.pem.new as the pending key;
 * cf_install() writes the new generation and then exchanges the directory
 * and the new link in one renameat2(RENAME_EXCHANGE), so the live path
 * never goes missing; the old directory becomes _legacy, the previous
 * generation.  On a file system without RENAME_EXCHANGE (EINVAL) the
 * directory is moved first and the link renamed in after it: once, for a
 * moment, <P>/<domain> does not exist.
 *
 * Safety.  service and domain are checked (cf_names_check) before any path
 * is built, so no path leaves <dir>.  <dir> itself may be a symbolic link
 * (it is the operator's); below it nothing is ever opened through one:
 * every directory is opened with O_NOFOLLOW | O_DIRECTORY relative to its
 * parent's descriptor, files with O_NOFOLLOW, removal unlinks a link and
 * never its target, and the live link is read with readlinkat() and must
 * name .<domain>.d/<gen>.  Something else at <P>/<domain> (a file, a link
 * elsewhere) is refused with RZ_EEXIST and left alone.  Keys are never
 * logged or put into err; their bytes are wiped from memory after use.
 *
 * Concurrency: calls for one (service, domain) must not overlap (the cert
 * job of a domain runs in one worker at a time); calls for different ones
 * may run in parallel threads or processes.  No global state.
 *
 * Errors: every function returns 0 or a negative RZ_E* code (rz_err.h),
 * with a message in err (when err is not NULL and errlen > 0):
 *   RZ_EINVAL   a bad argument (policy, service, generation, chain)
 *   RZ_EDNAME   a bad domain
 *   RZ_ETOOLONG a path longer than the caller's buffer, a file too large
 *   RZ_ENOENT   the thing asked for does not exist (see each function)
 *   RZ_EEXIST   something not regzone's is in the way (a link, a file)
 *   RZ_EPERM    permission denied (mode, owner, a group not ours)
 *   RZ_ENOMEM, RZ_EIO
 */
#ifndef RZ_CERTFILES_H
#define RZ_CERTFILES_H

#include <stddef.h>
#include <sys/types.h>

/* The two files of a generation, under the live path. */
#define CF_CHAIN_FILE "fullchain.pem"
#define CF_KEY_FILE "privkey.pem"

/* A generation name: [A-Za-z0-9][A-Za-z0-9_-]*, at most this long. */
#define CF_GENERATION_MAX 64
/* Longest chain cf_install() takes (bytes). */
#define CF_CHAIN_MAX (1024 * 1024)

struct cf_policy {
	const char *dir;   /* certificates.dir, not empty; its parent must exist */
	gid_t group;       /* certificates.group, (gid_t)-1 for none */
};

/*
 * Check the names a path is built from.  service: [a-z][a-z0-9-]{0,31}
 * ("xmpp" is the top level).  domain: lowercase LDH labels of 1..63
 * characters, no leading or trailing hyphen, at least two labels, at most
 * 253 characters, no trailing dot (so never "..", "/", a leading dot or a
 * wildcard).  0, RZ_EINVAL (service) or RZ_EDNAME (domain).
 */
int cf_names_check(const char *service, const char *domain);

/*
 * The live path of (service, domain), <dir>/<domain> or
 * <dir>/<service>/<domain>, into out (len bytes; trailing slashes of dir
 * are dropped).  Touches no file.  The files are out/CF_CHAIN_FILE and
 * out/CF_KEY_FILE.  0, RZ_EINVAL, RZ_EDNAME, RZ_ETOOLONG.
 */
int cf_live_path(const struct cf_policy *p, const char *service, const char *domain,
                 char *out, size_t len);

/*
 * The path where the key of (service, domain)'s next certificate waits
 * until cf_install() takes it: <P>/.<domain>.d/pending-privkey.pem, into
 * out (len bytes).  Creates <dir>, <dir>/<service> and the private
 * directory when missing (modes above) and gives the private directory the
 * policy's mode and group.  A privkey.pem.new of the old layout is moved
 * there when no pending key exists yet.  The caller writes the file with
 * acme_key_write_pem() (mode 0600, temp file and rename) and reads it with
 * acme_dkey_load(); a pending key survives restarts until cf_install()
 * consumes it or cf_discard_pending() drops it.
 * 0, RZ_EINVAL, RZ_EDNAME, RZ_ETOOLONG, RZ_EEXIST, RZ_EPERM, RZ_EIO.
 */
int cf_pending_key_path(const struct cf_policy *p, const char *service, const char *domain,
                        char *out, size_t len, char *err, size_t errlen);

/*
 * Make chain_pem (NUL-terminated, starting "-----BEGIN CERTIFICATE-----",
 * at most CF_CHAIN_MAX bytes) with its key the live certificate of
 * (service, domain), as generation `generation` (e.g. the serial in hex;
 * [A-Za-z0-9][A-Za-z0-9_-]*, at most CF_GENERATION_MAX characters; one
 * generation names one certificate and its key).
 *
 * The key is, in this order: the one of generation `generation` when it
 * exists already (a re-run); the live one when the live chain is
 * chain_pem byte for byte (installed before, e.g. by the old layout);
 * else the pending key, which the caller has checked belongs to the
 * certificate (acme_dkey_check_cert).  None of these: RZ_ENOENT.
 *
 * Steps: the generation is written into <gen>.tmp/ (each file fsync'ed,
 * then the directory), renamed to <gen>, a new link to it is renamed over
 * the live path (a real directory there is exchanged, see Migration), the
 * parent is fsync'ed; then the pending key is removed when it is the
 * installed key, and when this call moved the link, every generation but
 * <gen> and the one the live path named before (the previous one) is
 * deleted; stale temporary names always are.  A generation that exists
 * with another chain (the CA's other chain for the same certificate) gets
 * the new chain by one rename inside it and keeps its key; when a pending
 * key that is not that key exists, the name is taken to be reused for
 * another certificate: RZ_EEXIST, and the files stay as they are.
 *
 * Idempotent: after a crash or an error at any point, calling it again
 * with the same arguments completes the install; calling it when the
 * install is complete changes nothing but modes and stale temporaries.
 * On any failure the live path still names a complete generation, the
 * old or the new one (but for Migration's fallback moment).
 *
 * With a group the installed key is 0640, which acme_dkey_load() refuses
 * (no group access): after a restart, whether a certificate is installed
 * already is cf_installed_chain() equal to it, not a load of its key.
 * 0, RZ_EINVAL, RZ_EDNAME, RZ_ETOOLONG, RZ_ENOENT, RZ_EEXIST, RZ_EPERM,
 * RZ_ENOMEM, RZ_EIO.
 */
int cf_install(const struct cf_policy *p, const char *service, const char *domain,
               const char *chain_pem, const char *generation, char *err, size_t errlen);

/* A public file written into a generation beside the chain (a POSH
 * document, daemon/posh.h): its name and len bytes of data. */
#define CF_EXTRA_MAX 4              /* files per install */
#define CF_EXTRA_SIZE (64 * 1024)   /* bytes per file */
struct cf_extra {
	const char *name;
	const char *data;
	size_t len;
};

/*
 * cf_install() with n_extra (0..CF_EXTRA_MAX) public files that go with
 * the certificate: each is written into the new generation before it goes
 * live, so the live path shows the chain, the key and these files of one
 * certificate together, and a failed install leaves the previous
 * generation's files as they were.  A generation that exists already (a
 * re-run, another chain) gets each file that differs replaced by its own
 * rename; files of it that are not named stay.  A name other than
 * [a-z0-9][a-z0-9_-]* with an optional ".[a-z0-9]+", CF_CHAIN_FILE or
 * CF_KEY_FILE, a name given twice or data over CF_EXTRA_SIZE bytes is
 * RZ_EINVAL before anything is touched.  Otherwise as cf_install().
 */
int cf_install_extra(const struct cf_policy *p, const char *service, const char *domain,
                     const char *chain_pem, const char *generation,
                     const struct cf_extra *extra, size_t n_extra, char *err, size_t errlen);

/*
 * The live chain of (service, domain), read through regzone's own names
 * (never through a link planted below <dir>), into *pem: malloc'ed,
 * NUL-terminated, free() it; NULL on failure.  A directory of the old
 * layout counts.  RZ_ENOENT when nothing is installed; RZ_EINVAL,
 * RZ_EDNAME, RZ_EEXIST, RZ_ETOOLONG, RZ_ENOMEM, RZ_EIO.
 */
int cf_installed_chain(const struct cf_policy *p, const char *service, const char *domain,
                       char **pem, char *err, size_t errlen);

/*
 * Drop the pending key of (service, domain) (an order that failed), with
 * any temporary file acme_key_write_pem() left next to it and a
 * privkey.pem.new of the old layout.  0 when a key was removed, RZ_ENOENT
 * when there was none (temporaries aside, nothing changed); RZ_EINVAL,
 * RZ_EDNAME, RZ_EEXIST, RZ_EPERM, RZ_EIO.
 */
int cf_discard_pending(const struct cf_policy *p, const char *service, const char *domain,
                       char *err, size_t errlen);

/*
 * Remove every file of (service, domain): the live link (or a directory of
 * the old layout), the private directory with all generations and the
 * pending key, and a temporary link.  <dir> and <dir>/<service> stay.
 * 0 also when there was nothing.  Something not regzone's at the live path
 * is left alone and reported (RZ_EEXIST) after the rest is removed.
 * RZ_EINVAL, RZ_EDNAME, RZ_EEXIST, RZ_EPERM, RZ_EIO.
 */
int cf_remove(const struct cf_policy *p, const char *service, const char *domain,
              char *err, size_t errlen);

#endif
