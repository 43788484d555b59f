/*
 * Sockets: session binding from HTTP request heads.  accept/accept4 give
 * a connection a scanner per configured cookie:/header: source; every read
 * on it feeds the scanners, and a head that ends binds (or unbinds) the
 * reading thread.  Non-HTTP connections drop their scanners at once.
 * Reads on guarded files only mark their position stale.  The read fast
 * path is one load and a test.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hooks.h"
#include "http.h"
#include "session.h"

struct ug_sock {
	int fd;
	int n;
	struct ug_http h[UG_MAX_SOURCES];
	const char *src[UG_MAX_SOURCES]; /* "cookie:NAME" for each scanner */
};

#define UG_FD_SOCK 2u

static char src_names[UG_MAX_SOURCES][UG_SOURCE_NAME_MAX + 8];

void ug__net_init(void)
{
	size_t i;

	for (i = 0; i < ug__st.cfg.nsources; i++) {
		const struct ug_source *s = &ug__st.cfg.sources[i];
		if (s->kind == UG_SRC_COOKIE || s->kind == UG_SRC_HEADER) {
			ug__st.http_sessions = true;
			snprintf(src_names[i], sizeof(src_names[i]), "%s:%s",
				 s->kind == UG_SRC_COOKIE ? "cookie" : "header",
				 s->name);
		}
		if (s->kind == UG_SRC_PHP)
			ug__st.php_sessions = true;
	}
}

static void accepted(int fd)
{
	struct ug_sock *s;
	size_t i;
	UG_ERRNO_SAVE;

	if ((unsigned)fd >= (unsigned)ug__nfds)
		return;
	ug__fd_closed(fd);
	if (!ug__st.http_sessions || !(s = calloc(1, sizeof(*s)))) {
		atomic_store(&ug__fds[fd], UG_FD_PLAIN);
		UG_ERRNO_RESTORE;
		return;
	}
	s->fd = fd;
	for (i = 0; i < ug__st.cfg.nsources; i++) {
		const struct ug_source *src = &ug__st.cfg.sources[i];
		if (src->kind != UG_SRC_COOKIE && src->kind != UG_SRC_HEADER)
			continue;
		ug__http_init(&s->h[s->n],
			      src->kind == UG_SRC_COOKIE ? UG_HTTP_COOKIE
							 : UG_HTTP_HEADER,
			      src->name);
		s->src[s->n++] = src_names[i];
	}
	atomic_store(&ug__fds[fd], (uintptr_t)s | UG_FD_SOCK);
	UG_ERRNO_RESTORE;
}

void ug__net_closed(int fd, uintptr_t e)
{
	free((struct ug_sock *)(e & ~(uintptr_t)3));
	ug__session_unbind(fd);
}

/* Feeds what a read brought; binds or unbinds the reading thread. */
static void sniff(int fd, uintptr_t e, const void *buf, size_t n)
{
	struct ug_sock *s = (struct ug_sock *)(e & ~(uintptr_t)3);
	bool ended = false, not_http = true, mixed = false;
	int i, found = -1;

	if (ug__depth)
		return;
	for (i = 0; i < s->n; i++) {
		enum ug_http_event ev = ug__http_feed(&s->h[i], buf, n);

		if (ev != UG_HTTP_NOT_HTTP)
			not_http = false;
		if (ev == UG_HTTP_FOUND && found < 0)
			found = i;
		if (ev == UG_HTTP_FOUND || ev == UG_HTTP_HEAD_END)
			ended = true;
		mixed |= s->h[i].mixed;
	}
	if (mixed) /* pipelined heads of several sessions: which one the
		    * application serves next is unknowable; bind to none */
		ug__session_unbind(-1);
	else if (found >= 0)
		ug__session_bind(s->h[found].value, s->h[found].valuelen,
				 s->src[found], fd);
	else if (ended) /* a request without a session */
		ug__session_unbind(-1);
	if (not_http) {
		/* stop paying for it: the connection is plain from now on */
		uintptr_t cur = e;
		if (atomic_compare_exchange_strong(&ug__fds[fd], &cur,
						   UG_FD_PLAIN))
			free(s);
	}
}

static inline void after_read(int fd, uintptr_t e, const void *buf, ssize_t r)
{
	if ((e & 3) == UG_FD_SOCK) {
		if (r > 0) {
			UG_ERRNO_SAVE;
			sniff(fd, e, buf, (size_t)r);
			UG_ERRNO_RESTORE;
		}
	} else {
		((struct ug_desc *)e)->pos_valid = false;
	}
}

#define UG_READ_FAST(e) (likely((e) == UG_FD_PLAIN || (e) == UG_FD_UNKNOWN))

UG_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e))
		return real_read(fd, buf, n);
	r = real_read(fd, buf, n);
	after_read(fd, e, buf, r);
	return r;
}

UG_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e))
		return real___read_chk(fd, buf, n, buflen);
	r = real___read_chk(fd, buf, n, buflen);
	after_read(fd, e, buf, r);
	return r;
}

UG_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e) || (flags & MSG_PEEK))
		return real_recv(fd, buf, n, flags);
	r = real_recv(fd, buf, n, flags);
	after_read(fd, e, buf, r);
	return r;
}

UG_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
			     int flags)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e) || (flags & MSG_PEEK))
		return real___recv_chk(fd, buf, n, buflen, flags);
	r = real___recv_chk(fd, buf, n, buflen, flags);
	after_read(fd, e, buf, r);
	return r;
}

UG_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			   struct sockaddr *sa, socklen_t *len)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e) || (flags & MSG_PEEK))
		return real_recvfrom(fd, buf, n, flags, sa, len);
	r = real_recvfrom(fd, buf, n, flags, sa, len);
	after_read(fd, e, buf, r);
	return r;
}

UG_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
				 int flags, struct sockaddr *sa, socklen_t *len)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e) || (flags & MSG_PEEK))
		return real___recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
	r = real___recvfrom_chk(fd, buf, n, buflen, flags, sa, len);
	after_read(fd, e, buf, r);
	return r;
}

/* Vectors: feed each part up to the bytes read. */
static void after_readv(int fd, uintptr_t e, const struct iovec *iov, int cnt,
			ssize_t r)
{
	int i;

	if ((e & 3) != UG_FD_SOCK) {
		after_read(fd, e, NULL, r);
		return;
	}
	for (i = 0; i < cnt && r > 0; i++) {
		size_t k =
		    iov[i].iov_len < (size_t)r ? iov[i].iov_len : (size_t)r;
		after_read(fd, e, iov[i].iov_base, (ssize_t)k);
		if (ug__fd_get(fd) != e) /* dropped as not HTTP */
			break;
		r -= (ssize_t)k;
	}
}

UG_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e))
		return real_readv(fd, iov, cnt);
	r = real_readv(fd, iov, cnt);
	after_readv(fd, e, iov, cnt, r);
	return r;
}

UG_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	uintptr_t e = ug__fd_get(fd);
	ssize_t r;

	if (UG_READ_FAST(e) || (flags & MSG_PEEK))
		return real_recvmsg(fd, msg, flags);
	r = real_recvmsg(fd, msg, flags);
	after_readv(fd, e, msg->msg_iov, (int)msg->msg_iovlen, r);
	return r;
}

UG_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	int r = real_accept(fd, sa, len);

	if (r >= 0 && atomic_load_explicit(&ug__active, memory_order_relaxed))
		accepted(r);
	return r;
}

UG_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int r = real_accept4(fd, sa, len, flags);

	if (r >= 0 && atomic_load_explicit(&ug__active, memory_order_relaxed))
		accepted(r);
	return r;
}
