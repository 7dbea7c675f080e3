/*
 * Where each NVS key lands in node_config_t: the mapping config_load.c walks. Pure C (no
 * ESP-IDF header) so the host test can check it against the core's key table: every key the
 * core validates has a field of the matching kind and width, and nothing else is read.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *ns;
    const char *key;
    size_t      off;       /* offset in node_config_t */
    size_t      size;      /* integers: width; strings: capacity with the NUL; blobs: capacity */
    int         len_off;   /* blobs: offset of the uint8_t length; -1 for everything else */
    bool        is_str;    /* string (nvs_get_str) */
    bool        secret;    /* never log anything about the value */
} config_field_t;

extern const config_field_t config_fields[];
extern const size_t config_fields_count;
