/*
 * A minimal HTTP upload server for the report walk-through test
 * (tests/integ/test_report.sh): listens on 127.0.0.1 (port written to the
 * file named by argv[2]), serves one request per connection and exits
 * after argv[3] requests (default 1).  The body of a PUT or POST goes to
 * argv[1] through write(2) in handle_upload(): the function the
 * investigator should find in the report.  Not a cmocka test: the runner
 * skips it (its name does not start with test_).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void reply(int c, const char *status)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n",
			 status);

	if (write(c, buf, (size_t)n) != n)
		perror("reply");
}

/* Copies `left` body bytes (some already in buf[0..have)) from the
 * connection into the upload file.  Returns 0, or -errno of the first
 * failed write. */
__attribute__((noinline)) int handle_upload(int c, const char *dest,
					    char *buf, size_t have,
					    size_t left)
{
	int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		size_t off = 0;
		ssize_t n;

		if (have > left)
			have = left;
		while (off < have) {
			ssize_t w = write(fd, buf + off, have - off);

			if (w < 0) {
				err = -errno;
				goto out_close;
			}
			off += (size_t)w;
		}
		left -= have;
		if (!left)
			break;
		n = read(c, buf, 65536);
		if (n <= 0)
			break;
		have = (size_t)n;
	}
out_close:
	close(fd);
	return err;
}

static void serve(int c, const char *dest)
{
	static char buf[65536 + 1];
	size_t have = 0, len = 0;
	char *end = NULL, *cl;
	int rc;

	while (!end && have < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (!end)
		return;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl && cl < end)
		len = strtoull(cl + 17, NULL, 10);
	end += 4;
	have -= (size_t)(end - buf);
	memmove(buf, end, have);
	rc = handle_upload(c, dest, buf, have, len);
	reply(c, rc == 0 ? "201 Created" : "413 Payload Too Large");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int s, c, n, count;
	FILE *pf;

	if (argc < 3) {
		fprintf(stderr, "usage: ugserver DEST PORTFILE [COUNT]\n");
		return 2;
	}
	count = argc > 3 ? atoi(argv[3]) : 1;
	s = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, 8) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) < 0) {
		perror("listen");
		return 1;
	}
	pf = fopen(argv[2], "w");
	fprintf(pf, "%d\n", ntohs(sa.sin_port));
	fclose(pf);
	for (n = 0; n < count; n++) {
		c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		serve(c, argv[1]);
		close(c);
	}
	return 0;
}
