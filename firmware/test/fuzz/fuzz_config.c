/* libFuzzer: arbitrary key names, namespaces, integer values and strings through the NVS
 * validation and the IPv4 parser. */
#include <stdint.h>
#include <string.h>

#include "ruview_edge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[80];
    if (size < 5)
        return 0;
    uint32_t v;
    memcpy(&v, data, 4);
    size_t n = size - 4 < sizeof buf - 1 ? size - 4 : sizeof buf - 1;
    memcpy(buf, data + 4, n);
    buf[n] = '\0';
    uint8_t ip[4];
    if (rv_ipv4_parse(buf, ip)) {
        if (strlen(buf) > 15)
            __builtin_trap();
    }
    /* split "ns/key" */
    char *slash = strchr(buf, '/');
    const char *ns = "csi_cfg", *key = buf;
    if (slash) {
        *slash = '\0';
        ns = buf;
        key = slash + 1;
    }
    const rv_nvs_key_t *k = rv_nvs_find(ns, key);
    rv_nvs_int_valid(k, v);
    rv_nvs_len_valid(k, v);
    /* every table entry against the value */
    for (const rv_nvs_key_t *t = rv_nvs_keys; t->key; t++) {
        bool iv = rv_nvs_int_valid(t, v);
        if (iv && (v < t->min || v > t->max))
            __builtin_trap();
        bool lv = rv_nvs_len_valid(t, v);
        if (lv && (v < t->min || v > t->max))
            __builtin_trap();
    }
    return 0;
}
