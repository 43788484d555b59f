/*
 * Lexical path helpers.  Pure code: no syscalls, no allocation, no locks;
 * async-signal-safe.
 */
#ifndef UG_PATH_H
#define UG_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Normalises an absolute path lexically: collapses "//", drops "." and
 * resolves ".." against the text (".." at "/" stays at "/"), strips a
 * trailing '/'.  Returns the length written to out (NUL-terminated), or
 * -ENAMETOOLONG / -EINVAL (not absolute). */
int ug__path_normalize(const char *in, char *out, size_t outsz);

/* Joins base (absolute) and rel (relative) with '/', then normalises.
 * An absolute rel ignores base.  Same returns as ug__path_normalize. */
int ug__path_join(const char *base, const char *rel, char *out, size_t outsz);

/* True when path equals root or lies below it ("/a/b" is under "/a", "/ab"
 * is not).  Both must be normalised; root "/" holds everything. */
bool ug__path_under(const char *path, const char *root, size_t rootlen);

/* Splits a normalised absolute path at its last '/': returns the length of
 * the directory part ("/" counts as 1 for "/x"). */
size_t ug__path_dirlen(const char *path, size_t len);

/* Extracts the session named by an owner pattern ("path:{session}/",
 * "path:sess_{session}") from the part of path below root (rel, without the
 * leading '/').  The pattern matches a prefix of rel; {session} takes the
 * bytes up to the pattern's next literal character (or to the next '/' when
 * the pattern ends there).  Returns the id length (copied NUL-terminated to
 * out), or -1 when rel does not match. */
int ug__path_owner(const char *pattern, const char *rel, char *out,
		   size_t outsz);

#endif /* UG_PATH_H */
