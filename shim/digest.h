/*
 * Session-id digests for the log: HMAC-SHA-256(salt, id), first 8 bytes as
 * 16 lower-case hex digits.  Pure code: no allocation, async-signal-safe.
 */
#ifndef UG_DIGEST_H
#define UG_DIGEST_H

#include <stddef.h>
#include <stdint.h>

struct ug_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t buflen;
};

void ug__sha256_init(struct ug_sha256 *s);
void ug__sha256_update(struct ug_sha256 *s, const void *p, size_t n);
void ug__sha256_final(struct ug_sha256 *s, unsigned char out[32]);

void ug__hmac_sha256(const void *key, size_t keylen, const void *msg,
		     size_t msglen, unsigned char out[32]);

/* Writes 16 hex digits and a NUL into out[17]. */
void ug__session_digest(const char *salt, const char *id, char out[17]);

#endif /* UG_DIGEST_H */
