/* libFuzzer: ug__parse_size; a value it accepts re-parses the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], back[32];
	uint64_t v, w;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	if (ug__parse_size(s, &v) == 0) {
		snprintf(back, sizeof(back), "%llu", (unsigned long long)v);
		if (ug__parse_size(back, &w) != 0 || w != v)
			__builtin_trap();
	}
	return 0;
}
