/*
 * Lexical path helpers (shim/path.c): normalisation, joining, the subtree
 * test and owner patterns.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "path.h"

static void norm(const char *in, const char *want)
{
	char out[PATH_MAX];
	int n = ug__path_normalize(in, out, sizeof(out));

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_path_normalize_cases(void **s)
{
	(void)s;
	norm("/", "/");
	norm("//", "/");
	norm("/srv/uploads", "/srv/uploads");
	norm("/srv//uploads/", "/srv/uploads");
	norm("/srv/./uploads/.", "/srv/uploads");
	norm("/srv/x/../uploads", "/srv/uploads");
	norm("/srv/uploads/../../..", "/");
	norm("/..", "/");
	norm("/a/b/c/../../d", "/a/d");
	norm("/a/..b/c", "/a/..b/c"); /* not a dot-dot component */
	norm("/a/.../c", "/a/.../c");
}

static void test_path_normalize_rejects(void **s)
{
	char out[16], big[PATH_MAX + 10];

	(void)s;
	assert_int_equal(ug__path_normalize("relative/x", out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(ug__path_normalize("", out, sizeof(out)), -EINVAL);
	assert_int_equal(ug__path_normalize(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(ug__path_normalize("/0123456789abcdef", out,
					    sizeof(out)),
			 -ENAMETOOLONG);
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ug__path_normalize(big, out, sizeof(out)),
			 -ENAMETOOLONG);
}

static void test_path_join(void **s)
{
	char out[PATH_MAX];

	(void)s;
	assert_true(ug__path_join("/srv", "uploads/x", out, sizeof(out)) > 0);
	assert_string_equal(out, "/srv/uploads/x");
	assert_true(ug__path_join("/srv/a", "../uploads", out, sizeof(out)) > 0);
	assert_string_equal(out, "/srv/uploads");
	assert_true(ug__path_join("/srv", "/etc/x", out, sizeof(out)) > 0);
	assert_string_equal(out, "/etc/x");
	assert_true(ug__path_join("/", ".", out, sizeof(out)) > 0);
	assert_string_equal(out, "/");
}

static void test_path_under(void **s)
{
	(void)s;
	assert_true(ug__path_under("/srv/up", "/srv/up", 7));
	assert_true(ug__path_under("/srv/up/a/b", "/srv/up", 7));
	assert_false(ug__path_under("/srv/upload", "/srv/up", 7));
	assert_false(ug__path_under("/srv", "/srv/up", 7));
	assert_true(ug__path_under("/anything", "/", 1));
}

static void test_path_dirlen(void **s)
{
	(void)s;
	assert_int_equal(ug__path_dirlen("/a/b", 4), 2);
	assert_int_equal(ug__path_dirlen("/a", 2), 1);
}

static void owner(const char *pat, const char *rel, const char *want)
{
	char out[64];
	int n = ug__path_owner(pat, rel, out, sizeof(out));

	if (!want) {
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_path_owner_patterns(void **s)
{
	(void)s;
	owner("path:{session}/", "abc123/photo.jpg", "abc123");
	owner("path:{session}/", "photo.jpg", NULL); /* no directory */
	owner("path:sess_{session}", "sess_abc", "abc");
	owner("path:sess_{session}", "other_abc", NULL);
	owner("path:users/{session}/files/", "users/u1/files/x", "u1");
	owner("path:users/{session}/files/", "users/u1/other/x", "u1");
	owner("path:{session}.upload", "s9.upload", "s9");
	owner("path:{session}/", "/x", NULL); /* empty id */
	owner("nopath", "a/b", NULL);
	owner("path:{session}/", "0123456789012345678901234567890123456789"
				 "01234567890123456789012345/x",
	      NULL); /* longer than out */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_normalize_cases),
		cmocka_unit_test(test_path_normalize_rejects),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_path_under),
		cmocka_unit_test(test_path_dirlen),
		cmocka_unit_test(test_path_owner_patterns),
	};

	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
