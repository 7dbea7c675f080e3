/*
 * The XOR+RLE codec of compressed CSI frames (PROTOCOL.md §1.5): payload = (value, run) byte
 * pairs of cur XOR ref, runs 1..255 (longer runs split).
 */
#ifndef RV_CODEC_H
#define RV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Encode into out (capacity cap). Returns the payload length, or 0 when the pairs would not be
 * strictly shorter than `len` (or would not fit in cap): the caller then sends the raw frame. */
size_t rv_rle_xor_encode(const uint8_t *cur, const uint8_t *ref, size_t len,
                         uint8_t *out, size_t cap);

enum {
    RV_CODEC_OK = 0,
    RV_CODEC_ODD_LENGTH = -1,
    RV_CODEC_ZERO_RUN = -2,
    RV_CODEC_LENGTH_MISMATCH = -3
};
/* Decode: out[0..orig_len) = expansion XOR ref (ref may be NULL for the bare expansion).
 * Returns RV_CODEC_OK or a negative RV_CODEC_* reason; never writes beyond orig_len. */
int rv_rle_xor_decode(const uint8_t *payload, size_t plen, const uint8_t *ref,
                      uint8_t *out, size_t orig_len);

#ifdef __cplusplus
}
#endif

#endif /* RV_CODEC_H */
