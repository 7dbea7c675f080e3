/* libFuzzer: the XOR+RLE codec with arbitrary payloads and references. Decoding never writes
 * beyond orig_len; whatever decodes re-encodes to something that decodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rv_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t orig = (size_t)(data[0] | data[1] << 8) % 4096;
    data += 2;
    size -= 2;
    size_t half = size / 2;
    const uint8_t *pay = data, *refsrc = data + half;
    uint8_t *ref = malloc(orig ? orig : 1), *outb = malloc(orig ? orig : 1);
    for (size_t i = 0; i < orig; i++)
        ref[i] = half ? refsrc[i % (size - half)] : 0;
    int rc = rv_rle_xor_decode(pay, half, ref, outb, orig);
    if (rc == RV_CODEC_OK && orig) {
        uint8_t *pay2 = malloc(orig), *back = malloc(orig);
        size_t n = rv_rle_xor_encode(outb, ref, orig, pay2, orig);
        if (n) {
            if (n >= orig || n % 2)
                __builtin_trap();
            if (rv_rle_xor_decode(pay2, n, ref, back, orig) != RV_CODEC_OK ||
                memcmp(back, outb, orig) != 0)
                __builtin_trap();
        }
        free(pay2);
        free(back);
    }
    /* encode arbitrary cur/ref of the same length */
    if (size >= 2) {
        size_t m = size / 2;
        uint8_t *p3 = malloc(m);
        size_t n = rv_rle_xor_encode(data, data + m, m, p3, m);
        if (n >= m && n != 0)
            __builtin_trap();
        free(p3);
    }
    free(ref);
    free(outb);
    return 0;
}
