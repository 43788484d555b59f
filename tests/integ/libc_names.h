/*
 * Prototypes of the fortified and internal libc names the integration tests
 * call directly (glibc's headers declare them only under _FORTIFY_SOURCE,
 * or not at all).
 */
#ifndef UG_LIBC_NAMES_H
#define UG_LIBC_NAMES_H

#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
int __fprintf_chk(FILE *, int, const char *, ...);
int __vfprintf_chk(FILE *, int, const char *, va_list);
int __printf_chk(int, const char *, ...);
int __vprintf_chk(int, const char *, va_list);
int __dprintf_chk(int, int, const char *, ...);
int __vdprintf_chk(int, int, const char *, va_list);
int _IO_putc(int, FILE *);
int __overflow(FILE *, int);
ssize_t __read_chk(int, void *, size_t, size_t);
ssize_t __recv_chk(int, void *, size_t, size_t, int);
ssize_t __recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *,
		       socklen_t *);
int mkstemp64(char *);
int mkostemp64(char *, int);
int mkstemps64(char *, int);
int mkostemps64(char *, int, int);
FILE *tmpfile64(void);

#endif /* UG_LIBC_NAMES_H */
