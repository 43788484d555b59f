/*
 * Unit tests for shim/digest.c: FIPS 180-4 SHA-256 examples, RFC 4231
 * HMAC-SHA-256 test cases 1-4, 6, 7, and session digests checked against
 * python3 hmac.new(salt, id, hashlib.sha256).hexdigest()[:16].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "digest.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha(const void *msg, size_t n, const char *want)
{
	struct ug_sha256 s;
	unsigned char d[32];
	char got[65];

	ug__sha256_init(&s);
	ug__sha256_update(&s, msg, n);
	ug__sha256_final(&s, d);
	hex(d, 32, got);
	assert_string_equal(got, want);
}

static void check_hmac(const void *key, size_t keylen, const void *msg,
		       size_t msglen, const char *want)
{
	unsigned char d[32];
	char got[65];

	ug__hmac_sha256(key, keylen, msg, msglen, d);
	hex(d, 32, got);
	assert_string_equal(got, want);
}

static void test_digest_sha256_abc(void **state)
{
	(void)state;
	check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
}

static void test_digest_sha256_empty(void **state)
{
	(void)state;
	check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
			 "27ae41e4649b934ca495991b7852b855");
	check_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb924"
			   "27ae41e4649b934ca495991b7852b855");
}

static void test_digest_sha256_448_bits(void **state)
{
	const char *m =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	check_sha(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039"
				"a33ce45964ff2167f6ecedd419db06c1");
}

/* A million 'a' fed in uneven pieces exercises the buffering. */
static void test_digest_sha256_million_a(void **state)
{
	static char a[1000];
	struct ug_sha256 s;
	unsigned char d[32];
	char got[65];
	size_t done = 0, piece = 1;

	(void)state;
	memset(a, 'a', sizeof(a));
	ug__sha256_init(&s);
	while (done < 1000000) {
		size_t k = piece < 1000000 - done ? piece : 1000000 - done;

		ug__sha256_update(&s, a, k);
		done += k;
		piece = piece % 987 + 13; /* at most 999 */
	}
	ug__sha256_final(&s, d);
	hex(d, 32, got);
	assert_string_equal(got, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
}

/* Padding edge cases: 55, 56, 63, 64 bytes, split or whole, agree. */
static void test_digest_sha256_split_equals_whole(void **state)
{
	unsigned char m[130], d1[32], d2[32];
	struct ug_sha256 s;
	size_t n, cut;

	(void)state;
	for (n = 0; n < sizeof(m); n++)
		m[n] = (unsigned char)(n * 7 + 1);
	for (n = 0; n <= sizeof(m); n++) {
		ug__sha256_init(&s);
		ug__sha256_update(&s, m, n);
		ug__sha256_final(&s, d1);
		for (cut = 0; cut <= n; cut++) {
			ug__sha256_init(&s);
			ug__sha256_update(&s, m, cut);
			ug__sha256_update(&s, m + cut, n - cut);
			ug__sha256_final(&s, d2);
			assert_memory_equal(d1, d2, 32);
		}
	}
}

static void test_digest_hmac_rfc4231_case1(void **state)
{
	unsigned char key[20];

	(void)state;
	memset(key, 0x0b, sizeof(key));
	check_hmac(key, sizeof(key), "Hi There", 8,
		   "b0344c61d8db38535ca8afceaf0bf12b"
		   "881dc200c9833da726e9376c2e32cff7");
}

static void test_digest_hmac_rfc4231_case2(void **state)
{
	(void)state;
	check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
		   "5bdcc146bf60754e6a042426089575c7"
		   "5a003f089d2739839dec58b964ec3843");
}

static void test_digest_hmac_rfc4231_case3(void **state)
{
	unsigned char key[20], msg[50];

	(void)state;
	memset(key, 0xaa, sizeof(key));
	memset(msg, 0xdd, sizeof(msg));
	check_hmac(key, sizeof(key), msg, sizeof(msg),
		   "773ea91e36800e46854db8ebd09181a7"
		   "2959098b3ef8c122d9635514ced565fe");
}

static void test_digest_hmac_rfc4231_case4(void **state)
{
	unsigned char key[25], msg[50];
	int i;

	(void)state;
	for (i = 0; i < 25; i++)
		key[i] = (unsigned char)(i + 1);
	memset(msg, 0xcd, sizeof(msg));
	check_hmac(key, sizeof(key), msg, sizeof(msg),
		   "82558a389a443c0ea4cc819899f2083a"
		   "85f0faa3e578f8077a2e3ff46729665b");
}

static void test_digest_hmac_rfc4231_case6(void **state)
{
	unsigned char key[131];
	const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";

	(void)state;
	memset(key, 0xaa, sizeof(key));
	check_hmac(key, sizeof(key), m, strlen(m),
		   "60e431591ee0b67f0d8a26aacbf5b77f"
		   "8e0bc6213728c5140546040f0ee37f54");
}

static void test_digest_hmac_rfc4231_case7(void **state)
{
	unsigned char key[131];
	const char *m = "This is a test using a larger than block-size key "
			"and a larger than block-size data. The key needs to "
			"be hashed before being used by the HMAC algorithm.";

	(void)state;
	memset(key, 0xaa, sizeof(key));
	check_hmac(key, sizeof(key), m, strlen(m),
		   "9b09ffa71b942fcb27635fbcd5b0e944"
		   "bfdc63644f0713938a7f51535c3a35e2");
}

/* Expected values from python3 hmac.new(salt, id, sha256).hexdigest()[:16]. */
static void test_digest_session_matches_python(void **state)
{
	char out[17];

	(void)state;
	ug__session_digest("pepper", "abc123", out);
	assert_string_equal(out, "7715afe75f076a5e");
	ug__session_digest("s3cr3t-salt-0123456789",
			   "9f86d081884c7d659a2feaa0c55ad015", out);
	assert_string_equal(out, "391352b965ea2ea0");
}

static void test_digest_session_null_salt_is_empty(void **state)
{
	char a[17], b[17];

	(void)state;
	ug__session_digest(NULL, "sess-42", a);
	ug__session_digest("", "sess-42", b);
	assert_string_equal(a, "f79880ce2dedbc8e");
	assert_string_equal(b, "f79880ce2dedbc8e");
	assert_int_equal(strlen(a), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_sha256_abc),
		cmocka_unit_test(test_digest_sha256_empty),
		cmocka_unit_test(test_digest_sha256_448_bits),
		cmocka_unit_test(test_digest_sha256_million_a),
		cmocka_unit_test(test_digest_sha256_split_equals_whole),
		cmocka_unit_test(test_digest_hmac_rfc4231_case1),
		cmocka_unit_test(test_digest_hmac_rfc4231_case2),
		cmocka_unit_test(test_digest_hmac_rfc4231_case3),
		cmocka_unit_test(test_digest_hmac_rfc4231_case4),
		cmocka_unit_test(test_digest_hmac_rfc4231_case6),
		cmocka_unit_test(test_digest_hmac_rfc4231_case7),
		cmocka_unit_test(test_digest_session_matches_python),
		cmocka_unit_test(test_digest_session_null_salt_is_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
