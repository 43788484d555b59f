/*
 * Violation and audit events, and the forensic log they go to.
 * ug__log_event is thread-safe and async-signal-safe (no malloc, no stdio,
 * no lock a host thread can hold); one event is one write() of one line on
 * an O_APPEND fd, so lines from many threads and processes never interleave.
 */
#ifndef UG_EVENT_H
#define UG_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "caps.h"

#define UG_SCHEMA_VERSION 1

struct ug_rootrt;

struct ug_event {
	const char *event; /* "cap_exceeded", "cross_session", "file_closed" */
	enum ug_rule rule;
	const char *verdict; /* "logged", "denied", "aborted" */
	const char *op;	     /* the libc name called */
	const char *path;    /* absolute */
	int fd;		     /* -1 when none */
	int64_t offset;	     /* -1 when not known */
	uint64_t requested, allowed;
	int64_t ret;
	int err; /* errno the caller sees, 0 for none */
	uint64_t limit;
	int64_t size_before, size_after;   /* -1 when not known */
	int64_t total_before, total_after; /* -1 when not known */
	const struct ug_rootrt *root;
	dev_t dev;
	ino_t ino;
	const char *session, *owner; /* digests or NULL */
	const char *binding;	     /* "api", "cookie:NAME", ... or NULL */
	uint64_t written;	     /* file_closed: bytes written */
	uint64_t repeat;	     /* identical events held back before it */
	bool backtrace;
};

/* Opens the log named by the config (constructor only).  Returns 0 or
 * -errno with a message in err. */
int ug__log_open(const char *spec, char *err, size_t errlen);
void ug__log_event(const struct ug_event *ev);
void ug__log_atfork_child(void);
/* Called from the close/dup2/close_range hooks: true when fd is the log's
 * (the hook must not let the host close it). */
bool ug__log_is_fd(int fd);
/* Moves the log off fd (the host is about to dup2 over it). */
void ug__log_evacuate(int fd);
void ug__log_process_info(void); /* refresh pid-dependent fields */
uint64_t ug__log_lost(void);
void ug__log_exit(void);

/* Process-level helpers the policy shares. */
void ug__diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* UG_EVENT_H */
