/*
 * A JSON object writer into a caller's fixed buffer.  Pure code: no
 * allocation, no locks, no syscalls; async-signal-safe.
 *
 * Strings are bytes: valid UTF-8 passes through, control bytes, '"' and '\'
 * are escaped, and each byte of an invalid UTF-8 sequence 0xNN becomes the
 * lone surrogate \udcNN, so that Python's json + os.fsencode (surrogateescape)
 * give back the exact bytes of a path.  A field that does not fit is dropped
 * whole and the object ends with "truncated":true: the line stays valid.
 * The buffer needs at least 64 bytes; each open container keeps a byte for
 * its closer, so any sequence of calls yields one valid JSON object.
 */
#ifndef UG_JSON_H
#define UG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ug_json {
	char *buf;
	size_t cap; /* usable bytes, a tail is kept for closing */
	size_t len;
	int depth;	/* nesting below the top object (at most 60) */
	uint64_t kinds; /* bit d set: the container at depth d is an array */
	bool first;	/* no member written yet at this level */
	bool trunc;	/* a field was dropped */
};

void ug__json_init(struct ug_json *j, char *buf, size_t cap);
void ug__json_str(struct ug_json *j, const char *key, const char *s);
void ug__json_strn(struct ug_json *j, const char *key, const char *s, size_t n);
void ug__json_u64(struct ug_json *j, const char *key, uint64_t v);
void ug__json_i64(struct ug_json *j, const char *key, int64_t v);
void ug__json_hex(struct ug_json *j, const char *key, uint64_t v); /* "0x.." */
void ug__json_bool(struct ug_json *j, const char *key, bool v);
void ug__json_null(struct ug_json *j, const char *key);
/* Nested containers: key is NULL inside arrays. */
bool ug__json_obj_begin(struct ug_json *j, const char *key);
bool ug__json_arr_begin(struct ug_json *j, const char *key);
/* Closes the innermost open container (the closer is the one that matches
 * what was opened; `close` is documentation). */
void ug__json_end(struct ug_json *j, char close);
/* Closes the object and appends "\n"; returns the line length. */
size_t ug__json_finish(struct ug_json *j);

/* Escapes s[0..n) as a JSON string body into out; returns bytes needed
 * (writes at most outsz, no NUL).  Exposed for tests. */
size_t ug__json_escape(char *out, size_t outsz, const char *s, size_t n);

#endif /* UG_JSON_H */
