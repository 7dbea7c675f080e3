/*
 * What /ota/status reports as `rollback`: the version of an update that did not stick.
 * Before rebooting into a new image, http_ota records the slot and version it installed; at
 * the next boot, running from any other slot means the bootloader went back (failed self-test
 * or crash), and that version becomes the rollback until the next successful upload.
 * Stored in NVS namespace "ruview_ota" (rewriting the whole NVS partition clears it).
 */
#pragma once

#include <stdbool.h>

/* Evaluate the record against the running slot. Call once at boot, after nvs_flash_init(). */
void ota_history_boot(void);
/* The version that was rolled back from, or NULL. */
const char *ota_history_rollback(void);
/* An upload into `slot_label` holding `version` is about to be booted. */
void ota_history_record_update(const char *slot_label, const char *version);
/* The running (new) image passed its self-test: the update is complete. */
void ota_history_confirm(void);
