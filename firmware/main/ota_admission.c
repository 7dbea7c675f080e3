#include "ota_admission.h"

#include <stddef.h>

/* status, status line, code: one row per outcome (docs/protocol.md section 5). */
static const rv_http_answer_t k_answers[RV_OTA_OUTCOMES] = {
    [RV_OTA_ADMIT]             = {200, "200 OK", "ok"},
    [RV_OTA_DISABLED]          = {403, "403 Forbidden", "ota_disabled"},
    [RV_OTA_AUTH_SCHEME]       = {403, "403 Forbidden", "auth_scheme"},
    [RV_OTA_AUTH]              = {403, "403 Forbidden", "auth"},
    [RV_OTA_LENGTH_REQUIRED]   = {411, "411 Length Required", "length_required"},
    [RV_OTA_BAD_DIGEST_HEADER] = {400, "400 Bad Request", "bad_digest_header"},
    [RV_OTA_NONCE]             = {403, "403 Forbidden", "nonce"},
    [RV_OTA_REBOOTING]         = {503, "503 Service Unavailable", "rebooting"},
    [RV_OTA_BUSY]              = {409, "409 Conflict", "busy"},
    [RV_OTA_PENDING_VERIFY]    = {409, "409 Conflict", "pending_verify"},
    [RV_OTA_EMPTY]             = {400, "400 Bad Request", "empty"},
    [RV_OTA_NO_SLOT]           = {500, "500 Internal Server Error", "write_failed"},
    [RV_OTA_TOO_LARGE]         = {413, "413 Payload Too Large", "too_large"},
    [RV_OTA_INVALID_IMAGE]     = {422, "422 Unprocessable Entity", "invalid_image"},
    [RV_OTA_DIGEST_MISMATCH]   = {422, "422 Unprocessable Entity", "digest_mismatch"},
    [RV_OTA_WRITE_FAILED]      = {500, "500 Internal Server Error", "write_failed"},
};

const rv_http_answer_t *rv_ota_answer(rv_ota_outcome_t o)
{
    return (unsigned)o < RV_OTA_OUTCOMES ? &k_answers[o] : &k_answers[RV_OTA_WRITE_FAILED];
}

rv_ota_outcome_t rv_ota_admit(const rv_ota_request_t *r)
{
    if (!r->psk_set) {
        return RV_OTA_DISABLED;
    }
    if (r->scheme == RV_AUTH_BEARER) {
        return RV_OTA_AUTH_SCHEME;
    }
    if (r->scheme != RV_AUTH_HMAC) {
        return RV_OTA_AUTH;
    }
    if (!r->has_length || r->chunked) {
        return RV_OTA_LENGTH_REQUIRED;
    }
    if (!r->digest_ok) {
        return RV_OTA_BAD_DIGEST_HEADER;
    }
    if (!r->nonce_ok) {
        return RV_OTA_NONCE;
    }
    if (!r->mac_ok) {
        return RV_OTA_AUTH;
    }
    if (r->rebooting) {
        return RV_OTA_REBOOTING;
    }
    if (r->busy) {
        return RV_OTA_BUSY;
    }
    if (r->pending_verify) {
        return RV_OTA_PENDING_VERIFY;
    }
    if (r->length == 0) {
        return RV_OTA_EMPTY;
    }
    if (!r->have_slot) {
        return RV_OTA_NO_SLOT;
    }
    if (r->length > r->slot_size) {
        return RV_OTA_TOO_LARGE;
    }
    return RV_OTA_ADMIT;
}

uint64_t rv_ota_drain_bytes(bool chunked, bool has_length, uint64_t remaining,
                            bool *close_after)
{
    if (chunked || !has_length || remaining > RV_OTA_DRAIN_MAX) {
        *close_after = true;
        return 0;
    }
    *close_after = false;
    return remaining;
}
