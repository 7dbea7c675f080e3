/*
 * Who this node is, in the spellings the HTTP status and the mDNS advert share
 * (PROTOCOL.md sections 4 and 5).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint8_t mac[6];          /* WiFi station MAC */
    char    mac_str[18];     /* "aa:bb:cc:dd:ee:ff" */
    char    chip[16];        /* "esp32s3" */
    char    version[32];     /* esp_app_desc_t.version, from version.txt */
    char    project_name[32];
    char    app_sha256[65];  /* hex SHA-256 of the running image file, "" if unknown */
    uint16_t chip_revision;  /* major*100 + minor, as esp_chip_info() and the image header */
    bool    rollback_capable;/* the running bootloader rolls back a failed update
                                (rollback_policy.h) */
    char    hostname[24];    /* "ruview-<6 hex of MAC>" */
    char    instance[40];    /* "ruview-<node_id>-<last 4 hex of MAC>" */
} node_info_t;

/* Fill once at boot (no WiFi needed: the MAC comes from eFuse; hashing the running
 * image reads it from flash once, ~1 MB). */
void node_info_init(node_info_t *info, uint8_t node_id);
