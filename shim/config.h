/*
 * Configuration: the INI file named by UPLOADGUARD_CONFIG plus environment
 * overrides, parsed once in the constructor into an immutable struct.
 * Not thread-safe (runs before the host's threads); allocates with malloc.
 */
#ifndef UG_CONFIG_H
#define UG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UG_UNLIMITED UINT64_MAX
#define UG_MAX_SOURCES 8
#define UG_SOURCE_NAME_MAX 64

enum ug_mode { UG_MODE_UNSET = 0, UG_MODE_LOG, UG_MODE_DENY, UG_MODE_ABORT };

enum ug_source_kind {
	UG_SRC_API,    /* ug_session_enter() */
	UG_SRC_COOKIE, /* cookie:NAME in an HTTP request head */
	UG_SRC_HEADER, /* header:NAME in an HTTP request head */
	UG_SRC_PHP,    /* flock(LOCK_EX) on a PHP sess_<id> file */
	UG_SRC_ENV,    /* UPLOADGUARD_SESSION */
};

struct ug_source {
	enum ug_source_kind kind;
	char name[UG_SOURCE_NAME_MAX]; /* cookie or header name, else "" */
};

struct ug_root {
	char *path; /* absolute, lexically normalised, no trailing '/' */
	size_t len; /* strlen(path) */
	uint64_t max_file, max_total, max_files,
	    max_session;   /* or UG_UNLIMITED */
	enum ug_mode mode; /* UG_MODE_UNSET: use the [guard] mode */
	char *owner;	   /* "path:{session}/"-style pattern, or NULL */
	unsigned line;	   /* line of the [upload ...] header, for messages */
};

struct ug_config {
	enum ug_mode mode; /* [guard] mode, default UG_MODE_LOG */
	char *log; /* [guard] log: "stderr" (default), "syslog" or a path */
	bool on_error_closed; /* [guard] on_error = closed (default open) */
	bool audit;	      /* [guard] audit = on|off (default off) */
	bool
	    io_uring_block; /* [guard] io_uring = block|allow (default allow) */
	char *only;	    /* [guard] only = glob of executables, or NULL */
	struct ug_source
	    sources[UG_MAX_SOURCES]; /* [session] from = a, b, ... */
	size_t nsources;	     /* default: one source, api */
	bool sessions;		     /* a [session] section is present */
	enum ug_mode cross;	     /* [session] cross, default UG_MODE_LOG */
	char *salt;		     /* [session] salt, or NULL */
	struct ug_root *roots;	     /* [upload PATH] sections, in file order */
	size_t nroots;
};

/* Parses "123", "10K", "10M", "1G", "2T" (powers of 1024; lower case too,
 * optional trailing "B"/"iB" is not accepted).  Returns 0, -EINVAL for
 * malformed input, -ERANGE on overflow. */
int ug__parse_size(const char *s, uint64_t *out);

/* Parses the text of a config file into *cfg (which it initialises with the
 * defaults first).  Returns 0, or -EINVAL with a one-line message
 * "FILE:LINE: what is wrong" in err.  Never reads the environment. */
int ug__config_parse(struct ug_config *cfg, const char *text, size_t len,
		     const char *file, char *err, size_t errlen);

/* Reads and parses the file at path.  -ENOENT if it does not exist (err set
 * too), otherwise as ug__config_parse.  Refuses files over 4 MiB. */
int ug__config_load(struct ug_config *cfg, const char *path, char *err,
		    size_t errlen);

/* Applies UPLOADGUARD_MODE / UPLOADGUARD_LOG values (either may be NULL).
 * Returns 0 or -EINVAL with "UPLOADGUARD_MODE: ..." in err. */
int ug__config_env(struct ug_config *cfg, const char *mode, const char *log,
		   char *err, size_t errlen);

/* Initialises *cfg with the defaults (no roots). */
void ug__config_defaults(struct ug_config *cfg);

/* Frees what parse/load allocated; *cfg is left with the defaults. */
void ug__config_free(struct ug_config *cfg);

const char *ug__mode_name(enum ug_mode m); /* "log", "deny", "abort" */

#endif /* UG_CONFIG_H */
