/*
 * app_update (esp_ota_ops.c) on the flash file: otadata is two 4 KB sectors, each starting with
 * esp_ota_select_entry_t {ota_seq, seq_label[20], ota_state, crc = crc32_le(UINT32_MAX, ota_seq)}
 * (bootloader_common_ota_select_crc); the valid entry (seq != UINT32_MAX, crc ok, state neither
 * INVALID nor ABORTED) with the highest seq selects slot (seq - 1) % app_count.
 * The running partition is the one the emulator's bootloader started (--slot).
 * Built as CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE=y (firmware/sdkconfig.defaults).
 */
#include <stdlib.h>
#include <string.h>

#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_system.h"
#include "port.h"
#include "sdkconfig.h"

static const char *TAG = "esp_ota_ops";

typedef struct ota_op {
    struct ota_op *next;
    esp_ota_handle_t handle;
    const esp_partition_t *part;
    size_t wrote;
} ota_op_t;

static ota_op_t *s_ops;
static esp_ota_handle_t s_last_handle;

static bool is_ota(const esp_partition_t *p)
{
    return p != NULL && p->type == ESP_PARTITION_TYPE_APP &&
           p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_0 && p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MAX;
}

static uint32_t seq_crc(const esp_ota_select_entry_t *e)
{
    return crc32_le(UINT32_MAX, (const uint8_t *)&e->ota_seq, sizeof(e->ota_seq));
}

static bool entry_valid(const esp_ota_select_entry_t *e)
{
    return e->ota_seq != UINT32_MAX && e->ota_state != ESP_OTA_IMG_INVALID &&
           e->ota_state != ESP_OTA_IMG_ABORTED && e->crc == seq_crc(e);
}

/* bootloader_common_select_otadata */
static int select_entry(const esp_ota_select_entry_t two[2], const bool ok[2], bool max)
{
    if (ok[0] && ok[1]) {
        uint32_t want = max ? (two[0].ota_seq > two[1].ota_seq ? two[0].ota_seq : two[1].ota_seq)
                            : (two[0].ota_seq < two[1].ota_seq ? two[0].ota_seq : two[1].ota_seq);
        return want == two[0].ota_seq ? 0 : 1;
    }
    return ok[0] ? 0 : ok[1] ? 1 : -1;
}

static int active_entry(const esp_ota_select_entry_t two[2])
{
    bool ok[2] = { entry_valid(&two[0]), entry_valid(&two[1]) };
    return select_entry(two, ok, true);
}

static const esp_partition_t *read_otadata(esp_ota_select_entry_t two[2])
{
    const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_DATA,
                                                        ESP_PARTITION_SUBTYPE_DATA_OTA, NULL);
    if (p == NULL) {
        ESP_LOGE(TAG, "not found otadata");
        return NULL;
    }
    if (esp_partition_read(p, 0, &two[0], sizeof(two[0])) != ESP_OK ||
        esp_partition_read(p, p->erase_size, &two[1], sizeof(two[1])) != ESP_OK) {
        return NULL;
    }
    return p;
}

static esp_err_t write_entry(esp_ota_select_entry_t two[2], uint32_t seq, int sec,
                             const esp_partition_t *otadata)
{
    two[sec].ota_seq = seq;
    two[sec].crc = seq_crc(&two[sec]);
    esp_err_t err = esp_partition_erase_range(otadata, (size_t)sec * otadata->erase_size,
                                              otadata->erase_size);
    if (err != ESP_OK) return err;
    return esp_partition_write(otadata, (size_t)sec * otadata->erase_size, &two[sec],
                               sizeof(two[sec]));
}

uint8_t esp_ota_get_app_partition_count(void)
{
    uint8_t n = 0;
    while (n < 16 && esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                              ESP_PARTITION_SUBTYPE_APP_OTA_MIN + n, NULL) != NULL) {
        n++;
    }
    return n;
}

const esp_partition_t *esp_ota_get_running_partition(void)
{
    return esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_ANY, g_port.slot);
}

static const esp_partition_t *default_boot(void)
{
    const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                                        ESP_PARTITION_SUBTYPE_APP_FACTORY, NULL);
    for (int s = ESP_PARTITION_SUBTYPE_APP_OTA_MIN; p == NULL && s < ESP_PARTITION_SUBTYPE_APP_OTA_MAX; s++) {
        p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, (esp_partition_subtype_t)s, NULL);
    }
    return p;
}

const esp_partition_t *esp_ota_get_boot_partition(void)
{
    esp_ota_select_entry_t two[2];
    if (read_otadata(two) == NULL) return NULL;
    int n = esp_ota_get_app_partition_count();
    int a = active_entry(two);
    if (n == 0 || a < 0) return default_boot();
    return esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                    ESP_PARTITION_SUBTYPE_APP_OTA_MIN + (two[a].ota_seq - 1) % n, NULL);
}

const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start)
{
    start = start == NULL ? esp_ota_get_running_partition() : esp_partition_verify(start);
    if (start == NULL) __assert_func(__FILE__, __LINE__, __func__, "start_from != NULL");
    const esp_partition_t *first = NULL;
    bool next = false;
    for (int s = ESP_PARTITION_SUBTYPE_APP_OTA_0; s < ESP_PARTITION_SUBTYPE_APP_OTA_MAX; s++) {
        const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                                            (esp_partition_subtype_t)s, NULL);
        if (p == NULL) continue;
        if (first == NULL) first = p;
        if (p == start) next = true;
        else if (next) return p;
    }
    return first;
}

esp_err_t esp_ota_get_partition_description(const esp_partition_t *p, esp_app_desc_t *d)
{
    if (p == NULL || d == NULL) return ESP_ERR_INVALID_ARG;
    if (p->type != ESP_PARTITION_TYPE_APP) return ESP_ERR_NOT_SUPPORTED;
    esp_err_t err = esp_partition_read(p, sizeof(esp_image_header_t) + sizeof(esp_image_segment_header_t),
                                       d, sizeof(*d));
    if (err != ESP_OK) return err;
    return d->magic_word == ESP_APP_DESC_MAGIC_WORD ? ESP_OK : ESP_ERR_NOT_FOUND;
}

/* The bootloader at 0x0 of the flash file (CONFIG_BOOTLOADER_OFFSET_IN_FLASH on the S3), as
 * the emulator wrote it: its descriptor, or ESP_ERR_NOT_FOUND when none is there. */
esp_err_t esp_ota_get_bootloader_description(const esp_partition_t *bl, esp_bootloader_desc_t *d)
{
    if (d == NULL) return ESP_ERR_INVALID_ARG;
    uint32_t base = bl != NULL ? bl->address : 0x0;
    esp_err_t err = flash_read(base + sizeof(esp_image_header_t) + sizeof(esp_image_segment_header_t),
                               d, sizeof(*d));
    if (err != ESP_OK) return err;
    return d->magic_byte == ESP_BOOTLOADER_DESC_MAGIC_BYTE ? ESP_OK : ESP_ERR_NOT_FOUND;
}

esp_err_t esp_ota_get_state_partition(const esp_partition_t *p, esp_ota_img_states_t *st)
{
    if (p == NULL || st == NULL) return ESP_ERR_INVALID_ARG;
    if (!is_ota(p)) return ESP_ERR_NOT_SUPPORTED;
    esp_ota_select_entry_t two[2];
    int n = esp_ota_get_app_partition_count();
    if (read_otadata(two) == NULL || n == 0) return ESP_ERR_NOT_FOUND;
    for (int i = 0; i < 2; i++) {
        if ((int)((two[i].ota_seq - 1) % (uint32_t)n) == p->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN &&
            two[i].crc == seq_crc(&two[i])) {
            *st = (esp_ota_img_states_t)two[i].ota_state;
            return ESP_OK;
        }
    }
    return ESP_ERR_NOT_FOUND;
}

/* esp_ota_invalidate_inactive_ota_data_slot: erase the otadata sector of the other slot. */
esp_err_t esp_ota_invalidate_inactive_ota_data_slot(void)
{
    esp_ota_select_entry_t two[2];
    const esp_partition_t *od = read_otadata(two);
    int n = esp_ota_get_app_partition_count();
    int a = od != NULL ? active_entry(two) : -1;
    if (a < 0 || n == 0) return ESP_FAIL;
    int ia = a ^ 1;
    if (two[ia].ota_seq == UINT32_MAX || two[ia].crc != seq_crc(&two[ia])) return ESP_FAIL;
    const esp_partition_t *last = esp_partition_find_first(
        ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_OTA_MIN + (two[ia].ota_seq - 1) % n, NULL);
    if (last == NULL || last == esp_ota_get_running_partition()) return ESP_FAIL;
    return esp_partition_erase_range(od, (size_t)ia * od->erase_size, od->erase_size);
}

esp_err_t esp_ota_begin(const esp_partition_t *p, size_t image_size, esp_ota_handle_t *out)
{
    if (p == NULL || out == NULL) return ESP_ERR_INVALID_ARG;
    p = esp_partition_verify(p);
    if (p == NULL) return ESP_ERR_NOT_FOUND;
    if (!is_ota(p)) return ESP_ERR_INVALID_ARG;
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (p == running) return ESP_ERR_OTA_PARTITION_CONFLICT;
#ifdef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    /* esp_ota_ops.c, esp_ota_begin: no update while the running app is unconfirmed. */
    esp_ota_img_states_t st;
    if (esp_ota_get_state_partition(running, &st) == ESP_OK && st == ESP_OTA_IMG_PENDING_VERIFY) {
        ESP_LOGE(TAG, "Running app has not confirmed state (ESP_OTA_IMG_PENDING_VERIFY)");
        return ESP_ERR_OTA_ROLLBACK_INVALID_STATE;
    }
#endif
    if (image_size != OTA_WITH_SEQUENTIAL_WRITES) {
        size_t erase = (image_size == 0 || image_size == OTA_SIZE_UNKNOWN)
                           ? p->size : (image_size + p->erase_size - 1) / p->erase_size * p->erase_size;
        esp_err_t err = esp_partition_erase_range(p, 0, erase);
        if (err != ESP_OK) return err;
    }
    ota_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL) return ESP_ERR_NO_MEM;
    op->handle = ++s_last_handle;
    op->part = p;
    op->next = s_ops;
    s_ops = op;
    *out = op->handle;
#ifdef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    esp_ota_invalidate_inactive_ota_data_slot();
#endif
    return ESP_OK;
}

static ota_op_t **find_op(esp_ota_handle_t h)
{
    ota_op_t **pp = &s_ops;
    while (*pp != NULL && (*pp)->handle != h) pp = &(*pp)->next;
    return pp;
}

esp_err_t esp_ota_write(esp_ota_handle_t h, const void *data, size_t size)
{
    if (data == NULL) return ESP_ERR_INVALID_ARG;
    if (size == 0) return ESP_OK;
    ota_op_t *op = *find_op(h);
    if (op == NULL) {
        ESP_LOGE(TAG, "not found the handle");
        return ESP_ERR_INVALID_ARG;
    }
    if (op->wrote == 0 && ((const uint8_t *)data)[0] != ESP_IMAGE_HEADER_MAGIC) {
        ESP_LOGE(TAG, "OTA image has invalid magic byte (expected 0xE9, saw 0x%02x)",
                 ((const uint8_t *)data)[0]);
        return ESP_ERR_OTA_VALIDATE_FAILED;
    }
    esp_err_t err = esp_partition_write(op->part, op->wrote, data, size);
    if (err == ESP_OK) op->wrote += size;
    return err;
}

esp_err_t esp_ota_write_with_offset(esp_ota_handle_t h, const void *data, size_t size,
                                    uint32_t offset)
{
    ota_op_t *op = *find_op(h);
    if (op == NULL || data == NULL) return ESP_ERR_INVALID_ARG;
    return esp_partition_write(op->part, offset, data, size);
}

esp_err_t esp_ota_abort(esp_ota_handle_t h)
{
    ota_op_t **pp = find_op(h);
    ota_op_t *op = *pp;
    if (op == NULL) return ESP_ERR_NOT_FOUND;
    *pp = op->next;
    free(op);
    return ESP_OK;
}

esp_err_t esp_ota_end(esp_ota_handle_t h)
{
    ota_op_t **pp = find_op(h);
    ota_op_t *op = *pp;
    if (op == NULL) return ESP_ERR_NOT_FOUND;
    esp_err_t ret = ESP_OK;
    if (op->wrote == 0) {
        ret = ESP_ERR_INVALID_ARG;
    } else {
        esp_image_metadata_t md;
        const esp_partition_pos_t pos = { op->part->address, op->part->size };
        if (esp_image_verify(ESP_IMAGE_VERIFY, &pos, &md) != ESP_OK) {
            ESP_LOGE(TAG, "New image failed verification");
            ret = ESP_ERR_OTA_VALIDATE_FAILED;
        }
    }
    *pp = op->next;
    free(op);
    return ret;
}

esp_err_t esp_ota_set_boot_partition(const esp_partition_t *p)
{
    if (p == NULL) return ESP_ERR_INVALID_ARG;
    esp_image_metadata_t md;
    const esp_partition_pos_t pos = { p->address, p->size };
    if (esp_image_verify(ESP_IMAGE_VERIFY, &pos, &md) != ESP_OK) return ESP_ERR_OTA_VALIDATE_FAILED;
    if (p->type != ESP_PARTITION_TYPE_APP) return ESP_ERR_INVALID_ARG;
    esp_ota_select_entry_t two[2];
    const esp_partition_t *od = read_otadata(two);
    if (od == NULL) return ESP_ERR_NOT_FOUND;
    if (p->subtype == ESP_PARTITION_SUBTYPE_APP_FACTORY) {
        return esp_partition_erase_range(od, 0, od->size);
    }
    uint32_t n = esp_ota_get_app_partition_count();
    uint32_t id = (uint32_t)(p->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN);
    if (id >= n) return ESP_ERR_INVALID_ARG;
    /* The new entry gets the smallest seq above the active one that selects slot `id`. */
    int a = active_entry(two);
    uint32_t seq = id + 1;
    int sec = 0;
    if (a >= 0) {
        uint32_t i = 0;
        while (two[a].ota_seq > (id + 1) % n + i * n) i++;
        seq = (id + 1) % n + i * n;
        sec = a ^ 1;
    }
#ifdef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    two[sec].ota_state = ESP_OTA_IMG_NEW;
#else
    two[sec].ota_state = ESP_OTA_IMG_UNDEFINED;
#endif
    return write_entry(two, seq, sec, od);
}

bool esp_ota_check_rollback_is_possible(void)
{
    esp_ota_select_entry_t two[2];
    int n = esp_ota_get_app_partition_count();
    if (read_otadata(two) == NULL || n == 0) return false;
    bool ok[2] = { entry_valid(&two[0]), entry_valid(&two[1]) };
    int a = select_entry(two, ok, true);
    if (a < 0) return false;
    int last = a ^ 1;
    const esp_partition_t *p = NULL;
    if (!ok[last]) {
        p = esp_partition_find_first(ESP_PARTITION_TYPE_APP, ESP_PARTITION_SUBTYPE_APP_FACTORY, NULL);
    } else {
        p = esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                     ESP_PARTITION_SUBTYPE_APP_OTA_MIN + (two[last].ota_seq - 1) % n, NULL);
    }
    if (p == NULL) return false;
    esp_image_metadata_t md;
    const esp_partition_pos_t pos = { p->address, p->size };
    return esp_image_verify(ESP_IMAGE_VERIFY_SILENT, &pos, &md) == ESP_OK;
}

static esp_err_t current_is_workable(bool valid)
{
    esp_ota_select_entry_t two[2];
    const esp_partition_t *od = read_otadata(two);
    if (od == NULL) return ESP_ERR_NOT_FOUND;
    int a = active_entry(two);
    if (a < 0 || esp_ota_get_app_partition_count() == 0) {
        ESP_LOGE(TAG, "Running firmware is factory");
        return ESP_FAIL;
    }
    if (valid) {
        if (two[a].ota_state == ESP_OTA_IMG_VALID) return ESP_OK;
        two[a].ota_state = ESP_OTA_IMG_VALID;
        return write_entry(two, two[a].ota_seq, a, od);
    }
    if (!esp_ota_check_rollback_is_possible()) {
        ESP_LOGE(TAG, "Rollback is not possible, do not have any suitable apps in slots");
        return ESP_ERR_OTA_ROLLBACK_FAILED;
    }
    two[a].ota_state = ESP_OTA_IMG_INVALID;
    esp_err_t err = write_entry(two, two[a].ota_seq, a, od);
    if (err == ESP_OK) ESP_LOGI(TAG, "Rollback to previously worked partition.");
    return err;
}

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) { return current_is_workable(true); }
esp_err_t esp_ota_mark_app_invalid_rollback(void) { return current_is_workable(false); }

esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void)
{
    esp_err_t err = esp_ota_mark_app_invalid_rollback();
    if (err == ESP_OK) esp_restart();
    return err;
}

const esp_partition_t *esp_ota_get_last_invalid_partition(void)
{
    esp_ota_select_entry_t two[2];
    int n = esp_ota_get_app_partition_count();
    if (read_otadata(two) == NULL || n == 0) return NULL;
    bool bad[2];
    for (int i = 0; i < 2; i++) {
        bad[i] = two[i].ota_seq != UINT32_MAX && two[i].crc == seq_crc(&two[i]) &&
                 (two[i].ota_state == ESP_OTA_IMG_INVALID || two[i].ota_state == ESP_OTA_IMG_ABORTED);
    }
    int k = select_entry(two, bad, false);
    if (k < 0) return NULL;
    return esp_partition_find_first(ESP_PARTITION_TYPE_APP,
                                    ESP_PARTITION_SUBTYPE_APP_OTA_MIN + (two[k].ota_seq - 1) % n, NULL);
}

esp_err_t esp_ota_erase_last_boot_app_partition(void)
{
    return esp_ota_invalidate_inactive_ota_data_slot();
}
