/* esp_partition over the partition table at 0x8000 of the flash file (32-byte entries, magic
 * 0x50AA, optional MD5 entry 0xEBEB, end at 0xFFFF: esp_flash_partitions.h). */
#include <stdlib.h>
#include <string.h>

#include "esp_flash_partitions.h"
#include "esp_log.h"
#include "esp_partition.h"
#include "port.h"

#define MAX_PARTS 32

static esp_partition_t s_parts[MAX_PARTS];
static int s_nparts;

struct esp_partition_iterator_opaque_ {
    esp_partition_type_t type;
    esp_partition_subtype_t subtype;
    const char *label;
    int index;
};

void partition_table_load(void)
{
    uint8_t raw[ESP_PARTITION_TABLE_MAX_LEN];
    if (flash_read(ESP_PARTITION_TABLE_OFFSET, raw, sizeof(raw)) != ESP_OK) return;
    for (size_t off = 0; off + 32 <= sizeof(raw) && s_nparts < MAX_PARTS; off += 32) {
        esp_partition_info_t e;
        memcpy(&e, raw + off, sizeof(e));
        if (e.magic != ESP_PARTITION_MAGIC) break;   /* MD5 entry or end of table */
        esp_partition_t *p = &s_parts[s_nparts++];
        p->type = (esp_partition_type_t)e.type;
        p->subtype = (esp_partition_subtype_t)e.subtype;
        p->address = e.pos.offset;
        p->size = e.pos.size;
        p->erase_size = 4096;
        memcpy(p->label, e.label, 16);
        p->label[16] = '\0';
        p->encrypted = (e.flags & 1u) != 0;
        p->readonly = (e.flags & 2u) != 0;
    }
    if (s_nparts == 0) {
        ESP_LOGE("cpu_start", "Failed to verify partition table");
    }
}

static bool matches(const esp_partition_t *p, esp_partition_type_t type,
                    esp_partition_subtype_t subtype, const char *label)
{
    return (type == ESP_PARTITION_TYPE_ANY || p->type == type) &&
           (subtype == ESP_PARTITION_SUBTYPE_ANY || p->subtype == subtype) &&
           (label == NULL || strncmp(p->label, label, 16) == 0);
}

static int find_from(int start, esp_partition_type_t type, esp_partition_subtype_t subtype,
                     const char *label)
{
    for (int i = start; i < s_nparts; i++) {
        if (matches(&s_parts[i], type, subtype, label)) return i;
    }
    return -1;
}

esp_partition_iterator_t esp_partition_find(esp_partition_type_t type,
                                            esp_partition_subtype_t subtype, const char *label)
{
    int i = find_from(0, type, subtype, label);
    if (i < 0) return NULL;
    struct esp_partition_iterator_opaque_ *it = malloc(sizeof(*it));
    if (it == NULL) return NULL;
    *it = (struct esp_partition_iterator_opaque_){ type, subtype, label, i };
    return it;
}

const esp_partition_t *esp_partition_find_first(esp_partition_type_t type,
                                                esp_partition_subtype_t subtype,
                                                const char *label)
{
    int i = find_from(0, type, subtype, label);
    return i < 0 ? NULL : &s_parts[i];
}

const esp_partition_t *esp_partition_get(esp_partition_iterator_t it)
{
    return it != NULL ? &s_parts[it->index] : NULL;
}

esp_partition_iterator_t esp_partition_next(esp_partition_iterator_t it)
{
    if (it == NULL) return NULL;
    int i = find_from(it->index + 1, it->type, it->subtype, it->label);
    if (i < 0) {
        free(it);
        return NULL;
    }
    it->index = i;
    return it;
}

void esp_partition_iterator_release(esp_partition_iterator_t it) { free(it); }

const esp_partition_t *esp_partition_verify(const esp_partition_t *p)
{
    if (p == NULL) return NULL;
    for (int i = 0; i < s_nparts; i++) {
        if (s_parts[i].address == p->address && s_parts[i].size == p->size &&
            s_parts[i].type == p->type && strncmp(s_parts[i].label, p->label, 16) == 0) {
            return &s_parts[i];
        }
    }
    return NULL;
}

static bool in_part(const esp_partition_t *p, size_t off, size_t size)
{
    return p != NULL && off <= p->size && size <= p->size - off;
}

esp_err_t esp_partition_read(const esp_partition_t *p, size_t off, void *dst, size_t size)
{
    if (p == NULL || dst == NULL) return ESP_ERR_INVALID_ARG;
    if (!in_part(p, off, size)) return ESP_ERR_INVALID_SIZE;
    return flash_read(p->address + (uint32_t)off, dst, size);
}

esp_err_t esp_partition_write(const esp_partition_t *p, size_t off, const void *src, size_t size)
{
    if (p == NULL || src == NULL) return ESP_ERR_INVALID_ARG;
    if (p->readonly) return ESP_ERR_NOT_ALLOWED;
    if (!in_part(p, off, size)) return ESP_ERR_INVALID_SIZE;
    return flash_write(p->address + (uint32_t)off, src, size);
}

esp_err_t esp_partition_read_raw(const esp_partition_t *p, size_t off, void *dst, size_t size)
{
    return esp_partition_read(p, off, dst, size);
}

esp_err_t esp_partition_write_raw(const esp_partition_t *p, size_t off, const void *src,
                                  size_t size)
{
    return esp_partition_write(p, off, src, size);
}

esp_err_t esp_partition_erase_range(const esp_partition_t *p, size_t off, size_t size)
{
    if (p == NULL) return ESP_ERR_INVALID_ARG;
    if (p->readonly) return ESP_ERR_NOT_ALLOWED;
    if (!in_part(p, off, size)) return ESP_ERR_INVALID_SIZE;
    if (off % p->erase_size != 0 || size % p->erase_size != 0) return ESP_ERR_INVALID_SIZE;
    return flash_erase(p->address + (uint32_t)off, size);
}

bool esp_partition_check_identity(const esp_partition_t *a, const esp_partition_t *b)
{
    return a != NULL && b != NULL && a->address == b->address && a->size == b->size;
}
