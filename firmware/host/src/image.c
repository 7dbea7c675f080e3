/*
 * App image checks as bootloader_support/src/esp_image_format.c does them: magic 0xE9, chip id
 * (ESP32-S3 = 9) and revision range (bootloader_common_check_chip_validity), at most 16
 * segments inside the partition, the XOR checksum (seed 0xEF) in the last byte of the 16-byte
 * padding, and the appended SHA-256 over everything before it when hash_appended is set.
 * esp_app_get_description() is the descriptor of the image in the running slot.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "port.h"

static const char *TAG = "esp_image";

#define CHECKSUM_SEED 0xEF

#define FAIL(silent, ...) do {                       \
        if (!(silent)) ESP_LOGE(TAG, __VA_ARGS__);       \
        return ESP_ERR_IMAGE_INVALID;                    \
    } while (0)

/* Walks the image; with `verify` also checks checksum and hash. */
static esp_err_t process(const esp_partition_pos_t *part, esp_image_metadata_t *md, bool verify,
                         bool silent)
{
    memset(md, 0, sizeof(*md));
    md->start_addr = part->offset;
    if (flash_read(part->offset, &md->image, sizeof(md->image)) != ESP_OK) {
        return ESP_ERR_IMAGE_FLASH_FAIL;
    }
    const esp_image_header_t *h = &md->image;
    if (h->magic != ESP_IMAGE_HEADER_MAGIC) {
        FAIL(silent, "image at 0x%" PRIx32 " has invalid magic byte (nothing flashed here?)",
                    part->offset);
    }
    if (h->chip_id != ESP_CHIP_ID_ESP32S3) {
        FAIL(silent, "mismatch chip ID, expected %" PRIu32 ", found %" PRIu32,
                    ESP_CHIP_ID_ESP32S3, h->chip_id);
    }
    uint32_t rev = (uint32_t)g_port.chip_revision;
    if (rev < h->min_chip_rev_full) {
        FAIL(silent, "Image requires chip rev >= v%" PRIu32 ".%02" PRIu32 ", but chip is v%" PRIu32 ".%" PRIu32,
                    h->min_chip_rev_full / 100u, h->min_chip_rev_full % 100u, rev / 100u, rev % 100u);
    }
    if (h->max_chip_rev_full != 0xFFFF && rev > h->max_chip_rev_full) {
        FAIL(silent, "Image requires chip rev <= v%" PRIu32 ".%02" PRIu32 ", but chip is v%" PRIu32 ".%" PRIu32,
                    h->max_chip_rev_full / 100u, h->max_chip_rev_full % 100u, rev / 100u, rev % 100u);
    }
    if (h->segment_count > ESP_IMAGE_MAX_SEGMENTS) {
        FAIL(silent, "image at 0x%" PRIx32 " segment count %" PRIu32 " exceeds max 16",
                    part->offset, h->segment_count);
    }
    sha256_ctx_t sha;
    sha256_init(&sha);
    sha256_update(&sha, h, sizeof(*h));
    uint8_t checksum = CHECKSUM_SEED;
    uint32_t pos = sizeof(*h);
    uint8_t buf[4096];
    for (int i = 0; i < h->segment_count; i++) {
        esp_image_segment_header_t *s = &md->segments[i];
        if (pos + sizeof(*s) > part->size ||
            flash_read(part->offset + pos, s, sizeof(*s)) != ESP_OK) {
            FAIL(silent, "image at 0x%" PRIx32 " segment %" PRIu32 " header outside the partition",
                        part->offset, (uint32_t)i);
        }
        sha256_update(&sha, s, sizeof(*s));
        pos += sizeof(*s);
        if (s->data_len > part->size || pos + s->data_len > part->size) {
            FAIL(silent, "Segment %" PRIu32 " end address 0x%08" PRIx32 " too high",
                        (uint32_t)i, part->offset + pos + s->data_len);
        }
        md->segment_data[i] = part->offset + pos;
        for (uint32_t off = 0; verify && off < s->data_len; off += sizeof(buf)) {
            uint32_t n = s->data_len - off < sizeof(buf) ? s->data_len - off : sizeof(buf);
            if (flash_read(part->offset + pos + off, buf, n) != ESP_OK) return ESP_ERR_IMAGE_FLASH_FAIL;
            for (uint32_t k = 0; k < n; k++) checksum ^= buf[k];
            sha256_update(&sha, buf, n);
        }
        pos += s->data_len;
    }
    /* Pad so that the checksum byte ends a 16-byte block. */
    uint32_t padded = (pos + 1 + 15) & ~15u;
    if (padded > part->size) {
        FAIL(silent, "image at 0x%" PRIx32 " is truncated (%" PRIu32 " bytes)", part->offset, pos);
    }
    if (verify) {
        uint32_t tail = padded - pos;
        if (flash_read(part->offset + pos, buf, tail) != ESP_OK) return ESP_ERR_IMAGE_FLASH_FAIL;
        sha256_update(&sha, buf, tail);
        if (buf[tail - 1] != checksum) {
            FAIL(silent, "Checksum failed. Calculated 0x%" PRIx32 " read 0x%" PRIx32,
                        checksum, buf[tail - 1]);
        }
    }
    md->image_len = padded;
    if (h->hash_appended) {
        if (md->image_len + 32 > part->size) {
            FAIL(silent, "image at 0x%" PRIx32 ": no room for the appended hash",
                        part->offset);
        }
        if (flash_read(part->offset + md->image_len, md->image_digest, 32) != ESP_OK) {
            return ESP_ERR_IMAGE_FLASH_FAIL;
        }
        if (verify) {
            uint8_t got[32];
            sha256_final(&sha, got);
            if (memcmp(got, md->image_digest, 32) != 0) {
                FAIL(silent, "Image hash failed - image is corrupt");
            }
        }
        md->image_len += 32;
    }
    return ESP_OK;
}

esp_err_t esp_image_verify(esp_image_load_mode_t mode, const esp_partition_pos_t *part,
                           esp_image_metadata_t *data)
{
    if (part == NULL || data == NULL) return ESP_ERR_INVALID_ARG;
    return process(part, data, mode != ESP_IMAGE_LOAD_NO_VALIDATE, mode == ESP_IMAGE_VERIFY_SILENT);
}

esp_err_t esp_image_get_metadata(const esp_partition_pos_t *part, esp_image_metadata_t *md)
{
    if (part == NULL || md == NULL) return ESP_ERR_INVALID_ARG;
    return process(part, md, false, true);
}

int esp_image_get_flash_size(uint8_t app_flash_size)
{
    return app_flash_size <= 6 ? (1 << app_flash_size) * 1024 * 1024 : -1;
}

/* bootloader_common_get_sha256_of_partition: for apps, the image's SHA-256 (header to the
 * appended digest's start, i.e. the digest itself when one is appended). */
esp_err_t esp_partition_get_sha256(const esp_partition_t *p, uint8_t *out)
{
    if (p == NULL || out == NULL) return ESP_ERR_INVALID_ARG;
    sha256_ctx_t sha;
    sha256_init(&sha);
    uint32_t len = p->size;
    if (p->type == ESP_PARTITION_TYPE_APP) {
        esp_image_metadata_t md;
        const esp_partition_pos_t pos = { p->address, p->size };
        if (esp_image_verify(ESP_IMAGE_VERIFY_SILENT, &pos, &md) != ESP_OK) return ESP_ERR_IMAGE_INVALID;
        if (md.image.hash_appended) {
            memcpy(out, md.image_digest, 32);
            return ESP_OK;
        }
        len = md.image_len;
    }
    uint8_t buf[4096];
    for (uint32_t off = 0; off < len; off += sizeof(buf)) {
        uint32_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
        if (flash_read(p->address + off, buf, n) != ESP_OK) return ESP_FAIL;
        sha256_update(&sha, buf, n);
    }
    sha256_final(&sha, out);
    return ESP_OK;
}

/* ---- esp_app_get_description ---------------------------------------------------------- */

static esp_app_desc_t s_desc;
static pthread_once_t s_desc_once = PTHREAD_ONCE_INIT;

static void load_desc(void)
{
    const esp_partition_t *run = esp_ota_get_running_partition();
    if (run == NULL || esp_ota_get_partition_description(run, &s_desc) != ESP_OK) {
        /* On the chip the descriptor is linked into the app; an image without one cannot run.
         * Keep the fields empty rather than invent a version. */
        memset(&s_desc, 0, sizeof(s_desc));
    }
    s_desc.version[31] = s_desc.project_name[31] = s_desc.idf_ver[31] = '\0';
    s_desc.date[15] = s_desc.time[15] = '\0';
}

const esp_app_desc_t *esp_app_get_description(void)
{
    pthread_once(&s_desc_once, load_desc);
    return &s_desc;
}

const esp_app_desc_t *esp_ota_get_app_description(void) { return esp_app_get_description(); }

int esp_app_get_elf_sha256(char *dst, size_t size)
{
    const esp_app_desc_t *d = esp_app_get_description();
    size_t n = 0;
    for (size_t i = 0; i < 32 && n + 3 <= size; i++) {
        n += (size_t)snprintf(dst + n, size - n, "%02x", d->app_elf_sha256[i]);
    }
    return (int)n;
}
