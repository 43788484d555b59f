/*
 * Incremental HTTP/1.x request-head scanner: finds the value of one cookie or
 * one header in request heads that arrive in arbitrary pieces.
 * Pure code: no allocation, no locks, no syscalls; one scanner per
 * connection, used by one thread at a time.  Async-signal-safe.
 */
#ifndef UG_HTTP_H
#define UG_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define UG_HTTP_VALUE_MAX 256 /* values of 256+ bytes are ignored, not cut */
#define UG_HTTP_HEAD_MAX                                                       \
	65536 /* a longer head (request line included) ends                    \
	       * the scan: HEAD_END, then NOT_HTTP */

enum ug_http_want { UG_HTTP_COOKIE, UG_HTTP_HEADER };

enum ug_http_event {
	UG_HTTP_NONE = 0, /* nothing new in this piece */
	UG_HTTP_FOUND,	  /* a head ended and carried the value: see ->value */
	UG_HTTP_HEAD_END, /* a head ended without the value */
	UG_HTTP_NOT_HTTP, /* this connection is not HTTP/1.x: stop feeding */
};

struct ug_http {
	/* configuration (set by ug__http_init) */
	enum ug_http_want want;
	char name[64];
	size_t namelen;
	/* state: private to http.c */
	int state;
	unsigned flags;
	size_t pos;	  /* bytes matched in the current token */
	size_t headbytes; /* bytes of the current head so far */
	size_t bodyleft;  /* Content-Length body bytes still to skip */
	char line[128];	  /* the current header name, lower-cased */
	size_t linelen;
	char cand[UG_HTTP_VALUE_MAX]; /* value being collected */
	size_t candlen;
	/* result */
	char value[UG_HTTP_VALUE_MAX]; /* NUL-terminated on UG_HTTP_FOUND */
	size_t valuelen;
	/* Of the last feed only: how many heads ended in it, and whether it
	 * is mixed: a head ended in it that began in a piece which also held
	 * bytes of the previous request (its head or the end of its body),
	 * and the two heads disagree (one carried the value and the other did
	 * not, or they carried different values).  The application may still
	 * be serving the previous request when such a piece arrives
	 * (pipelining, read-ahead), so the caller should bind to neither. */
	unsigned heads;
	bool mixed;
	/* private */
	bool last_found;  /* the previous head carried the value */
	bool prev_bytes;  /* this piece held bytes of the previous request */
	bool head_shared; /* the current head began in such a piece */
};

/* Resets h for a new connection.  A cookie name is matched exactly, a header
 * name case-insensitively; an empty or NULL name, or one of 64+ bytes, never
 * matches.  The first valid occurrence in a head wins; a value that is empty,
 * too long or holds a control byte is ignored (a later one may still match).
 * Content-Length and Transfer-Encoding are framing, never the wanted header. */
void ug__http_init(struct ug_http *h, enum ug_http_want want, const char *name);

/* Feeds the next bytes read from the connection.  Returns the most
 * significant event seen in them (FOUND wins over HEAD_END); when several
 * heads end in one piece (pipelining), the value is the last head's.
 * h->heads and h->mixed describe the heads that ended in this piece.
 * Content-Length bodies are skipped.  The scanner gives up for good (every
 * later feed returns NOT_HTTP) after: bytes that cannot start an HTTP/1.x
 * request line (reported as NOT_HTTP); a head over UG_HTTP_HEAD_MAX or a bare
 * CR in a parsed header (reported as HEAD_END); and once the head is
 * reported, a head whose body it cannot frame (Transfer-Encoding, a bad or
 * repeated Content-Length) or a CONNECT. */
enum ug_http_event ug__http_feed(struct ug_http *h, const char *p, size_t n);

#endif /* UG_HTTP_H */
