/*
 * uploadguard-check: loads a config the way the shim does (file, then the
 * UPLOADGUARD_MODE / UPLOADGUARD_LOG overrides) and prints the result.
 * A normal single-threaded program: stdio and getenv are fine here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define ENV_CONFIG "UPLOADGUARD_CONFIG"
#define ENV_MODE "UPLOADGUARD_MODE"
#define ENV_LOG "UPLOADGUARD_LOG"
#define DEFAULT_CONFIG "/etc/uploadguard.conf"

static void usage(FILE *f)
{
	fputs("usage: uploadguard-check [-c FILE] [--json]\n"
	      "Checks an uploadguard configuration and prints the effective "
	      "settings.\n"
	      "\n"
	      "  -c FILE   the config file (default: $" ENV_CONFIG
	      ", else " DEFAULT_CONFIG ")\n"
	      "  --json    print one JSON object instead of text\n"
	      "  -h, --help  this help\n"
	      "\n"
	      "$" ENV_MODE " and $" ENV_LOG " override [guard] mode and log, "
	      "as in the shim.\n"
	      "Exit status: 0 valid, 1 invalid or unreadable, 2 bad usage.\n",
	      f);
}

/* ------------------------------------------------------------ text */

/* Prints s with control bytes as \xNN so a hostile value cannot drive the
 * terminal. */
static void put_text(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* "10M (10485760 bytes)", "512 bytes", "unlimited"; counts stay plain. */
static void put_size(uint64_t v, bool count)
{
	static const char units[] = "KMGT";
	int k;

	if (v == UG_UNLIMITED) {
		fputs("unlimited", stdout);
		return;
	}
	if (count) {
		printf("%llu", (unsigned long long)v);
		return;
	}
	for (k = 3; k >= 0; k--) {
		unsigned shift = 10u * (unsigned)(k + 1);

		if (v && v % (1ull << shift) == 0) {
			printf("%llu%c (%llu bytes)",
			       (unsigned long long)(v >> shift), units[k],
			       (unsigned long long)v);
			return;
		}
	}
	printf("%llu bytes", (unsigned long long)v);
}

static void put_source(const struct ug_source *s)
{
	switch (s->kind) {
	case UG_SRC_API:
		fputs("api", stdout);
		break;
	case UG_SRC_PHP:
		fputs("php", stdout);
		break;
	case UG_SRC_ENV:
		fputs("env", stdout);
		break;
	case UG_SRC_COOKIE:
		printf("cookie:%s", s->name);
		break;
	case UG_SRC_HEADER:
		printf("header:%s", s->name);
		break;
	}
}

static void print_text(const struct ug_config *c, const char *file,
		       bool env_mode, bool env_log)
{
	size_t i;

	fputs("config    ", stdout);
	put_text(file);
	printf("\nmode      %s%s\n", ug__mode_name(c->mode),
	       env_mode ? "  (from $" ENV_MODE ")" : "");
	fputs("log       ", stdout);
	put_text(c->log);
	printf("%s\n", env_log ? "  (from $" ENV_LOG ")" : "");
	printf("on_error  %s\n", c->on_error_closed ? "closed" : "open");
	printf("audit     %s\n", c->audit ? "on" : "off");
	printf("io_uring  %s\n", c->io_uring_block ? "block" : "allow");
	fputs("only      ", stdout);
	if (c->only)
		put_text(c->only);
	else
		fputs("(all executables)", stdout);

	fputs("\n\n[session]\nfrom      ", stdout);
	for (i = 0; i < c->nsources; i++) {
		if (i)
			fputs(", ", stdout);
		put_source(&c->sources[i]);
	}
	printf("\ncross     %s\n", ug__mode_name(c->cross));
	printf("salt      %s\n", c->salt ? "set" : "not set");

	if (!c->nroots)
		fputs("\nno [upload PATH] sections: nothing is capped\n",
		      stdout);
	for (i = 0; i < c->nroots; i++) {
		const struct ug_root *r = &c->roots[i];

		fputs("\n[upload ", stdout);
		put_text(r->path);
		printf("]  (line %u)\nmax_file     ", r->line);
		put_size(r->max_file, false);
		fputs("\nmax_total    ", stdout);
		put_size(r->max_total, false);
		fputs("\nmax_files    ", stdout);
		put_size(r->max_files, true);
		fputs("\nmax_session  ", stdout);
		put_size(r->max_session, false);
		if (r->mode == UG_MODE_UNSET)
			printf("\nmode         %s (from [guard])\n",
			       ug__mode_name(c->mode));
		else
			printf("\nmode         %s\n", ug__mode_name(r->mode));
		fputs("owner        ", stdout);
		if (r->owner)
			put_text(r->owner);
		else
			fputs("(none)", stdout);
		putchar('\n');
	}
}

/* ------------------------------------------------------------ JSON */

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t k, i;
	uint32_t cp, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, cp = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, cp = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* A JSON string, or null.  Bytes that are not UTF-8 become \udcNN, the
 * convention of shim/json.c (Python's surrogateescape gives them back). */
static void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	while (*p) {
		if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else if (*p < 0x80) {
			putchar(*p++);
		} else if ((k = utf8_len(p))) {
			fwrite(p, 1, k, stdout);
			p += k;
		} else {
			printf("\\udc%02x", *p++);
		}
	}
	putchar('"');
}

static void json_cap(const char *key, uint64_t v, bool last)
{
	printf("\"%s\":", key);
	if (v == UG_UNLIMITED)
		fputs("null", stdout);
	else
		printf("%llu", (unsigned long long)v);
	if (!last)
		putchar(',');
}

static void print_json(const struct ug_config *c, const char *file)
{
	size_t i;

	fputs("{\"config\":", stdout);
	json_str(file);
	printf(",\"mode\":\"%s\",\"log\":", ug__mode_name(c->mode));
	json_str(c->log);
	printf(",\"on_error\":\"%s\",\"audit\":\"%s\",\"io_uring\":\"%s\","
	       "\"only\":",
	       c->on_error_closed ? "closed" : "open", c->audit ? "on" : "off",
	       c->io_uring_block ? "block" : "allow");
	json_str(c->only);
	fputs(",\"session\":{\"from\":[", stdout);
	for (i = 0; i < c->nsources; i++) {
		if (i)
			putchar(',');
		putchar('"');
		put_source(&c->sources[i]); /* tokens: nothing to escape */
		putchar('"');
	}
	printf("],\"cross\":\"%s\",\"salt_set\":%s},\"roots\":[",
	       ug__mode_name(c->cross), c->salt ? "true" : "false");
	for (i = 0; i < c->nroots; i++) {
		const struct ug_root *r = &c->roots[i];
		enum ug_mode m = r->mode == UG_MODE_UNSET ? c->mode : r->mode;

		fputs(i ? ",{\"path\":" : "{\"path\":", stdout);
		json_str(r->path);
		putchar(',');
		json_cap("max_file", r->max_file, false);
		json_cap("max_total", r->max_total, false);
		json_cap("max_files", r->max_files, false);
		json_cap("max_session", r->max_session, false);
		printf("\"mode\":\"%s\",\"owner\":", ug__mode_name(m));
		json_str(r->owner);
		putchar('}');
	}
	fputs("]}\n", stdout);
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	const char *file = NULL, *env_mode, *env_log;
	bool json = false, from_default = false;
	struct ug_config cfg;
	char err[1024];
	int i, rc;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-c") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strncmp(a, "-c", 2) && a[2]) {
			file = a + 2;
		} else {
			fprintf(stderr, "uploadguard-check: %s '%s'\n",
				strcmp(a, "-c") ? "unknown argument"
						: "missing FILE after",
				a);
			usage(stderr);
			return 2;
		}
	}
	if (!file) {
		file = getenv(ENV_CONFIG);
		if (!file || !*file) {
			file = DEFAULT_CONFIG;
			from_default = true;
		}
	}

	rc = ug__config_load(&cfg, file, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		if (rc == -ENOENT && from_default)
			fprintf(stderr, "uploadguard-check: set $" ENV_CONFIG
					" or use -c FILE to check another "
					"file\n");
		return 1;
	}
	env_mode = getenv(ENV_MODE);
	env_log = getenv(ENV_LOG);
	rc = ug__config_env(&cfg, env_mode, env_log, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		ug__config_free(&cfg);
		return 1;
	}
	if (json)
		print_json(&cfg, file);
	else
		print_text(&cfg, file, env_mode != NULL, env_log != NULL);
	ug__config_free(&cfg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "uploadguard-check: cannot write: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}
