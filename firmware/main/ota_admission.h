/*
 * POST /ota admission: which HTTP answer for which request and node state, decided from the
 * headers alone, before a byte of the body is read or flash is touched (pure C; host-tested).
 * The answer table below is the firmware's half of docs/protocol.md section 5; the contract
 * test reads both.
 */
#ifndef RV_OTA_ADMISSION_H
#define RV_OTA_ADMISSION_H

#include <stdbool.h>
#include <stdint.h>

#include "ota_auth.h"

typedef enum {
    RV_OTA_ADMIT = 0,
    /* refused from the headers, before the body */
    RV_OTA_DISABLED,          /* no ota_psk provisioned (fail-closed) */
    RV_OTA_AUTH_SCHEME,       /* Authorization: Bearer: the PSK must not cross the network */
    RV_OTA_AUTH,              /* Authorization missing/malformed, or the MAC does not verify */
    RV_OTA_LENGTH_REQUIRED,   /* no Content-Length, or Transfer-Encoding (chunked) */
    RV_OTA_BAD_DIGEST_HEADER, /* X-Image-SHA256 missing or not 64 hex digits */
    RV_OTA_NONCE,             /* nonce unknown, already used or expired */
    RV_OTA_REBOOTING,         /* an update was accepted; the node restarts in a moment */
    RV_OTA_BUSY,              /* another upload is being received */
    RV_OTA_PENDING_VERIFY,    /* running app not confirmed yet: esp_ota_begin would refuse */
    RV_OTA_EMPTY,             /* Content-Length: 0 */
    RV_OTA_NO_SLOT,           /* no OTA slot to write to */
    RV_OTA_TOO_LARGE,         /* larger than the OTA slot */
    /* refused while or after reading the body */
    RV_OTA_INVALID_IMAGE,     /* not an app image for this chip (magic, esp_ota_end checks) */
    RV_OTA_DIGEST_MISMATCH,   /* SHA-256 of the body differs from X-Image-SHA256 */
    RV_OTA_WRITE_FAILED,      /* esp_ota_begin/write/end or set_boot_partition failed */
    RV_OTA_OUTCOMES
} rv_ota_outcome_t;

typedef struct {
    uint16_t    status;
    const char *status_line;   /* for httpd_resp_set_status */
    const char *code;          /* JSON "code" */
} rv_http_answer_t;

const rv_http_answer_t *rv_ota_answer(rv_ota_outcome_t o);

typedef struct {
    bool            psk_set;
    rv_auth_scheme_t scheme;
    bool            has_length;
    bool            chunked;
    uint64_t        length;
    bool            digest_ok;      /* X-Image-SHA256 present, 64 hex digits */
    bool            nonce_ok;       /* rv_nonce_take() accepted the request's nonce */
    bool            mac_ok;         /* HMAC verified (constant time) */
    bool            rebooting;
    bool            busy;
    bool            pending_verify;
    bool            have_slot;
    uint64_t        slot_size;
} rv_ota_request_t;

/* Checks in this order: provisioned, auth scheme, length, digest header, nonce, MAC, then the
 * node's state (rebooting, busy, pending verify), then size. An unauthenticated client learns
 * nothing about the node's state. */
rv_ota_outcome_t rv_ota_admit(const rv_ota_request_t *r);

/* Refused bodies are read and discarded only up to this bound, so that a client sending a
 * small body reads the status cleanly; anything larger closes the connection at once instead
 * of tying up the single httpd task for a whole slot (esp_http_server would otherwise purge the
 * entire Content-Length after the handler returns). */
#define RV_OTA_DRAIN_MAX (16u * 1024u)

/* How many unread body bytes to discard after a refusal; *close_after says the connection must
 * be closed instead (chunked, unknown length, or more than RV_OTA_DRAIN_MAX left). */
uint64_t rv_ota_drain_bytes(bool chunked, bool has_length, uint64_t remaining,
                            bool *close_after);

#endif
