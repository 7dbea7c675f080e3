/* Little-endian stores independent of the host's byte order (internal). */
#ifndef RV_BYTES_H
#define RV_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void rv_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static inline void rv_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

static inline void rv_put_u64(uint8_t *p, uint64_t v)
{
    rv_put_u32(p, (uint32_t)(v & 0xFFFFFFFFu));
    rv_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline void rv_put_f32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    rv_put_u32(p, u);
}

#endif /* RV_BYTES_H */
