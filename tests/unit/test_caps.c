/*
 * Cap arithmetic (shim/caps.c): the RLIMIT_FSIZE shape of max_file and the
 * room arithmetic behind the totals.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "caps.h"

static void test_caps_file_writes_what_fits(void **s)
{
	(void)s;
	assert_int_equal(ug__cap_file(0, 100, 1000), 100);
	assert_int_equal(ug__cap_file(900, 200, 1000), 100);
	assert_int_equal(ug__cap_file(1000, 1, 1000), 0);  /* at the cap */
	assert_int_equal(ug__cap_file(5000, 1, 1000), 0);  /* sparse past it */
	assert_int_equal(ug__cap_file(0, 0, 0), 0);
	assert_int_equal(ug__cap_file(0, 1000, 1000), 1000); /* exactly */
	assert_int_equal(ug__cap_file(UINT64_MAX - 1, 10, UINT64_MAX), 1);
}

static void test_caps_growth(void **s)
{
	(void)s;
	assert_int_equal(ug__cap_growth(0, 100, 0), 100);
	assert_int_equal(ug__cap_growth(0, 100, 500), 0);    /* a rewrite */
	assert_int_equal(ug__cap_growth(450, 100, 500), 50);
	assert_int_equal(ug__cap_growth(1000, 10, 500), 510); /* the hole too */
	assert_int_equal(ug__cap_growth(UINT64_MAX, 10, 0), UINT64_MAX);
}

static void test_caps_room(void **s)
{
	(void)s;
	/* file of 500, may grow by 100: a write at 450 of 200 keeps 150 */
	assert_int_equal(ug__cap_room(450, 200, 500, 100), 150);
	assert_int_equal(ug__cap_room(0, 200, 500, 0), 200);  /* no growth */
	assert_int_equal(ug__cap_room(600, 10, 500, 100), 0); /* past room */
	assert_int_equal(ug__cap_room(550, 100, 500, 100), 50);
	assert_int_equal(ug__cap_room(0, 10, 0, 10), 10);
}

static void test_caps_rule_names_and_errnos(void **s)
{
	(void)s;
	assert_string_equal(ug__rule_name(UG_RULE_MAX_FILE), "max_file");
	assert_string_equal(ug__rule_name(UG_RULE_MAX_TOTAL), "max_total");
	assert_string_equal(ug__rule_name(UG_RULE_MAX_FILES), "max_files");
	assert_string_equal(ug__rule_name(UG_RULE_MAX_SESSION), "max_session");
	assert_int_equal(ug__rule_errno(UG_RULE_MAX_FILE), EFBIG);
	assert_int_equal(ug__rule_errno(UG_RULE_MAX_TOTAL), EDQUOT);
	assert_int_equal(ug__rule_errno(UG_RULE_MAX_FILES), EDQUOT);
	assert_int_equal(ug__rule_errno(UG_RULE_MAX_SESSION), EDQUOT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_file_writes_what_fits),
		cmocka_unit_test(test_caps_growth),
		cmocka_unit_test(test_caps_room),
		cmocka_unit_test(test_caps_rule_names_and_errnos),
	};

	return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
