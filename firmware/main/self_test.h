/*
 * After an OTA boot the new app is ESP_OTA_IMG_PENDING_VERIFY. This task proves it works
 * (WiFi up, CSI frames arriving, UDP sends succeeding, within CONFIG_RUVIEW_SELF_TEST_TIMEOUT_S)
 * and then marks it valid; otherwise it marks it invalid and reboots into the previous app.
 * A crash before that has the same effect: the bootloader never sees a valid mark.
 */
#pragma once

/* Start the self-test task when the running app is pending verification; no-op otherwise. */
void self_test_start(void);
