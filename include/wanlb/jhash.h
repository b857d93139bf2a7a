/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bob Jenkins' lookup3 hash (as the kernel's jhash2), usable from BPF and
 * from C++: the data path hashes a connection's selected fields with it, and
 * tests and `wanlb` tools can compute the same slot in user space.
 */
#ifndef WANLB_JHASH_H
#define WANLB_JHASH_H

#include <linux/types.h>

static inline __u32 wanlb_rol32(__u32 word, unsigned int shift)
{
	return (word << (shift & 31)) | (word >> ((-shift) & 31));
}

#define WANLB_JHASH_MIX(a, b, c)                      \
	do {                                          \
		a -= c; a ^= wanlb_rol32(c, 4); c += b;  \
		b -= a; b ^= wanlb_rol32(a, 6); a += c;  \
		c -= b; c ^= wanlb_rol32(b, 8); b += a;  \
		a -= c; a ^= wanlb_rol32(c, 16); c += b; \
		b -= a; b ^= wanlb_rol32(a, 19); a += c; \
		c -= b; c ^= wanlb_rol32(b, 4); b += a;  \
	} while (0)

#define WANLB_JHASH_FINAL(a, b, c)                 \
	do {                                       \
		c ^= b; c -= wanlb_rol32(b, 14);   \
		a ^= c; a -= wanlb_rol32(c, 11);   \
		b ^= a; b -= wanlb_rol32(a, 25);   \
		c ^= b; c -= wanlb_rol32(b, 16);   \
		a ^= c; a -= wanlb_rol32(c, 4);    \
		b ^= a; b -= wanlb_rol32(a, 14);   \
		c ^= b; c -= wanlb_rol32(b, 24);   \
	} while (0)

/* Selected fields of a connection, unselected ones zero: 9 words. */
struct wanlb_hash_input {
	__be32 a[4]; /* source address, if selected */
	__be32 b[4]; /* destination address, if selected */
	__be16 sport;
	__be16 dport;
};

/* jhash2 over exactly the 9 words of wanlb_hash_input (fixed length keeps
 * the BPF version loop-free). */
static inline __u32 wanlb_jhash_input(const struct wanlb_hash_input *in, __u32 seed)
{
	/* Copy, don't cast: reading the 16-bit port fields through a __u32
	 * pointer breaks C++ strict aliasing (g++ -O2 then hashes stale ports). */
	__u32 k[9];
	__u32 a, b, c;

	__builtin_memcpy(k, in, sizeof(k));
	a = b = c = 0xdeadbeef + (9 << 2) + seed;
	a += k[0]; b += k[1]; c += k[2];
	WANLB_JHASH_MIX(a, b, c);
	a += k[3]; b += k[4]; c += k[5];
	WANLB_JHASH_MIX(a, b, c);
	a += k[6]; b += k[7]; c += k[8];
	WANLB_JHASH_FINAL(a, b, c);
	return c;
}

#endif /* WANLB_JHASH_H */
