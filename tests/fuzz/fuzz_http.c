/* libFuzzer: ug__http_feed, the whole input in one piece and the same input
 * split at a fuzzer-chosen point (first byte) and then byte by byte: the
 * scanner must not crash and a FOUND value must be a NUL-terminated string
 * of valuelen bytes without control bytes. */
#include <stdint.h>
#include <string.h>
#include "http.h"

static void check(struct ug_http *h, enum ug_http_event e)
{
	if (e == UG_HTTP_FOUND) {
		if (h->valuelen == 0 || h->valuelen >= UG_HTTP_VALUE_MAX ||
		    strlen(h->value) != h->valuelen)
			__builtin_trap();
		for (size_t i = 0; i < h->valuelen; i++)
			if (((unsigned char)h->value[i] < 0x20 && h->value[i] != '\t') ||
			    h->value[i] == 0x7f)
				__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ug_http h;
	size_t cut, i;
	const char *p = (const char *)data;

	if (size < 2)
		return 0;
	cut = data[0] % size;
	for (int w = 0; w < 2; w++) {
		ug__http_init(&h, w ? UG_HTTP_HEADER : UG_HTTP_COOKIE,
			      w ? "X-Session" : "sid");
		check(&h, ug__http_feed(&h, p + 1, size - 1));
		ug__http_init(&h, w ? UG_HTTP_HEADER : UG_HTTP_COOKIE,
			      w ? "x-session" : "sid");
		check(&h, ug__http_feed(&h, p + 1, cut));
		check(&h, ug__http_feed(&h, p + 1 + cut, size - 1 - cut));
	}
	ug__http_init(&h, UG_HTTP_COOKIE, "sid");
	for (i = 1; i < size; i++)
		check(&h, ug__http_feed(&h, p + i, 1));
	check(&h, ug__http_feed(&h, p, 0));
	return 0;
}
