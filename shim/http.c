/*
 * Incremental HTTP/1.x request-head scanner (see http.h for the contract).
 * Owns no global state: one struct ug_http per connection, one thread at a
 * time.  No allocation, locks or syscalls; only memchr/memcpy/memcmp from
 * libc.  Async-signal-safe.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"

/*
 * ============================ States ============================
 *
 * The request line is checked strictly enough to tell HTTP/1.x from
 * anything else.  Header lines are scanned byte by byte; a line break in a
 * header leaves the header's state in place and sets F_CR/F_EOL, because
 * only the first byte of the next line says whether the header goes on
 * (obsolete line folding) or is finished.
 */
enum {
	S_START = 0, /* before a request line; blank lines are skipped */
	S_METHOD,    /* pos: method bytes so far */
	S_TARGET,    /* pos: 1 once the target is non-empty */
	S_VERSION,   /* pos: bytes of "HTTP/1.d" matched */
	S_RL_CR,     /* CR ending the request line */
	S_NOHDR,     /* start of a header line, no header pending */
	S_END_CR,    /* CR of the empty line ending the head */
	/* line states: CR/LF set F_CR/F_EOL and keep the state */
	S_NAME,	 /* header name, lower-cased into line[] */
	S_OTHER, /* rest of a header line we do not care about */
	H_PRE,	 /* wanted header: whitespace before the value */
	H_VAL,	 /* wanted header: the value */
	H_FOLD,	 /* wanted header: whitespace after a fold */
	C_PRE,	 /* Cookie: before a cookie name */
	C_NAME,	 /* Cookie: a name, pos bytes matched while F_MATCH */
	C_NEND,	 /* Cookie: whitespace between name and '=' */
	C_VPRE,	 /* Cookie: whitespace after '=' of the wanted cookie */
	C_VAL,	 /* Cookie: unquoted value */
	C_QVAL,	 /* Cookie: inside a quoted value */
	C_QEND,	 /* Cookie: after the closing quote */
	C_SKIP,	 /* Cookie: another cookie's name or value */
	L_PRE,	 /* Content-Length: whitespace before the digits */
	L_DIG,	 /* Content-Length: digits, accumulated in bodyleft */
	L_POST,	 /* Content-Length: whitespace after the digits */
	/* outside heads */
	S_BODY,	    /* bodyleft bytes of body to skip */
	S_NOT_HTTP, /* given up: final */
};

enum {
	F_CR = 1u << 0,	     /* a line state saw CR: LF must follow */
	F_EOL = 1u << 1,     /* a line state ended its line */
	F_HAVE = 1u << 2,    /* cand[0..candlen) is this head's value */
	F_BAD = 1u << 3,     /* the value being collected is ignored */
	F_MATCH = 1u << 4,   /* the cookie name matches so far */
	F_WS_OVER = 1u << 5, /* whitespace did not fit in cand */
	F_HT_PEND = 1u << 6, /* an HT is among the uncommitted bytes */
	F_CL_SEEN = 1u << 7, /* a Content-Length header was seen */
	F_LOST = 1u << 8,    /* the body cannot be framed: give up after head */
	F_CONNECT = 1u << 9, /* the method matches "CONNECT" so far */
};

#define UG_HTTP_METHOD_MAX 16

static inline bool ug__is_ws(unsigned char c) { return c == ' ' || c == '\t'; }

static inline bool ug__is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static inline unsigned char ug__lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* RFC 9110 tchar: the bytes a header or method name may hold. */
static bool ug__is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	}
	return false;
}

/* FOUND > HEAD_END > NOT_HTTP > NONE, whatever the enum's numbering. */
static int ug__rank(enum ug_http_event ev)
{
	switch (ev) {
	case UG_HTTP_FOUND:
		return 3;
	case UG_HTTP_HEAD_END:
		return 2;
	case UG_HTTP_NOT_HTTP:
		return 1;
	default:
		return 0;
	}
}

static void ug__raise(enum ug_http_event *ev, enum ug_http_event e)
{
	if (ug__rank(e) > ug__rank(*ev))
		*ev = e;
}

/* Final: reports e (NOT_HTTP for a non-request, HEAD_END for a head). */
static void ug__give_up(struct ug_http *h, enum ug_http_event *ev,
			enum ug_http_event e)
{
	if (e == UG_HTTP_HEAD_END) { /* a head without the value */
		if (h->head_shared && h->last_found)
			h->mixed = true;
		h->heads++;
		h->last_found = false;
	}
	h->state = S_NOT_HTTP;
	h->flags = 0;
	h->bodyleft = 0;
	ug__raise(ev, e);
}

/*
 * ====================== Value collection ======================
 *
 * cand[0..pos) holds the bytes written, cand[0..candlen) the value without
 * trailing whitespace: whitespace is written but committed only when a
 * non-whitespace byte follows.  A value that does not fit in
 * UG_HTTP_VALUE_MAX - 1 bytes is marked bad, never cut.
 */
static void ug__put_ws(struct ug_http *h, unsigned char c)
{
	if (h->pos < UG_HTTP_VALUE_MAX - 1) {
		h->cand[h->pos++] = (char)c;
		if (c == '\t')
			h->flags |= F_HT_PEND;
	} else {
		h->flags |= F_WS_OVER;
	}
}

static void ug__put_ch(struct ug_http *h, unsigned char c)
{
	if ((h->flags & F_WS_OVER) || h->pos >= UG_HTTP_VALUE_MAX - 1) {
		h->flags |= F_BAD;
		return;
	}
	h->cand[h->pos++] = (char)c;
	h->candlen = h->pos;
	h->flags &= ~F_HT_PEND;
}

static void ug__value_start(struct ug_http *h)
{
	h->pos = 0;
	h->candlen = 0;
	h->flags &= ~(F_BAD | F_WS_OVER | F_HT_PEND);
}

static void ug__value_commit(struct ug_http *h)
{
	if (!(h->flags & F_BAD) && h->candlen > 0)
		h->flags |= F_HAVE;
}

/* ';' or the end of the Cookie header ends a cookie pair. */
static void ug__cookie_pair_end(struct ug_http *h)
{
	if (h->state == C_VAL || h->state == C_QEND)
		ug__value_commit(h);
	h->state = (h->flags & F_HAVE) ? S_OTHER : C_PRE;
}

/* '=' after a cookie name: collect the value only for the wanted name. */
static void ug__cookie_eq(struct ug_http *h)
{
	if ((h->flags & F_MATCH) && h->pos == h->namelen) {
		ug__value_start(h);
		h->state = C_VPRE;
	} else {
		h->state = C_SKIP;
	}
}

/* Called once the byte after a header line shows that the header is over. */
static void ug__header_end(struct ug_http *h)
{
	switch (h->state) {
	case H_PRE:
	case H_VAL:
	case H_FOLD:
		ug__value_commit(h);
		break;
	case C_PRE:
	case C_NAME:
	case C_NEND:
	case C_VPRE:
	case C_VAL:
	case C_QVAL:
	case C_QEND:
	case C_SKIP:
		ug__cookie_pair_end(h);
		break;
	case L_PRE:
		h->flags |= F_LOST; /* "Content-Length:" without digits */
		break;
	}
	h->state = S_NOHDR;
}

/* ':' after a header name: which state scans its value. */
static int ug__header_kind(struct ug_http *h)
{
	size_t len = h->linelen;

	if (len > sizeof(h->line))
		return S_OTHER;
	if (len == 14 && !memcmp(h->line, "content-length", 14)) {
		if (h->flags & F_CL_SEEN) {
			/* RFC 9112 6.3: ambiguous framing; do not guess. */
			h->flags |= F_LOST;
			return S_OTHER;
		}
		h->flags |= F_CL_SEEN;
		h->bodyleft = 0;
		return L_PRE;
	}
	if (len == 17 && !memcmp(h->line, "transfer-encoding", 17)) {
		/* Chunked bodies are not parsed: give up after this head. */
		h->flags |= F_LOST;
		return S_OTHER;
	}
	if (h->flags & F_HAVE)
		return S_OTHER;
	if (h->want == UG_HTTP_COOKIE) {
		if (len == 6 && !memcmp(h->line, "cookie", 6))
			return C_PRE;
		return S_OTHER;
	}
	if (h->namelen && len == h->namelen && !memcmp(h->line, h->name, len)) {
		ug__value_start(h);
		return H_PRE;
	}
	return S_OTHER;
}

/* The empty line: report the head, then skip its body or give up. */
static void ug__head_end(struct ug_http *h, enum ug_http_event *ev)
{
	bool lost = h->flags & F_LOST, found = h->flags & F_HAVE;

	/* Pipelining or read-ahead: heads that share a piece and disagree
	 * make it ambiguous. */
	if (h->head_shared &&
	    (found != h->last_found ||
	     (found && (h->candlen != h->valuelen ||
			memcmp(h->cand, h->value, h->candlen) != 0))))
		h->mixed = true;
	h->heads++;
	h->last_found = found;
	h->prev_bytes = true;
	h->head_shared = false;
	if (found) {
		memcpy(h->value, h->cand, h->candlen);
		h->value[h->candlen] = '\0';
		h->valuelen = h->candlen;
		ug__raise(ev, UG_HTTP_FOUND);
	} else {
		ug__raise(ev, UG_HTTP_HEAD_END);
	}
	h->flags = 0;
	h->pos = 0;
	h->headbytes = 0;
	h->linelen = 0;
	h->candlen = 0;
	if (lost) {
		h->state = S_NOT_HTTP;
		h->bodyleft = 0;
	} else {
		h->state = h->bodyleft ? S_BODY : S_START;
	}
}

/*
 * ========================= The scanner =========================
 */

/* One byte of a head (or of the blank lines before one). */
static void ug__step(struct ug_http *h, unsigned char c, enum ug_http_event *ev)
{
	if (h->flags & (F_CR | F_EOL)) {
		if (h->flags & F_CR) {
			if (c != '\n') {
				ug__give_up(h, ev, UG_HTTP_HEAD_END);
				return;
			}
			h->flags = (h->flags & ~F_CR) | F_EOL;
			return;
		}
		h->flags &= ~F_EOL;
		if (ug__is_ws(c)) {
			/* Obsolete line folding: the header goes on. */
			if (h->state == H_VAL || h->state == H_FOLD) {
				h->pos = h->candlen;
				h->flags &= ~(F_WS_OVER | F_HT_PEND);
				if (h->candlen)
					ug__put_ws(h, ' ');
				h->state = H_FOLD;
				return;
			}
			c = ' '; /* to the other states, a fold is a space */
		} else {
			ug__header_end(h);
		}
	} else if (h->state >= S_NAME && h->state <= L_POST &&
		   (c == '\r' || c == '\n')) {
		if (h->state == S_NAME)
			h->state = S_OTHER; /* a line without ':' */
		h->flags |= c == '\r' ? F_CR : F_EOL;
		return;
	}

	switch (h->state) {
	/* ---- request line ---- */
	case S_START:
		if (c == '\r' || c == '\n')
			break; /* RFC 9112 2.2: blank lines before a request */
		if (c < 'A' || c > 'Z')
			goto not_http;
		h->state = S_METHOD;
		h->head_shared = h->prev_bytes;
		h->pos = 1;
		h->flags = c == 'C' ? F_CONNECT : 0;
		h->bodyleft = 0;
		break;
	case S_METHOD:
		if (c == ' ') {
			/* A tunnel's bytes are not ours to parse. */
			if ((h->flags & F_CONNECT) && h->pos == 7)
				h->flags |= F_LOST;
			h->flags &= ~F_CONNECT;
			h->state = S_TARGET;
			h->pos = 0;
			break;
		}
		if (h->pos >= UG_HTTP_METHOD_MAX ||
		    !((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			goto not_http;
		if (h->pos >= 7 || c != (unsigned char)"CONNECT"[h->pos])
			h->flags &= ~F_CONNECT;
		h->pos++;
		break;
	case S_TARGET:
		if (c == ' ' && h->pos) {
			h->state = S_VERSION;
			h->pos = 0;
			break;
		}
		if (c <= ' ' || c == 0x7f)
			goto not_http;
		h->pos = 1;
		break;
	case S_VERSION:
		if (h->pos < 7) {
			if (c != (unsigned char)"HTTP/1."[h->pos])
				goto not_http; /* HTTP/2's "PRI * HTTP/2.0" too
						*/
			h->pos++;
		} else if (h->pos == 7) {
			if (c < '0' || c > '9')
				goto not_http;
			h->pos++;
		} else if (c == '\r') {
			h->state = S_RL_CR;
		} else if (c == '\n') {
			h->state = S_NOHDR;
		} else {
			goto not_http;
		}
		break;
	case S_RL_CR:
		if (c != '\n')
			goto not_http;
		h->state = S_NOHDR;
		break;

	/* ---- header lines ---- */
	case S_NOHDR:
		if (c == '\r') {
			h->state = S_END_CR;
		} else if (c == '\n') {
			ug__head_end(h, ev);
		} else if (ug__is_tchar(c)) {
			h->state = S_NAME;
			h->line[0] = (char)ug__lower(c);
			h->linelen = 1;
		} else {
			/* RFC 9112 5.2: a line starting with whitespace
			 * right after the request line is ignored; so is
			 * any other line that is not a header. */
			h->state = S_OTHER;
		}
		break;
	case S_END_CR:
		if (c != '\n') {
			ug__give_up(h, ev, UG_HTTP_HEAD_END);
			break;
		}
		ug__head_end(h, ev);
		break;
	case S_NAME:
		if (c == ':') {
			h->state = ug__header_kind(h);
		} else if (ug__is_tchar(c)) {
			if (h->linelen < sizeof(h->line))
				h->line[h->linelen] = (char)ug__lower(c);
			if (h->linelen <= sizeof(h->line))
				h->linelen++;
		} else {
			h->state = S_OTHER; /* "Name :" is not a header */
		}
		break;
	case S_OTHER:
		break;

	/* ---- the wanted header ---- */
	case H_PRE:
	case H_FOLD:
		if (ug__is_ws(c))
			break;
		h->state = H_VAL;
		/* fall through */
	case H_VAL:
		if (ug__is_ws(c))
			ug__put_ws(h, c);
		else if (ug__is_ctl(c))
			h->flags |= F_BAD;
		else
			ug__put_ch(h, c);
		break;

	/* ---- Cookie: name=value; name=value ---- */
	case C_PRE:
		if (ug__is_ws(c) || c == ';')
			break;
		if (c == '=') {
			h->state = C_SKIP; /* an empty name */
			break;
		}
		h->state = C_NAME;
		h->pos = 0;
		if (h->namelen)
			h->flags |= F_MATCH;
		else
			h->flags &= ~F_MATCH;
		/* fall through */
	case C_NAME:
		if (c == '=')
			ug__cookie_eq(h);
		else if (c == ';')
			h->state = C_PRE;
		else if (ug__is_ws(c))
			h->state = C_NEND;
		else if ((h->flags & F_MATCH) && h->pos < h->namelen &&
			 (unsigned char)h->name[h->pos] == c)
			h->pos++;
		else
			h->flags &= ~F_MATCH;
		break;
	case C_NEND:
		if (ug__is_ws(c))
			break;
		if (c == '=')
			ug__cookie_eq(h);
		else
			h->state = c == ';' ? C_PRE : C_SKIP;
		break;
	case C_VPRE:
		if (ug__is_ws(c))
			break;
		if (c == '"') {
			h->state = C_QVAL;
			break;
		}
		if (c == ';') {
			h->state = C_PRE; /* "sid=;" */
			break;
		}
		h->state = C_VAL;
		/* fall through */
	case C_VAL:
		if (c == ';')
			ug__cookie_pair_end(h);
		else if (ug__is_ws(c))
			ug__put_ws(h, c);
		else if (ug__is_ctl(c) || c == '"' || (h->flags & F_HT_PEND))
			h->flags |= F_BAD; /* an HT inside a cookie is a ctl */
		else
			ug__put_ch(h, c);
		break;
	case C_QVAL:
		if (c == '"') {
			h->state = C_QEND;
		} else if (c == ';') {
			h->state = C_PRE; /* unterminated quote */
		} else if (ug__is_ctl(c)) {
			h->flags |= F_BAD;
		} else if (h->pos >= UG_HTTP_VALUE_MAX - 1) {
			h->flags |= F_BAD;
		} else {
			h->cand[h->pos++] = (char)c;
			h->candlen = h->pos;
		}
		break;
	case C_QEND:
		if (c == ';')
			ug__cookie_pair_end(h);
		else if (!ug__is_ws(c))
			h->flags |= F_BAD; /* sid="a"b */
		break;
	case C_SKIP:
		if (c == ';')
			h->state = C_PRE;
		break;

	/* ---- Content-Length: digits ---- */
	case L_PRE:
		if (ug__is_ws(c))
			break;
		h->state = L_DIG;
		/* fall through */
	case L_DIG:
		if (c >= '0' && c <= '9') {
			if (h->bodyleft > (SIZE_MAX - 9) / 10)
				goto lost;
			h->bodyleft = h->bodyleft * 10 + (c - '0');
		} else if (ug__is_ws(c)) {
			h->state = L_POST;
		} else {
			goto lost;
		}
		break;
	case L_POST:
		if (!ug__is_ws(c))
			goto lost;
		break;
	}
	return;

lost:
	h->flags |= F_LOST;
	h->state = S_OTHER;
	return;
not_http:
	ug__give_up(h, ev, UG_HTTP_NOT_HTTP);
}

void ug__http_init(struct ug_http *h, enum ug_http_want want, const char *name)
{
	size_t i = 0;

	h->want = want;
	if (name) {
		while (name[i] && i < sizeof(h->name) - 1) {
			h->name[i] = want == UG_HTTP_HEADER
					 ? (char)ug__lower(name[i])
					 : name[i];
			i++;
		}
		if (name[i])
			i = 0; /* too long: never matches */
	}
	h->name[i] = '\0';
	h->namelen = i;
	h->state = S_START;
	h->flags = 0;
	h->pos = 0;
	h->headbytes = 0;
	h->bodyleft = 0;
	h->linelen = 0;
	h->candlen = 0;
	h->value[0] = '\0';
	h->valuelen = 0;
	h->heads = 0;
	h->mixed = false;
	h->last_found = false;
	h->prev_bytes = false;
	h->head_shared = false;
}

enum ug_http_event ug__http_feed(struct ug_http *h, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	enum ug_http_event ev = UG_HTTP_NONE;
	size_t i = 0;

	h->heads = 0;
	h->mixed = false;
	h->prev_bytes = h->state == S_BODY;
	while (i < n) {
		if (h->state == S_NOT_HTTP)
			return ev == UG_HTTP_NONE ? UG_HTTP_NOT_HTTP : ev;
		if (h->state == S_BODY) {
			size_t k = n - i < h->bodyleft ? n - i : h->bodyleft;

			i += k;
			h->bodyleft -= k;
			if (!h->bodyleft)
				h->state = S_START;
			continue;
		}
		if (h->state == S_OTHER && !(h->flags & (F_CR | F_EOL))) {
			/* Fast path: most header lines are not ours. */
			const unsigned char *lf = memchr(s + i, '\n', n - i);
			size_t k = lf ? (size_t)(lf - (s + i)) : n - i;

			if (k) {
				if (k > UG_HTTP_HEAD_MAX - h->headbytes) {
					ug__give_up(h, &ev, UG_HTTP_HEAD_END);
					continue;
				}
				h->headbytes += k;
				i += k;
				continue;
			}
		}
		if (++h->headbytes > UG_HTTP_HEAD_MAX) {
			ug__give_up(h, &ev,
				    h->state == S_START ? UG_HTTP_NOT_HTTP
							: UG_HTTP_HEAD_END);
			continue;
		}
		ug__step(h, s[i++], &ev);
	}
	if (h->state == S_NOT_HTTP && ev == UG_HTTP_NONE)
		return UG_HTTP_NOT_HTTP;
	return ev;
}
