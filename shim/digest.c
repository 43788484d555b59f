/*
 * SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and the session digest the
 * log prints instead of raw session ids.  No global state, no allocation,
 * no syscalls: thread-safe and async-signal-safe.
 */
#include <string.h>

#include "digest.h"

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t ug__k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ug__rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 6.2.2: one 512-bit block into the hash value s->h. */
static void ug__sha256_block(struct ug_sha256 *s, const unsigned char *b)
{
	uint32_t w[64], a, bb, c, d, e, f, g, h, t1, t2;
	int t;

	for (t = 0; t < 16; t++)
		w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 |
		       (uint32_t)b[4 * t + 2] << 8 | (uint32_t)b[4 * t + 3];
	for (t = 16; t < 64; t++) {
		uint32_t s0 = ug__rotr(w[t - 15], 7) ^ ug__rotr(w[t - 15], 18) ^
			      (w[t - 15] >> 3);
		uint32_t s1 = ug__rotr(w[t - 2], 17) ^ ug__rotr(w[t - 2], 19) ^
			      (w[t - 2] >> 10);
		w[t] = s1 + w[t - 7] + s0 + w[t - 16];
	}
	a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (t = 0; t < 64; t++) {
		t1 = h + (ug__rotr(e, 6) ^ ug__rotr(e, 11) ^ ug__rotr(e, 25)) +
		     ((e & f) ^ (~e & g)) + ug__k[t] + w[t];
		t2 = (ug__rotr(a, 2) ^ ug__rotr(a, 13) ^ ug__rotr(a, 22)) +
		     ((a & bb) ^ (a & c) ^ (bb & c));
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = bb;
		bb = a;
		a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += bb, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

/* FIPS 180-4 5.3.3: the initial hash value. */
void ug__sha256_init(struct ug_sha256 *s)
{
	static const uint32_t h0[8] = {
	    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
	s->buflen = 0;
}

/* Hashes n more bytes; s->len counts bytes (the length field is bits). */
void ug__sha256_update(struct ug_sha256 *s, const void *p, size_t n)
{
	const unsigned char *in = p;

	if (!n)
		return; /* p may be NULL */
	s->len += n;
	if (s->buflen) {
		size_t k = 64 - s->buflen < n ? 64 - s->buflen : n;

		memcpy(s->buf + s->buflen, in, k);
		s->buflen += k;
		in += k;
		n -= k;
		if (s->buflen < 64)
			return;
		ug__sha256_block(s, s->buf);
		s->buflen = 0;
	}
	for (; n >= 64; in += 64, n -= 64)
		ug__sha256_block(s, in);
	memcpy(s->buf, in, n);
	s->buflen = n;
}

/* FIPS 180-4 5.1.1: pad with 1, zeros, and the 64-bit bit length. */
void ug__sha256_final(struct ug_sha256 *s, unsigned char out[32])
{
	uint64_t bits = s->len * 8;
	int i;

	s->buf[s->buflen++] = 0x80;
	if (s->buflen > 56) {
		memset(s->buf + s->buflen, 0, 64 - s->buflen);
		ug__sha256_block(s, s->buf);
		s->buflen = 0;
	}
	memset(s->buf + s->buflen, 0, 56 - s->buflen);
	for (i = 0; i < 8; i++)
		s->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	ug__sha256_block(s, s->buf);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
	memset(s, 0, sizeof(*s));
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || msg)); keys over one block are
 * hashed first. */
void ug__hmac_sha256(const void *key, size_t keylen, const void *msg,
		     size_t msglen, unsigned char out[32])
{
	unsigned char k[64], pad[64], inner[32];
	struct ug_sha256 s;
	int i;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		ug__sha256_init(&s);
		ug__sha256_update(&s, key, keylen);
		ug__sha256_final(&s, k);
	} else if (keylen) {
		memcpy(k, key, keylen);
	}

	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	ug__sha256_init(&s);
	ug__sha256_update(&s, pad, sizeof(pad));
	ug__sha256_update(&s, msg, msglen);
	ug__sha256_final(&s, inner);

	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	ug__sha256_init(&s);
	ug__sha256_update(&s, pad, sizeof(pad));
	ug__sha256_update(&s, inner, sizeof(inner));
	ug__sha256_final(&s, out);

	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

/* The first 8 bytes of HMAC-SHA-256(salt or "", id) in lower-case hex. */
void ug__session_digest(const char *salt, const char *id, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];
	int i;

	if (!salt)
		salt = "";
	if (!id)
		id = "";
	ug__hmac_sha256(salt, strlen(salt), id, strlen(id), mac);
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[16] = '\0';
}
