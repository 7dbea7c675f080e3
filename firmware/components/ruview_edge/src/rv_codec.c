/* XOR+RLE codec (PROTOCOL.md §1.5). The encoder aborts as soon as the output reaches the input
 * length, so a frame that does not compress costs at most one pass. */
#include "rv_codec.h"

size_t rv_rle_xor_encode(const uint8_t *cur, const uint8_t *ref, size_t len,
                         uint8_t *out, size_t cap)
{
    size_t o = 0, i = 0;
    if (!cur || !ref || !out || len == 0)
        return 0;
    if (cap > len - 1)
        cap = len - 1;              /* strictly shorter than the input, or nothing */
    while (i < len) {
        uint8_t v = (uint8_t)(cur[i] ^ ref[i]);
        size_t j = i + 1;
        while (j < len && j - i < 255 && (uint8_t)(cur[j] ^ ref[j]) == v)
            j++;
        if (o + 2 > cap)
            return 0;
        out[o++] = v;
        out[o++] = (uint8_t)(j - i);
        i = j;
    }
    return o;
}

int rv_rle_xor_decode(const uint8_t *payload, size_t plen, const uint8_t *ref,
                      uint8_t *out, size_t orig_len)
{
    size_t total = 0;
    if (plen % 2u)
        return RV_CODEC_ODD_LENGTH;
    if (plen && !payload)
        return RV_CODEC_LENGTH_MISMATCH;
    /* validate fully before writing, so a bad payload never leaves a half-written frame */
    for (size_t i = 0; i < plen; i += 2) {
        if (payload[i + 1] == 0)
            return RV_CODEC_ZERO_RUN;
        total += payload[i + 1];
    }
    if (total != orig_len || (orig_len && !out))
        return RV_CODEC_LENGTH_MISMATCH;
    size_t o = 0;
    for (size_t i = 0; i < plen; i += 2) {
        for (uint8_t r = 0; r < payload[i + 1]; r++, o++)
            out[o] = (uint8_t)(payload[i] ^ (ref ? ref[o] : 0u));
    }
    return RV_CODEC_OK;
}
