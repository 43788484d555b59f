/*
 * Configuration: owns the INI parser, the size parser, upload-path
 * normalisation and the file loader behind shim/config.h.
 * Not thread-safe (runs once, before the host's threads); not
 * async-signal-safe (allocates with malloc).  No stdio, no getenv.
 */
#include "config.h"
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UG_CONFIG_MAX_BYTES (4u << 20) /* refuse bigger files */
#define UG_MSG_SHOW_MAX 96   /* input bytes quoted in a message, then "..." */
#define UG_MSG_FILE_MAX 1024 /* bytes of the file name in a message */

/* Points at a literal: never freed (see ug__config_free). */
static char ug__default_log[] = "stderr";

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/*
 * A bounded message buffer.  Every append is all-or-nothing per unit (a
 * byte, an escape such as \x1b or one UTF-8 character), so truncation to
 * errlen never splits one; once a unit does not fit nothing more is added.
 * The buffer is NUL-terminated at all times when cap > 0.
 */
struct ug__msg {
	char *buf;
	size_t cap, len;
	bool full;
};

static void msg_init(struct ug__msg *m, char *buf, size_t cap)
{
	m->buf = buf;
	m->cap = buf ? cap : 0;
	m->len = 0;
	m->full = false;
	if (m->cap)
		buf[0] = '\0';
}

static void msg_unit(struct ug__msg *m, const char *s, size_t n)
{
	if (m->full || m->len + n + 1 > m->cap) {
		m->full = true;
		return;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = '\0';
}

/* Trusted text (our own literals): appended byte by byte. */
static void msg_str(struct ug__msg *m, const char *s)
{
	for (; *s; s++)
		msg_unit(m, s, 1);
}

static void msg_uint(struct ug__msg *m, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	msg_unit(m, tmp + i, sizeof(tmp) - i);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if the
 * bytes are not one, or encode a C1 control (U+0080..U+009F). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	uint32_t cp, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		k = 2, cp = s[0] & 0x1f, min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3, cp = s[0] & 0x0f, min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4, cp = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (k > n)
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp < 0xa0)
		return 0;
	return k;
}

/*
 * Untrusted text (from the config file or the environment): control bytes,
 * DEL, C1 controls and bytes that are not valid UTF-8 become \xNN, a
 * backslash becomes \\; at most `limit` input bytes are shown, then "...".
 */
static void msg_untrusted(struct ug__msg *m, const char *p, size_t n,
			  size_t limit)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, k;

	while (i < n) {
		if (i >= limit) {
			msg_unit(m, "...", 3);
			return;
		}
		if (s[i] == '\\') {
			msg_unit(m, "\\\\", 2);
			k = 1;
		} else if (s[i] >= 0x20 && s[i] < 0x7f) {
			msg_unit(m, p + i, 1);
			k = 1;
		} else if (s[i] >= 0x80 && (k = utf8_len(s + i, n - i))) {
			msg_unit(m, p + i, k);
		} else {
			char esc[4] = {'\\', 'x', hex[s[i] >> 4],
				       hex[s[i] & 15]};

			msg_unit(m, esc, 4);
			k = 1;
		}
		i += k;
	}
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static bool eq(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n == l && memcmp(p, lit, l) == 0;
}

static char *dup_n(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* Parses a size from exactly n bytes; see ug__parse_size. */
static int parse_size_n(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	size_t i = 0;

	if (n && (s[n - 1] | 0x20) >= 'a' && (s[n - 1] | 0x20) <= 'z') {
		switch (s[n - 1] | 0x20) {
		case 'k':
			shift = 10;
			break;
		case 'm':
			shift = 20;
			break;
		case 'g':
			shift = 30;
			break;
		case 't':
			shift = 40;
			break;
		default:
			return -EINVAL;
		}
		n--;
	}
	if (n == 0)
		return -EINVAL;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (shift && v > UINT64_MAX >> shift)
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int ug__parse_size(const char *s, uint64_t *out)
{
	if (!s || !out)
		return -EINVAL;
	return parse_size_n(s, strlen(s), out);
}

/* Accepts "log", "deny" or "abort"; returns UG_MODE_UNSET otherwise. */
static enum ug_mode parse_mode(const char *p, size_t n)
{
	if (eq(p, n, "log"))
		return UG_MODE_LOG;
	if (eq(p, n, "deny"))
		return UG_MODE_DENY;
	if (eq(p, n, "abort"))
		return UG_MODE_ABORT;
	return UG_MODE_UNSET;
}

const char *ug__mode_name(enum ug_mode m)
{
	switch (m) {
	case UG_MODE_LOG:
		return "log";
	case UG_MODE_DENY:
		return "deny";
	case UG_MODE_ABORT:
		return "abort";
	case UG_MODE_UNSET:
		return "unset";
	}
	return "?";
}

/* HTTP token characters (RFC 9110 tchar). */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* ------------------------------------------------------------------ */
/* Defaults and teardown                                                */
/* ------------------------------------------------------------------ */

void ug__config_defaults(struct ug_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = UG_MODE_LOG;
	cfg->log = ug__default_log;
	cfg->sources[0].kind = UG_SRC_API;
	cfg->nsources = 1;
	cfg->cross = UG_MODE_LOG;
}

void ug__config_free(struct ug_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nroots; i++) {
		free(cfg->roots[i].path);
		free(cfg->roots[i].owner);
	}
	free(cfg->roots);
	if (cfg->log != ug__default_log)
		free(cfg->log);
	free(cfg->only);
	free(cfg->salt);
	ug__config_defaults(cfg);
}

/* ------------------------------------------------------------------ */
/* The parser                                                           */
/* ------------------------------------------------------------------ */

enum ug__sec { SEC_NONE, SEC_GUARD, SEC_SESSION, SEC_UPLOAD, SEC_COUNT };

static const char *const sec_names[SEC_COUNT] = {
    [SEC_NONE] = "(no section)",
    [SEC_GUARD] = "guard",
    [SEC_SESSION] = "session",
    [SEC_UPLOAD] = "upload",
};

struct ug__parser;
typedef int (*ug__setter)(struct ug__parser *p, const char *key, const char *v,
			  size_t n);

struct ug__key {
	enum ug__sec sec;
	const char *name;
	ug__setter set;
};

#define UG_KEYS_MAX 16 /* at least the number of entries in keys[] */

struct ug__parser {
	struct ug_config *cfg;
	const char *file;
	char *err;
	size_t errlen;
	unsigned line;
	enum ug__sec sec;
	struct ug_root *root; /* current [upload] section */
	size_t roots_cap;
	/* Line where each key of each section was first set, 0 if not yet.
	 * The SEC_UPLOAD row is reset at each [upload] header. */
	unsigned seen[SEC_COUNT][UG_KEYS_MAX];
	/* Open-addressing set of root indices + 1, by path, for duplicates. */
	size_t *slots;
	size_t nslots;
};

/*
 * Formats "FILE:LINE: " and then fmt into p->err.  fmt understands:
 * %s  a trusted NUL-terminated string, copied as is;
 * %v  untrusted text given as (const char *, size_t), escaped, shortened;
 * %u  an unsigned int;  %z  a size_t;
 * %S  the current section, e.g. "[upload /srv]".
 * Returns -EINVAL for the caller to pass up.
 */
static int perr(struct ug__parser *p, const char *fmt, ...)
{
	struct ug__msg m;
	va_list ap;
	const char *s;

	msg_init(&m, p->err, p->errlen);
	s = p->file ? p->file : "(config)";
	msg_untrusted(&m, s, strlen(s), UG_MSG_FILE_MAX);
	msg_unit(&m, ":", 1);
	msg_uint(&m, p->line);
	msg_str(&m, ": ");
	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			msg_unit(&m, fmt, 1);
			continue;
		}
		switch (*++fmt) {
		case 's':
			msg_str(&m, va_arg(ap, const char *));
			break;
		case 'v': {
			const char *v = va_arg(ap, const char *);
			size_t n = va_arg(ap, size_t);

			msg_untrusted(&m, v, n, UG_MSG_SHOW_MAX);
			break;
		}
		case 'u':
			msg_uint(&m, va_arg(ap, unsigned));
			break;
		case 'z':
			msg_uint(&m, va_arg(ap, size_t));
			break;
		case 'S':
			msg_unit(&m, "[", 1);
			msg_str(&m, sec_names[p->sec]);
			if (p->sec == SEC_UPLOAD) {
				msg_unit(&m, " ", 1);
				msg_untrusted(&m, p->root->path, p->root->len,
					      UG_MSG_SHOW_MAX);
			}
			msg_unit(&m, "]", 1);
			break;
		case '\0':
			fmt--;
			break;
		default:
			msg_unit(&m, fmt, 1);
			break;
		}
	}
	va_end(ap);
	return -EINVAL;
}

static int oom(struct ug__parser *p)
{
	perr(p, "out of memory");
	return -ENOMEM;
}

/* Replaces *dst (freeing the old value unless it is the default log). */
static int set_string(struct ug__parser *p, char **dst, const char *v, size_t n)
{
	char *s = dup_n(v, n);

	if (!s)
		return oom(p);
	if (*dst != ug__default_log)
		free(*dst);
	*dst = s;
	return 0;
}

/* --- [guard] ------------------------------------------------------- */

static int set_guard_mode(struct ug__parser *p, const char *key, const char *v,
			  size_t n)
{
	enum ug_mode m = parse_mode(v, n);

	if (m == UG_MODE_UNSET)
		return perr(p, "bad mode '%v' for %s (use log, deny or abort)",
			    v, n, key);
	if (p->sec == SEC_UPLOAD)
		p->root->mode = m;
	else if (p->sec == SEC_SESSION)
		p->cfg->cross = m;
	else
		p->cfg->mode = m;
	return 0;
}

static bool log_ok(const char *v, size_t n)
{
	return eq(v, n, "stderr") || eq(v, n, "syslog") ||
	       (n > 8 && memcmp(v, "syslog:/", 8) == 0) || v[0] == '/';
}

static int set_log(struct ug__parser *p,
		   const char *key __attribute__((unused)), const char *v,
		   size_t n)
{
	if (!log_ok(v, n))
		return perr(
		    p,
		    "bad log '%v' (use stderr, syslog, syslog:/socket or an "
		    "absolute file path)",
		    v, n);
	return set_string(p, &p->cfg->log, v, n);
}

/* A two-word switch: `yes` sets *flag, `no` clears it; `use` lists both
 * in the order the documentation gives them. */
static int set_switch(struct ug__parser *p, const char *key, const char *v,
		      size_t n, bool *flag, const char *yes, const char *no,
		      const char *use)
{
	if (eq(v, n, yes))
		*flag = true;
	else if (eq(v, n, no))
		*flag = false;
	else
		return perr(p, "bad value '%v' for %s (use %s)", v, n, key,
			    use);
	return 0;
}

static int set_on_error(struct ug__parser *p, const char *key, const char *v,
			size_t n)
{
	return set_switch(p, key, v, n, &p->cfg->on_error_closed, "closed",
			  "open", "open or closed");
}

static int set_audit(struct ug__parser *p, const char *key, const char *v,
		     size_t n)
{
	return set_switch(p, key, v, n, &p->cfg->audit, "on", "off",
			  "on or off");
}

static int set_io_uring(struct ug__parser *p, const char *key, const char *v,
			size_t n)
{
	return set_switch(p, key, v, n, &p->cfg->io_uring_block, "block",
			  "allow", "block or allow");
}

static int set_only(struct ug__parser *p,
		    const char *key __attribute__((unused)), const char *v,
		    size_t n)
{
	return set_string(p, &p->cfg->only, v, n);
}

/* --- [session] ----------------------------------------------------- */

/* Parses one trimmed, non-empty item of `from` into *src. */
static int parse_source(struct ug__parser *p, const char *v, size_t n,
			struct ug_source *src)
{
	const char *name;
	size_t nlen, i;

	memset(src, 0, sizeof(*src));
	if (eq(v, n, "api")) {
		src->kind = UG_SRC_API;
		return 0;
	}
	if (eq(v, n, "php")) {
		src->kind = UG_SRC_PHP;
		return 0;
	}
	if (eq(v, n, "env")) {
		src->kind = UG_SRC_ENV;
		return 0;
	}
	if (n > 7 && memcmp(v, "cookie:", 7) == 0) {
		src->kind = UG_SRC_COOKIE;
		name = v + 7, nlen = n - 7;
	} else if (n > 7 && memcmp(v, "header:", 7) == 0) {
		src->kind = UG_SRC_HEADER;
		name = v + 7, nlen = n - 7;
	} else if (eq(v, n, "cookie:") || eq(v, n, "header:")) {
		return perr(p,
			    "bad session source '%v' (the name after ':' "
			    "is missing)",
			    v, n);
	} else {
		return perr(p,
			    "bad session source '%v' (use api, php, env, "
			    "cookie:NAME or header:NAME)",
			    v, n);
	}
	if (nlen >= UG_SOURCE_NAME_MAX)
		return perr(p,
			    "bad session source '%v' (the name is longer "
			    "than %u characters)",
			    v, n, (unsigned)UG_SOURCE_NAME_MAX - 1);
	for (i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)name[i]))
			return perr(p,
				    "bad session source '%v' (the name may "
				    "hold letters, digits and "
				    "!#$%%&'*+-.^_`|~ only)",
				    v, n);
	memcpy(src->name, name, nlen);
	return 0;
}

static bool same_source(const struct ug_source *a, const struct ug_source *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == UG_SRC_HEADER) /* header names are case-insensitive */
		return strcasecmp(a->name, b->name) == 0;
	return strcmp(a->name, b->name) == 0;
}

static int set_from(struct ug__parser *p,
		    const char *key __attribute__((unused)), const char *v,
		    size_t n)
{
	struct ug_source src[UG_MAX_SOURCES];
	size_t count = 0, i = 0, j;

	while (i <= n) {
		size_t s, e;
		int rc;

		while (i < n && is_space(v[i]))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && is_space(v[e - 1]))
			e--;
		if (e == s)
			return perr(p,
				    "empty item in from = '%v' (use a "
				    "comma-separated list such as "
				    "cookie:PHPSESSID, api)",
				    v, n);
		if (count == UG_MAX_SOURCES)
			return perr(p,
				    "too many session sources in from "
				    "(at most %u)",
				    (unsigned)UG_MAX_SOURCES);
		rc = parse_source(p, v + s, e - s, &src[count]);
		if (rc)
			return rc;
		for (j = 0; j < count; j++)
			if (same_source(&src[j], &src[count]))
				return perr(p,
					    "session source '%v' is listed "
					    "twice in from",
					    v + s, e - s);
		count++;
		i++; /* past the ',' (or past the end) */
	}
	memcpy(p->cfg->sources, src, count * sizeof(src[0]));
	p->cfg->nsources = count;
	return 0;
}

static int set_salt(struct ug__parser *p,
		    const char *key __attribute__((unused)), const char *v,
		    size_t n)
{
	return set_string(p, &p->cfg->salt, v, n);
}

/* --- [upload PATH] ------------------------------------------------- */

static uint64_t *root_cap(struct ug_root *r, const char *key)
{
	if (!strcmp(key, "max_file"))
		return &r->max_file;
	if (!strcmp(key, "max_total"))
		return &r->max_total;
	if (!strcmp(key, "max_files"))
		return &r->max_files;
	return &r->max_session;
}

static int set_cap(struct ug__parser *p, const char *key, const char *v,
		   size_t n)
{
	bool count = !strcmp(key, "max_files");
	int rc = parse_size_n(v, n, root_cap(p->root, key));

	if (rc == -ERANGE)
		return perr(p, "%s '%v' for %s is too large",
			    count ? "count" : "size", v, n, key);
	if (rc && count)
		return perr(p,
			    "bad count '%v' for %s (use a number, "
			    "optionally with K, M, G, T)",
			    v, n, key);
	if (rc)
		return perr(p, "bad size '%v' for %s (use bytes or K, M, G, T)",
			    v, n, key);
	return 0;
}

static int set_owner(struct ug__parser *p,
		     const char *key __attribute__((unused)), const char *v,
		     size_t n)
{
	const char *first, *ph = "{session}";
	size_t rest;

	first = n > 5 ? memmem(v + 5, n - 5, ph, 9) : NULL;
	if (n < 5 || memcmp(v, "path:", 5) != 0 || !first)
		goto bad;
	rest = n - (size_t)(first + 9 - v);
	if (memmem(first + 9, rest, ph, 9))
		goto bad;
	return set_string(p, &p->root->owner, v, n);
bad:
	return perr(p,
		    "bad owner '%v' (use path:PATTERN with {session} "
		    "exactly once, e.g. path:{session}/)",
		    v, n);
}

static const struct ug__key keys[] = {
    {SEC_GUARD, "mode", set_guard_mode},
    {SEC_GUARD, "log", set_log},
    {SEC_GUARD, "on_error", set_on_error},
    {SEC_GUARD, "audit", set_audit},
    {SEC_GUARD, "io_uring", set_io_uring},
    {SEC_GUARD, "only", set_only},
    {SEC_SESSION, "from", set_from},
    {SEC_SESSION, "cross", set_guard_mode},
    {SEC_SESSION, "salt", set_salt},
    {SEC_UPLOAD, "max_file", set_cap},
    {SEC_UPLOAD, "max_total", set_cap},
    {SEC_UPLOAD, "max_files", set_cap},
    {SEC_UPLOAD, "max_session", set_cap},
    {SEC_UPLOAD, "mode", set_guard_mode},
    {SEC_UPLOAD, "owner", set_owner},
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) <= UG_KEYS_MAX,
	       "ug__parser.seen is indexed by key");

/* --- duplicate [upload] paths -------------------------------------- */

static size_t path_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	while (n--)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return (size_t)h;
}

/* Finds the root with r's path, or inserts r (index idx).  Returns the
 * earlier root, NULL if inserted, or (struct ug_root *)-1 on ENOMEM. */
static struct ug_root *root_set_add(struct ug__parser *p, size_t idx)
{
	struct ug_root *r = &p->cfg->roots[idx], *other;
	size_t mask, i;

	if ((idx + 1) * 2 > p->nslots) {
		size_t ns = p->nslots ? p->nslots * 2 : 64, j;
		size_t *slots = calloc(ns, sizeof(*slots));

		if (!slots)
			return (struct ug_root *)-1;
		for (j = 0; j < idx; j++) {
			struct ug_root *q = &p->cfg->roots[j];

			i = path_hash(q->path, q->len) & (ns - 1);
			while (slots[i])
				i = (i + 1) & (ns - 1);
			slots[i] = j + 1;
		}
		free(p->slots);
		p->slots = slots;
		p->nslots = ns;
	}
	mask = p->nslots - 1;
	for (i = path_hash(r->path, r->len) & mask; p->slots[i];
	     i = (i + 1) & mask) {
		other = &p->cfg->roots[p->slots[i] - 1];
		if (other->len == r->len &&
		    !memcmp(other->path, r->path, r->len))
			return other;
	}
	p->slots[i] = idx + 1;
	return NULL;
}

/* --- lines --------------------------------------------------------- */

/* Returns true if s[0..n) is only blanks, optionally then a comment. */
static bool only_comment(const char *s, size_t n)
{
	while (n && is_space(*s))
		s++, n--;
	return n == 0 || *s == ';' || *s == '#';
}

/* Handles "[upload PATH]" once the name "upload" is read; arg[0..n) is the
 * trimmed text after it, quotes already removed. */
static int open_upload(struct ug__parser *p, const char *arg, size_t n)
{
	struct ug_config *cfg = p->cfg;
	struct ug_root *r, *dup;
	char *path;
	size_t len;

	if (n == 0)
		return perr(p, "empty path in [upload] (use [upload "
			       "/absolute/path])");
	if (arg[0] != '/')
		return perr(p, "upload path '%v' is not absolute", arg, n);
	if (n >= PATH_MAX)
		return perr(p,
			    "upload path '%v' is too long (%z bytes, at "
			    "most %u)",
			    arg, n, n, (unsigned)PATH_MAX - 1);
	path = malloc(2 * n + 2); /* the text, then its normal form */
	if (!path)
		return oom(p);
	memcpy(path + n + 1, arg, n);
	path[2 * n + 1] = '\0';
	len = (size_t)ug__path_normalize(path + n + 1, path, n + 1);
	if (cfg->nroots == p->roots_cap) {
		size_t nc = p->roots_cap ? p->roots_cap * 2 : 8;
		struct ug_root *nr = NULL;

		if (nc < SIZE_MAX / sizeof(*nr))
			nr = realloc(cfg->roots, nc * sizeof(*nr));
		if (!nr) {
			free(path);
			return oom(p);
		}
		cfg->roots = nr;
		p->roots_cap = nc;
	}
	r = &cfg->roots[cfg->nroots];
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->len = len;
	r->max_file = r->max_total = r->max_files = r->max_session =
	    UG_UNLIMITED;
	r->mode = UG_MODE_UNSET;
	r->line = p->line;
	cfg->nroots++;
	dup = root_set_add(p, cfg->nroots - 1);
	if (dup == (struct ug_root *)-1)
		return oom(p);
	if (dup)
		return perr(p, "duplicate [upload %v] (first at line %u)",
			    r->path, r->len, dup->line);
	p->root = r;
	p->sec = SEC_UPLOAD;
	memset(p->seen[SEC_UPLOAD], 0, sizeof(p->seen[SEC_UPLOAD]));
	return 0;
}

/* s[0..n) starts with '['. */
static int parse_header(struct ug__parser *p, const char *s, size_t n)
{
	const char *name, *arg, *end = s + n, *q;
	size_t nlen, alen;

	s++;
	while (s < end && is_space(*s))
		s++;
	name = s;
	while (s < end && !is_space(*s) && *s != ']' && *s != '"')
		s++;
	nlen = (size_t)(s - name);
	while (s < end && is_space(*s))
		s++;
	if (s < end && *s == '"') { /* [upload "/a path ] with brackets"] */
		arg = ++s;
		q = memchr(s, '"', (size_t)(end - s));
		if (!q)
			return perr(p, "missing closing '\"' in section "
				       "header");
		alen = (size_t)(q - arg);
		s = q + 1;
		while (s < end && is_space(*s))
			s++;
		if (s == end || *s != ']')
			return perr(p, "section header without closing ']'");
	} else {
		arg = s;
		q = memchr(s, ']', (size_t)(end - s));
		if (!q)
			return perr(p, "section header without closing ']'");
		s = q;
		while (q > arg && is_space(q[-1]))
			q--;
		alen = (size_t)(q - arg);
	}
	if (!only_comment(s + 1, (size_t)(end - s - 1)))
		return perr(p, "unexpected text after ']': '%v'", s + 1,
			    (size_t)(end - s - 1));

	if (eq(name, nlen, "upload")) {
		p->sec = SEC_NONE; /* until the path is accepted */
		return open_upload(p, arg, alen);
	}
	if (eq(name, nlen, "guard"))
		p->sec = SEC_GUARD;
	else if (eq(name, nlen, "session")) {
		p->sec = SEC_SESSION;
		p->cfg->sessions = true;
	} else
		return perr(p,
			    "unknown section [%v] (use [guard], [session] "
			    "or [upload PATH])",
			    name, nlen);
	if (alen)
		return perr(p, "[%s] takes no argument, found '%v'",
			    sec_names[p->sec], arg, alen);
	return 0;
}

/* s[0..n) is a trimmed, non-empty line that is not a header or comment. */
static int parse_pair(struct ug__parser *p, const char *s, size_t n)
{
	const char *eqs = memchr(s, '=', n), *v, *end = s + n, *q;
	const struct ug__key *k = NULL;
	size_t klen, vlen, i;
	unsigned *seen;

	if (!eqs)
		return perr(p,
			    "expected 'key = value' or a [section] header, "
			    "found '%v'",
			    s, n);
	klen = (size_t)(eqs - s);
	while (klen && is_space(s[klen - 1]))
		klen--;
	if (!klen)
		return perr(p, "missing key before '='");
	if (p->sec == SEC_NONE)
		return perr(p,
			    "key '%v' outside any section (add [guard], "
			    "[session] or [upload PATH] above it)",
			    s, klen);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].sec == p->sec && eq(s, klen, keys[i].name)) {
			k = &keys[i];
			break;
		}
	if (!k)
		return perr(p, "unknown key '%v' in %S", s, klen);

	/* The value: quoted (literal up to the next '"'), or up to a ';' or
	 * '#' that starts the value or follows a blank. */
	v = eqs + 1;
	while (v < end && is_space(*v))
		v++;
	if (v < end && *v == '"') {
		v++;
		q = memchr(v, '"', (size_t)(end - v));
		if (!q)
			return perr(p,
				    "missing closing '\"' in the value of %s",
				    k->name);
		vlen = (size_t)(q - v);
		if (!only_comment(q + 1, (size_t)(end - q - 1)))
			return perr(p,
				    "unexpected text after the closing '\"' "
				    "of %s",
				    k->name);
	} else {
		for (q = v; q < end; q++)
			if ((*q == ';' || *q == '#') &&
			    (q == v || is_space(q[-1])))
				break;
		while (q > v && is_space(q[-1]))
			q--;
		vlen = (size_t)(q - v);
	}
	if (!vlen)
		return perr(p, "missing value for %s in %S", k->name);

	seen = &p->seen[p->sec][k - keys];
	if (*seen)
		return perr(p,
			    "duplicate key '%s' in %S (first set at line %u)",
			    k->name, *seen);
	*seen = p->line;
	return k->set(p, k->name, v, vlen);
}

int ug__config_parse(struct ug_config *cfg, const char *text, size_t len,
		     const char *file, char *err, size_t errlen)
{
	struct ug__parser p;
	const char *s = text, *end = text + len;
	int rc = 0;

	ug__config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.file = file;
	p.err = err;
	p.errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (!text && len)
		return perr(&p, "no text");
	if (!text)
		return 0;

	if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) /* a UTF-8 BOM */
		s += 3;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;

		p.line++;
		if (memchr(s, '\0', (size_t)(e - s))) {
			rc = perr(&p, "NUL byte in the line (is this a text "
				      "file?)");
			break;
		}
		if (e > s && e[-1] == '\r')
			e--;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		if (s == e || *s == ';' || *s == '#')
			rc = 0;
		else if (*s == '[')
			rc = parse_header(&p, s, (size_t)(e - s));
		else
			rc = parse_pair(&p, s, (size_t)(e - s));
		if (rc)
			break;
		s = nl ? nl + 1 : end;
	}
	free(p.slots);
	if (rc) {
		/* on_error = closed seen before the error still holds: the
		 * constructor must know whether to fail closed. */
		bool closed = cfg->on_error_closed;

		ug__config_free(cfg);
		cfg->on_error_closed = closed;
	}
	return rc;
}

/* ------------------------------------------------------------------ */
/* Environment                                                          */
/* ------------------------------------------------------------------ */

int ug__config_env(struct ug_config *cfg, const char *mode, const char *log,
		   char *err, size_t errlen)
{
	struct ug__msg m;
	enum ug_mode md = UG_MODE_UNSET;
	char *nlog = NULL;

	msg_init(&m, err, errlen);
	if (mode) {
		md = parse_mode(mode, strlen(mode));
		if (md == UG_MODE_UNSET) {
			msg_str(&m, "UPLOADGUARD_MODE: bad mode '");
			msg_untrusted(&m, mode, strlen(mode), UG_MSG_SHOW_MAX);
			msg_str(&m, "' (use log, deny or abort)");
			return -EINVAL;
		}
	}
	if (log) {
		if (!*log || !log_ok(log, strlen(log))) {
			msg_str(&m, "UPLOADGUARD_LOG: bad log '");
			msg_untrusted(&m, log, strlen(log), UG_MSG_SHOW_MAX);
			msg_str(&m, "' (use stderr, syslog, syslog:/socket or "
				    "an absolute "
				    "file path)");
			return -EINVAL;
		}
		nlog = strdup(log);
		if (!nlog) {
			msg_str(&m, "UPLOADGUARD_LOG: out of memory");
			return -ENOMEM;
		}
	}
	if (md != UG_MODE_UNSET)
		cfg->mode = md;
	if (nlog) {
		if (cfg->log != ug__default_log)
			free(cfg->log);
		cfg->log = nlog;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Loading                                                              */
/* ------------------------------------------------------------------ */

/* strerror() may take locale locks and load catalogues: in a constructor
 * we name the few errors a config open or read can meet ourselves. */
static const char *errno_text(int e)
{
	switch (e) {
	case ENOENT:
		return "no such file";
	case EACCES:
		return "permission denied";
	case EPERM:
		return "operation not permitted";
	case ENOTDIR:
		return "a path component is not a directory";
	case EISDIR:
		return "is a directory";
	case ELOOP:
		return "too many symbolic links";
	case ENAMETOOLONG:
		return "file name too long";
	case EMFILE:
	case ENFILE:
		return "too many open files";
	case ENOMEM:
		return "out of memory";
	case EIO:
		return "I/O error";
	}
	return NULL;
}

/* Writes "PATH: what" or, with e != 0, "PATH: what (reason)" into err.
 * Returns -e, or -EINVAL when e is 0. */
static int load_err(const char *path, const char *what, int e, char *err,
		    size_t errlen)
{
	struct ug__msg m;
	const char *t = errno_text(e);

	msg_init(&m, err, errlen);
	msg_untrusted(&m, path, strlen(path), UG_MSG_FILE_MAX);
	msg_str(&m, ": ");
	msg_str(&m, what);
	if (e) {
		msg_str(&m, " (");
		if (t) {
			msg_str(&m, t);
		} else {
			msg_str(&m, "errno ");
			msg_uint(&m, (unsigned)e);
		}
		msg_str(&m, ")");
	}
	return e ? -e : -EINVAL;
}

/* Type and size of fd through raw syscalls.  Returns 0 or -errno. */
static int fd_stat(int fd, mode_t *type, uint64_t *size)
{
#ifdef SYS_statx
	struct statx sx;

	if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE,
		    &sx) == 0) {
		*type = sx.stx_mode & S_IFMT;
		*size = sx.stx_size;
		return 0;
	}
	if (errno != ENOSYS)
		return -errno;
#endif
#if defined(SYS_fstat) && __SIZEOF_LONG__ == 8
	/* Kernels before 4.11.  On x86_64 and aarch64 glibc's struct stat
	 * is the kernel's. */
	{
		struct stat st;

		if (syscall(SYS_fstat, fd, &st) != 0)
			return -errno;
		*type = st.st_mode & S_IFMT;
		*size = (uint64_t)st.st_size;
		return 0;
	}
#else
	return -ENOSYS;
#endif
}

/*
 * Reads with raw syscalls, not open()/read(): the shim interposes those and
 * this runs inside its constructor.  Returns as ug__config_parse, or -errno
 * from openat (-ENOENT for a missing file), -EINVAL for a file that is not
 * regular, -EFBIG over 4 MiB; err says which.  Preserves errno.
 */
int ug__config_load(struct ug_config *cfg, const char *path, char *err,
		    size_t errlen)
{
	int saved_errno = errno;
	char *buf = NULL, *nb;
	size_t len = 0, cap;
	uint64_t size = 0;
	mode_t type = S_IFREG;
	long fd = -1, n;
	int rc;

	ug__config_defaults(cfg);
	if (!path || !*path) {
		rc = load_err("(config)", "no file name given", 0, err, errlen);
		goto out;
	}
	/* O_NONBLOCK: opening a FIFO must not hang the host. */
	fd = syscall(SYS_openat, AT_FDCWD, path,
		     O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = load_err(path, "cannot open", errno, err, errlen);
		goto out;
	}
	rc = fd_stat((int)fd, &type, &size);
	if (rc && rc != -ENOSYS) { /* -ENOSYS: no stat, rely on the cap */
		rc = load_err(path, "cannot stat", -rc, err, errlen);
		goto out_close;
	}
	if (type != S_IFREG) {
		rc = load_err(path, "not a regular file", 0, err, errlen);
		goto out_close;
	}
	if (size > UG_CONFIG_MAX_BYTES)
		goto too_big;
	/* The file may change under us: read to EOF, never past the cap. */
	cap = (size_t)size + 1;
	buf = malloc(cap);
	if (!buf)
		goto no_mem;
	for (;;) {
		if (len == cap) {
			if (cap > UG_CONFIG_MAX_BYTES)
				goto too_big;
			cap = cap * 2 > UG_CONFIG_MAX_BYTES + 1
				  ? UG_CONFIG_MAX_BYTES + 1
				  : cap * 2;
			nb = realloc(buf, cap);
			if (!nb)
				goto no_mem;
			buf = nb;
		}
		n = syscall(SYS_read, (int)fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = load_err(path, "cannot read", errno, err, errlen);
			goto out_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = ug__config_parse(cfg, buf, len, path, err, errlen);
	goto out_free;
too_big:
	rc = load_err(path, "file is larger than 4 MiB, refusing it", 0, err,
		      errlen);
	rc = -EFBIG;
	goto out_free;
no_mem:
	rc = load_err(path, "out of memory", 0, err, errlen);
	rc = -ENOMEM;
out_free:
	free(buf);
out_close:
	syscall(SYS_close, (int)fd);
out:
	errno = saved_errno;
	return rc;
}
