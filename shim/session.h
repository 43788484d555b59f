/*
 * Sessions: which session the calling thread serves, and who owns a file.
 * A binding is thread-local; reading it is async-signal-safe.
 */
#ifndef UG_SESSION_H
#define UG_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#define UG_SESSION_ID_MAX 256

struct ug_binding {
	char id[UG_SESSION_ID_MAX]; /* raw id: never logged */
	char digest[17];	    /* what the log holds: ug__binding_digest */
	const char *source;	    /* "api", "cookie:NAME", ... */
	int fd;			    /* connection or session file, or -1 */
};

/* The calling thread's binding, falling back to the process's env binding;
 * NULL when unbound. */
const struct ug_binding *ug__session_cur(void);
/* b's digest, computed on first use: a binding that never meets a guarded
 * file (most requests) costs no HMAC. */
const char *ug__binding_digest(const struct ug_binding *b);

/* The binding that session checks should use: NULL when the config asks
 * for no session checks ([session] absent). */
const struct ug_binding *ug__session_active(void);

/* Binds the calling thread (id is copied, digest computed). */
int ug__session_bind(const char *id, size_t len, const char *source, int fd);
/* Ends the thread's binding if it came from fd (fd < 0: whatever it is). */
void ug__session_unbind(int fd);
void ug__session_init(const char *env_id); /* constructor */
/* The owner digest a file under rt gets from its path pattern, or false. */
bool ug__session_owner_from_path(const char *pattern, const char *rel,
				 char out[17]);
void ug__session_digest_of(const char *id, char out[17]);

struct ug_rootrt;
/* A guarded path as the log may show it: a session id in it (where the
 * root's owner = path:... pattern puts one, or after "sess_" in a PHP
 * session file's name when the php source is on) is replaced by
 * "{DIGEST}".  Returns abs itself when there is nothing to hide, else buf
 * (size bytes; a path that does not fit comes back as "{redacted}"). */
const char *ug__session_redact(const struct ug_rootrt *rt, const char *abs,
			       char *buf, size_t size);

#endif /* UG_SESSION_H */
