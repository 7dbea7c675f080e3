/*
 * Can this node roll back a bad update? (pure C; host-tested)
 *
 * Rollback is done by the 2nd-stage bootloader, and only one built with
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: when it boots a slot whose otadata state is NEW it
 * rewrites it to PENDING_VERIFY (bootloader_utility.c); the app's self-test then confirms or
 * rejects it. OTA never replaces the bootloader, so a node moved from RuView 0.6.x by OTA keeps
 * a bootloader without rollback. The app learns which bootloader runs from two facts:
 *   - evidence on an OTA boot: our app writes NEW when it selects a new slot; PENDING_VERIFY
 *     at start-up proves the bootloader made the transition, NEW still there proves it did not;
 *   - identity otherwise: our bootloader carries RV_BOOTLOADER_ROLLBACK_MARK in the version
 *     field of its esp_bootloader_desc_t (CONFIG_BOOTLOADER_PROJECT_VER in sdkconfig.defaults,
 *     read with esp_ota_get_bootloader_description, ESP-IDF >= 5.2).
 * Anything unproven counts as "no rollback": the safe claim for an operator.
 */
#ifndef RV_ROLLBACK_POLICY_H
#define RV_ROLLBACK_POLICY_H

#include <stdbool.h>
#include <stdint.h>

/* "RV" 0x0001: set as CONFIG_BOOTLOADER_PROJECT_VER=1381367809 in sdkconfig.defaults. */
#define RV_BOOTLOADER_ROLLBACK_MARK 0x52560001u

typedef struct {
    bool     app_rollback_enabled;   /* this app built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE */
    bool     running_new;            /* running slot's otadata state is ESP_OTA_IMG_NEW */
    bool     running_pending;        /* ... is ESP_OTA_IMG_PENDING_VERIFY */
    bool     bootloader_desc_found;  /* esp_ota_get_bootloader_description() == ESP_OK */
    uint32_t bootloader_version;     /* its .version */
} rv_rollback_facts_t;

bool rv_rollback_capable(const rv_rollback_facts_t *f);

#endif
