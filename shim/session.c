/*
 * Sessions (see session.h): thread-local bindings from the API, HTTP heads
 * (hook_net.c), PHP session locks (hook_fd.c) and UPLOADGUARD_SESSION.
 * Async-signal-safe reads; binding computes a digest (pure code).
 */
#include <string.h>

#include "digest.h"
#include "event.h"
#include "guard.h"
#include "path.h"
#include "session.h"
#include "uploadguard.h"

static __thread struct ug_binding tls_bind
    __attribute__((tls_model("initial-exec")));
static __thread bool tls_bound __attribute__((tls_model("initial-exec")));
static struct ug_binding env_bind;
static bool env_bound;

void ug__session_digest_of(const char *id, char out[17])
{
	ug__session_digest(ug__st.cfg.salt, id, out);
}

const struct ug_binding *ug__session_cur(void)
{
	if (tls_bound)
		return &tls_bind;
	return env_bound ? &env_bind : NULL;
}

const char *ug__binding_digest(const struct ug_binding *b)
{
	/* Bindings are the calling thread's own (or the process's, computed
	 * at start): filling the digest in here races with nobody. */
	struct ug_binding *w = (struct ug_binding *)b;

	if (!w->digest[0])
		ug__session_digest_of(w->id, w->digest);
	return w->digest;
}

const struct ug_binding *ug__session_active(void)
{
	return ug__st.sessions ? ug__session_cur() : NULL;
}

static bool valid_id(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len >= UG_SESSION_ID_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

int ug__session_bind(const char *id, size_t len, const char *source, int fd)
{
	if (!valid_id(id, len))
		return -EINVAL;
	/* Same id again (the next request of a keep-alive connection): keep
	 * the digest, skip the HMAC. */
	if (!(tls_bound && strlen(tls_bind.id) == len &&
	      memcmp(tls_bind.id, id, len) == 0)) {
		tls_bound = false;
		memcpy(tls_bind.id, id, len);
		tls_bind.id[len] = '\0';
		tls_bind.digest[0] = '\0'; /* computed when first needed */
	}
	tls_bind.source = source;
	tls_bind.fd = fd;
	tls_bound = true;
	return 0;
}

void ug__session_unbind(int fd)
{
	if (tls_bound && (fd < 0 || tls_bind.fd == fd))
		tls_bound = false;
}

void ug__session_init(const char *env_id)
{
	size_t len;

	if (!env_id)
		return;
	len = strlen(env_id);
	if (!valid_id(env_id, len)) {
		ug__diag("UPLOADGUARD_SESSION is empty, too long or has "
			 "control bytes: ignored");
		return;
	}
	memcpy(env_bind.id, env_id, len + 1);
	ug__session_digest_of(env_bind.id, env_bind.digest);
	env_bind.source = "env";
	env_bind.fd = -1;
	env_bound = true;
}

bool ug__session_owner_from_path(const char *pattern, const char *rel,
				 char out[17])
{
	char id[UG_SESSION_ID_MAX];

	if (ug__path_owner(pattern, rel, id, sizeof(id)) < 0)
		return false;
	ug__session_digest_of(id, out);
	return true;
}

/* Where the id sits in abs: [*at, *at + *len), or false. */
static bool id_span(const struct ug_rootrt *rt, const char *abs, size_t *at,
		    size_t *len)
{
	const char *pat = rt ? rt->cfg->owner : NULL, *rel, *base, *mark;
	char id[UG_SESSION_ID_MAX];
	int n;

	if (pat && rt->reallen <= strlen(abs)) {
		rel = abs + rt->reallen;
		if (*rel == '/')
			rel++;
		mark = strstr(pat + 5, "{session}"); /* pat: "path:..." */
		n = ug__path_owner(pat, rel, id, sizeof(id));
		if (n > 0 && mark) {
			*at = (size_t)(rel - abs) + (size_t)(mark - (pat + 5));
			*len = (size_t)n;
			return true;
		}
	}
	base = strrchr(abs, '/');
	if (ug__st.php_sessions && base && strncmp(base + 1, "sess_", 5) == 0 &&
	    base[6]) {
		*at = (size_t)(base + 6 - abs);
		*len = strlen(base + 6);
		return true;
	}
	return false;
}

const char *ug__session_redact(const struct ug_rootrt *rt, const char *abs,
			       char *buf, size_t size)
{
	char id[UG_SESSION_ID_MAX], dg[17];
	size_t at, len, tail;

	if (!abs || !id_span(rt, abs, &at, &len))
		return abs;
	tail = strlen(abs + at + len);
	if (len >= sizeof(id) || at + 18 + tail >= size)
		return "{redacted}";
	memcpy(id, abs + at, len);
	id[len] = '\0';
	ug__session_digest_of(id, dg);
	memcpy(buf, abs, at);
	buf[at] = '{';
	memcpy(buf + at + 1, dg, 16);
	buf[at + 17] = '}';
	memcpy(buf + at + 18, abs + at + len, tail + 1);
	return buf;
}

/* ---- public API ------------------------------------------------------------
 */

UG_EXPORT int ug_session_enter(const char *id)
{
	int rc;

	if (!id) {
		errno = EINVAL;
		return -1;
	}
	rc = ug__session_bind(id, strlen(id), "api", -1);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

UG_EXPORT void ug_session_leave(void) { tls_bound = false; }

UG_EXPORT const char *ug_session_current(void)
{
	const struct ug_binding *b = ug__session_cur();

	return b ? b->id : NULL;
}
