/* libFuzzer: ug__config_parse on arbitrary text; then ug__config_free. */
#include <stdint.h>
#include <string.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ug_config cfg;
	char err[256];

	if (ug__config_parse(&cfg, (const char *)data, size, "fuzz", err,
			     sizeof(err)) == 0) {
		/* every root is absolute and normalised */
		for (size_t i = 0; i < cfg.nroots; i++)
			if (cfg.roots[i].path[0] != '/' ||
			    strlen(cfg.roots[i].path) != cfg.roots[i].len)
				__builtin_trap();
		ug__config_env(&cfg, "deny", NULL, err, sizeof(err));
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		__builtin_trap(); /* the message is a C string */
	}
	ug__config_free(&cfg);
	return 0;
}
