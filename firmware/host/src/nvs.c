/*
 * NVS on the nvs partition of the flash file, in ESP-IDF's on-flash format (nvs_flash/src:
 * nvs_page.cpp, nvs_pagemanager.cpp, nvs_item.hpp, nvs_storage.cpp), as written by
 * esp-idf-nvs-partition-gen and by the chip:
 *   page (4 KB) = header 32 B {u32 state, u32 seq, u8 version (0xFE), 19 B 0xFF, u32 crc32 of
 *   bytes 4..27} + entry-state bitmap 32 B (2 bits per entry: 11 empty, 10 written, 00 erased)
 *   + 126 entries of 32 B {u8 ns, u8 type, u8 span, u8 chunk, u32 crc32, char key[16], u8 data[8]}.
 * Item CRC = crc32 of bytes 0..3, then key, then data. Strings and blob chunks carry
 * {u16 size, u16 0xFFFF, u32 crc32 of the payload} and span the following entries. Namespaces
 * are U8 items in namespace 0 whose value is the namespace index. Blobs are v2: BLOB_DATA chunks
 * (chunk index = chunkStart + n, chunkStart alternating 0 / 128) and a BLOB_IDX item.
 * Lookups go through pages in sequence order, the first match wins (load() of the real code
 * removes duplicates). Writes append to the active page; a full page is marked FULL and a new one
 * activated, reclaiming the page with most erased entries when only one free page is left.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "esp_partition.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "port.h"

#define PAGE_SIZE 4096u
#define ENTRY_COUNT 126
#define ENTRY_SIZE 32
#define BITMAP_OFF 32
#define ENTRY_OFF 64
#define NVS_VERSION 0xFE
#define CHUNK_MAX (ENTRY_SIZE * (ENTRY_COUNT - 1))   /* 4000 */
#define CHUNK_ANY 0xFF
#define VER_0 0x00
#define VER_1 0x80

enum { ST_EMPTY = 3, ST_WRITTEN = 2, ST_ERASED = 0 };
enum { PG_UNINIT = 0xFFFFFFFFu, PG_ACTIVE = 0xFFFFFFFEu, PG_FULL = 0xFFFFFFFCu,
       PG_FREEING = 0xFFFFFFF8u, PG_CORRUPT = 0xFFFFFFF0u };
enum { T_U8 = 0x01, T_I8 = 0x11, T_U16 = 0x02, T_I16 = 0x12, T_U32 = 0x04, T_I32 = 0x14,
       T_U64 = 0x08, T_I64 = 0x18, T_SZ = 0x21, T_BLOB = 0x41, T_BLOB_DATA = 0x42,
       T_BLOB_IDX = 0x48, T_ANY = 0xFF };

typedef struct __attribute__((packed)) {
    uint8_t ns, type, span, chunk;
    uint32_t crc;
    char key[16];
    uint8_t data[8];
} item_t;
_Static_assert(sizeof(item_t) == ENTRY_SIZE, "NVS entry is 32 bytes");

typedef struct {
    uint32_t state;       /* as on flash, or PG_ACTIVE for a page activated but not yet written */
    uint32_t seq;
    bool header_on_flash;
} page_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static const esp_partition_t *s_part;
static uint8_t *s_img;            /* the partition's bytes, kept in step with the flash */
static page_t *s_pages;
static int s_npages;
static int *s_order;              /* used pages, ascending seq */
static int s_nused;
static uint32_t s_next_seq;
static bool s_ready;

typedef struct { nvs_handle_t id; uint8_t ns; bool rw; } handle_t;
static handle_t s_handles[16];
static nvs_handle_t s_last_handle;


/* ---- raw page access ------------------------------------------------------------------ */

static uint8_t *page_ptr(int p) { return s_img + (size_t)p * PAGE_SIZE; }
static item_t *entry(int p, int i) { return (item_t *)(page_ptr(p) + ENTRY_OFF + i * ENTRY_SIZE); }

static int entry_state(int p, int i)
{
    return (page_ptr(p)[BITMAP_OFF + i / 4] >> ((i % 4) * 2)) & 3;
}

static esp_err_t part_write(size_t off, const void *src, size_t n)
{
    const uint8_t *s = src;
    for (size_t k = 0; k < n; k++) s_img[off + k] &= s[k];   /* NOR: bits only clear */
    return esp_partition_write(s_part, off, src, n);
}

static esp_err_t set_entry_state(int p, int i, int st)
{
    size_t off = (size_t)p * PAGE_SIZE + BITMAP_OFF + (size_t)(i / 4);
    uint8_t b = s_img[off];
    int sh = (i % 4) * 2;
    b = (uint8_t)((b & ~(3 << sh)) | (st << sh));
    return part_write(off, &b, 1);
}

static esp_err_t set_page_state(int p, uint32_t st)
{
    s_pages[p].state = st;
    if (!s_pages[p].header_on_flash) return ESP_OK;
    return part_write((size_t)p * PAGE_SIZE, &st, 4);
}

static uint32_t header_crc(const uint8_t *hdr) { return crc32_le(0xFFFFFFFFu, hdr + 4, 24); }

static esp_err_t write_header(int p)
{
    uint8_t hdr[32];
    memset(hdr, 0xFF, sizeof(hdr));
    memcpy(hdr, &s_pages[p].state, 4);
    memcpy(hdr + 4, &s_pages[p].seq, 4);
    hdr[8] = NVS_VERSION;
    uint32_t crc = header_crc(hdr);
    memcpy(hdr + 28, &crc, 4);
    s_pages[p].header_on_flash = true;
    return part_write((size_t)p * PAGE_SIZE, hdr, sizeof(hdr));
}

static uint32_t item_crc(const item_t *it)
{
    uint32_t c = crc32_le(0xFFFFFFFFu, (const uint8_t *)it, 4);
    c = crc32_le(c, (const uint8_t *)it->key, sizeof(it->key));
    return crc32_le(c, it->data, sizeof(it->data));
}

static int used_entries(int p)
{
    int n = 0;
    for (int i = 0; i < ENTRY_COUNT; i++) n += entry_state(p, i) == ST_WRITTEN;
    return n;
}

static int next_free_entry(int p)
{
    int last = -1;
    for (int i = 0; i < ENTRY_COUNT; i++) {
        if (entry_state(p, i) != ST_EMPTY) last = i;
    }
    return last + 1;
}

/* ---- load (nvs_flash_init) ------------------------------------------------------------ */

static bool all_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0xFF) return false;
    }
    return true;
}

static void order_insert(int p)
{
    int k = s_nused++;
    while (k > 0 && s_pages[s_order[k - 1]].seq > s_pages[p].seq) {
        s_order[k] = s_order[k - 1];
        k--;
    }
    s_order[k] = p;
}

static bool is_free(int p)
{
    for (int k = 0; k < s_nused; k++) {
        if (s_order[k] == p) return false;
    }
    return true;
}

static int free_count(void) { return s_npages - s_nused; }

static int first_free(void)
{
    for (int p = 0; p < s_npages; p++) {
        if (is_free(p)) return p;
    }
    return -1;
}

static void activate(void)
{
    int p = first_free();
    if (s_pages[p].state == PG_CORRUPT) {
        esp_partition_erase_range(s_part, (size_t)p * PAGE_SIZE, PAGE_SIZE);
        memset(page_ptr(p), 0xFF, PAGE_SIZE);
    }
    s_pages[p].state = PG_ACTIVE;
    s_pages[p].seq = s_next_seq++;
    s_pages[p].header_on_flash = false;   /* written with the first item (Page::initialize) */
    order_insert(p);
}

static esp_err_t recover_freeing(void);

static esp_err_t load(void)
{
    s_npages = (int)(s_part->size / PAGE_SIZE);
    free(s_img);
    free(s_pages);
    free(s_order);
    s_img = malloc(s_part->size);
    s_pages = calloc((size_t)s_npages, sizeof(*s_pages));
    s_order = calloc((size_t)s_npages, sizeof(*s_order));
    s_nused = 0;
    if (s_img == NULL || s_pages == NULL || s_order == NULL) return ESP_ERR_NO_MEM;
    esp_err_t err = esp_partition_read(s_part, 0, s_img, s_part->size);
    if (err != ESP_OK) return err;
    for (int p = 0; p < s_npages; p++) {
        const uint8_t *hdr = page_ptr(p);
        uint32_t state, seq, crc;
        memcpy(&state, hdr, 4);
        memcpy(&seq, hdr + 4, 4);
        memcpy(&crc, hdr + 28, 4);
        s_pages[p].state = state;
        s_pages[p].header_on_flash = state != PG_UNINIT;
        if (state == PG_UNINIT) {
            if (!all_ff(hdr, PAGE_SIZE)) s_pages[p].state = PG_CORRUPT;
            continue;
        }
        if (crc != header_crc(hdr)) {
            s_pages[p].state = PG_CORRUPT;
            continue;
        }
        if (hdr[8] < NVS_VERSION) return ESP_ERR_NVS_NEW_VERSION_FOUND;
        s_pages[p].seq = seq;
        if (state == PG_ACTIVE || state == PG_FULL || state == PG_FREEING) {
            order_insert(p);
        } else {
            s_pages[p].state = PG_CORRUPT;
        }
    }
    if (s_nused == 0) {
        s_next_seq = 0;
        activate();
    } else {
        s_next_seq = s_pages[s_order[s_nused - 1]].seq + 1;
    }
    err = recover_freeing();
    if (err != ESP_OK) return err;
    /* nvs_pagemanager.cpp: a writable partition needs one free page for reclaiming. */
    if (free_count() == 0) return ESP_ERR_NVS_NO_FREE_PAGES;
    return ESP_OK;
}

/* ---- lookup --------------------------------------------------------------------------- */

typedef struct { int page, index; item_t item; } found_t;

static bool key_eq(const item_t *it, const char *key)
{
    return key == NULL || strncmp(it->key, key, sizeof(it->key)) == 0;
}

/* The first written entry of page p at or after i (ENTRY_COUNT if none), and its span. */
static int next_written(int p, int i, int *span)
{
    while (i < ENTRY_COUNT && entry_state(p, i) != ST_WRITTEN) i++;
    if (i < ENTRY_COUNT) {
        const item_t *it = entry(p, i);
        *span = it->span >= 1 && i + it->span <= ENTRY_COUNT ? it->span : 1;
    }
    return i;
}

static bool find(uint8_t ns, uint8_t type, const char *key, uint8_t chunk, found_t *out)
{
    for (int k = 0; k < s_nused; k++) {
        int p = s_order[k];
        int span = 1;
        for (int i = next_written(p, 0, &span); i < ENTRY_COUNT; i = next_written(p, i, &span)) {
            const item_t *it = entry(p, i);
            if (item_crc(it) != it->crc) {
                i++;
                continue;
            }
            /* T_ANY: any key; a blob's data chunks are not keys of their own */
            bool type_ok = type == T_ANY ? it->type != T_BLOB_DATA : it->type == type;
            bool chunk_ok = chunk == CHUNK_ANY || it->chunk == chunk;
            if (it->ns == ns && type_ok && chunk_ok && key_eq(it, key)) {
                out->page = p;
                out->index = i;
                out->item = *it;
                return true;
            }
            i += span;
        }
    }
    return false;
}

/* Payload of a string / blob chunk, checked against its CRC. */
static bool read_var(const found_t *f, uint8_t *dst, size_t cap, size_t *len)
{
    uint16_t size;
    uint32_t crc;
    memcpy(&size, f->item.data, 2);
    memcpy(&crc, f->item.data + 4, 4);
    size_t room = (size_t)(f->item.span - 1) * ENTRY_SIZE;
    if (size > room || f->index + f->item.span > ENTRY_COUNT) return false;
    const uint8_t *src = (const uint8_t *)entry(f->page, f->index + 1);
    if (crc32_le(0xFFFFFFFFu, src, size) != crc) return false;
    *len = size;
    if (dst != NULL) memcpy(dst, src, size < cap ? size : cap);
    return true;
}

/* ---- write path ----------------------------------------------------------------------- */

static esp_err_t erase_at(int p, int i, int span)
{
    for (int k = 0; k < span; k++) {
        esp_err_t err = set_entry_state(p, i + k, ST_ERASED);
        if (err != ESP_OK) return err;
    }
    return ESP_OK;
}

static int active_page(void) { return s_order[s_nused - 1]; }

static esp_err_t write_entries_at(int p, int i, const item_t *first, const uint8_t *payload,
                                  size_t plen);

/* Page::copyItems: every written item of `src` (with its span) into the active page. */
static esp_err_t copy_items(int src)
{
    int dst = active_page();
    int o = next_free_entry(dst);
    int span = 1;
    for (int i = next_written(src, 0, &span); i < ENTRY_COUNT; i = next_written(src, i, &span)) {
        const item_t *it = entry(src, i);
        esp_err_t err = write_entries_at(dst, o, it, (const uint8_t *)entry(src, i + 1),
                                         (size_t)(span - 1) * ENTRY_SIZE);
        if (err != ESP_OK) return err;
        o += span;
        i += span;
    }
    return ESP_OK;
}

/* Erase a used page and return it to the free pool. */
static esp_err_t release_page(int victim)
{
    esp_err_t err = esp_partition_erase_range(s_part, (size_t)victim * PAGE_SIZE, PAGE_SIZE);
    if (err != ESP_OK) return err;
    memset(page_ptr(victim), 0xFF, PAGE_SIZE);
    s_pages[victim].state = PG_UNINIT;
    s_pages[victim].header_on_flash = false;
    for (int k = 0, w = 0; k < s_nused; k++) {
        if (s_order[k] != victim) s_order[w++] = s_order[k];
    }
    s_nused--;
    return ESP_OK;
}

/* PageManager::requestNewPage */
static esp_err_t new_page(void)
{
    if (free_count() == 0) return ESP_ERR_NVS_INVALID_STATE;
    if (free_count() >= 2) {
        activate();
        return ESP_OK;
    }
    int victim = -1, best = 0;
    for (int k = 0; k < s_nused; k++) {
        int unused = ENTRY_COUNT - used_entries(s_order[k]);
        if (unused > best) {
            best = unused;
            victim = s_order[k];
        }
    }
    if (victim < 0) return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    esp_err_t err = set_page_state(victim, PG_FREEING);
    if (err != ESP_OK) return err;
    activate();
    err = copy_items(victim);
    return err != ESP_OK ? err : release_page(victim);
}

/* PageManager::load: a page left FREEING (power lost while reclaiming it) is reclaimed again:
 * the half-filled new page is erased, a fresh one receives the items, the old page is erased. */
static esp_err_t recover_freeing(void)
{
    for (int k = 0; k < s_nused; k++) {
        int p = s_order[k];
        if (s_pages[p].state != PG_FREEING) continue;
        int last = active_page();
        if (last != p && s_pages[last].state == PG_ACTIVE) {
            esp_err_t err = release_page(last);
            if (err != ESP_OK) return err;
        }
        if (free_count() == 0) return ESP_ERR_NVS_NO_FREE_PAGES;
        activate();
        esp_err_t err = copy_items(p);
        return err != ESP_OK ? err : release_page(p);
    }
    return ESP_OK;
}

static esp_err_t write_entries_at(int p, int i, const item_t *first, const uint8_t *payload,
                                  size_t plen)
{
    esp_err_t err = ESP_OK;
    if (!s_pages[p].header_on_flash) err = write_header(p);
    if (err == ESP_OK) err = part_write((size_t)p * PAGE_SIZE + ENTRY_OFF + (size_t)i * ENTRY_SIZE, first, ENTRY_SIZE);
    if (err == ESP_OK && plen > 0) {
        err = part_write((size_t)p * PAGE_SIZE + ENTRY_OFF + (size_t)(i + 1) * ENTRY_SIZE, payload, plen);
    }
    for (int k = 0; err == ESP_OK && k < first->span; k++) err = set_entry_state(p, i + k, ST_WRITTEN);
    return err;
}

/* Append one item (and its payload) to the active page, opening a new page when needed. */
static esp_err_t append(item_t *it, const uint8_t *payload, size_t plen)
{
    int span = 1 + (int)((plen + ENTRY_SIZE - 1) / ENTRY_SIZE);
    if (span > ENTRY_COUNT) return ESP_ERR_NVS_VALUE_TOO_LONG;
    it->span = (uint8_t)span;
    it->crc = item_crc(it);
    int p = active_page();
    int at = next_free_entry(p);
    if (s_pages[p].state != PG_ACTIVE || at + span > ENTRY_COUNT) {
        if (s_pages[p].state == PG_ACTIVE) {
            if (!s_pages[p].header_on_flash) write_header(p);
            esp_err_t err = set_page_state(p, PG_FULL);
            if (err != ESP_OK) return err;
        }
        esp_err_t err = new_page();
        if (err != ESP_OK) return err;
        p = active_page();
        at = next_free_entry(p);
        if (at + span > ENTRY_COUNT) return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    }
    uint8_t buf[CHUNK_MAX];
    memset(buf, 0xFF, sizeof(buf));
    memcpy(buf, payload, plen);
    return write_entries_at(p, at, it, buf, (size_t)(span - 1) * ENTRY_SIZE);
}

static void item_init(item_t *it, uint8_t ns, uint8_t type, const char *key, uint8_t chunk)
{
    memset(it, 0xFF, sizeof(*it));
    it->ns = ns;
    it->type = type;
    it->chunk = chunk;
    memset(it->key, 0, sizeof(it->key));
    strncpy(it->key, key, sizeof(it->key) - 1);
}

static void var_header(item_t *it, const uint8_t *data, size_t len)
{
    uint16_t size = (uint16_t)len;
    uint16_t reserved = 0xFFFF;
    uint32_t crc = crc32_le(0xFFFFFFFFu, data, len);
    memcpy(it->data, &size, 2);
    memcpy(it->data + 2, &reserved, 2);
    memcpy(it->data + 4, &crc, 4);
}

/* ---- namespaces and handles ----------------------------------------------------------- */

static esp_err_t ns_index(const char *name, bool create, uint8_t *out)
{
    found_t f;
    if (find(0, T_U8, name, CHUNK_ANY, &f)) {
        *out = f.item.data[0];
        return ESP_OK;
    }
    if (!create) return ESP_ERR_NVS_NOT_FOUND;
    bool used[256] = { false };
    for (int k = 0; k < s_nused; k++) {
        for (int i = 0; i < ENTRY_COUNT; i++) {
            const item_t *it = entry(s_order[k], i);
            if (entry_state(s_order[k], i) == ST_WRITTEN && it->ns == 0 && it->type == T_U8) {
                used[it->data[0]] = true;
            }
        }
    }
    int idx = 1;
    while (idx < 255 && used[idx]) idx++;
    if (idx == 255) return ESP_ERR_NVS_NOT_ENOUGH_SPACE;
    item_t it;
    item_init(&it, 0, T_U8, name, CHUNK_ANY);
    it.data[0] = (uint8_t)idx;
    esp_err_t err = append(&it, NULL, 0);
    if (err == ESP_OK) *out = (uint8_t)idx;
    return err;
}

static handle_t *get_handle(nvs_handle_t h)
{
    for (size_t i = 0; i < sizeof(s_handles) / sizeof(s_handles[0]); i++) {
        if (s_handles[i].id != 0 && s_handles[i].id == h) return &s_handles[i];
    }
    return NULL;
}

/* Every API call: lock, resolve the handle (nvs_api.cpp: closed or unknown handles give
 * ESP_ERR_NVS_INVALID_HANDLE), check the key (at most 15 characters). */
static esp_err_t enter(nvs_handle_t h, const char *key, bool write, handle_t **out)
{
    pthread_mutex_lock(&s_lock);
    if (!s_ready) return ESP_ERR_NVS_NOT_INITIALIZED;
    handle_t *hd = get_handle(h);
    if (hd == NULL) return ESP_ERR_NVS_INVALID_HANDLE;
    if (write && !hd->rw) return ESP_ERR_NVS_READ_ONLY;
    if (key != NULL && strlen(key) > NVS_KEY_NAME_MAX_SIZE - 1) return ESP_ERR_NVS_KEY_TOO_LONG;
    *out = hd;
    return ESP_OK;
}

#define LEAVE(err) do { esp_err_t e_ = (err); pthread_mutex_unlock(&s_lock); return e_; } while (0)

/* ---- public API ----------------------------------------------------------------------- */

esp_err_t nvs_flash_init_partition(const char *label)
{
    pthread_mutex_lock(&s_lock);
    if (s_ready) LEAVE(ESP_OK);
    s_part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_NVS, label);
    if (s_part == NULL) LEAVE(ESP_ERR_NOT_FOUND);
    if (s_part->size < 3 * PAGE_SIZE) LEAVE(ESP_ERR_INVALID_SIZE);   /* NVS needs >= 3 pages */
    esp_err_t err = load();
    s_ready = err == ESP_OK;
    LEAVE(err);
}

esp_err_t nvs_flash_init(void) { return nvs_flash_init_partition(NVS_DEFAULT_PART_NAME); }

esp_err_t nvs_flash_deinit(void)
{
    pthread_mutex_lock(&s_lock);
    if (!s_ready) LEAVE(ESP_ERR_NVS_NOT_INITIALIZED);
    s_ready = false;
    memset(s_handles, 0, sizeof(s_handles));
    LEAVE(ESP_OK);
}

esp_err_t nvs_flash_erase_partition(const char *label)
{
    pthread_mutex_lock(&s_lock);
    const esp_partition_t *p = esp_partition_find_first(ESP_PARTITION_TYPE_DATA,
                                                        ESP_PARTITION_SUBTYPE_DATA_NVS, label);
    if (p == NULL) LEAVE(ESP_ERR_NOT_FOUND);
    s_ready = false;
    LEAVE(esp_partition_erase_range(p, 0, p->size));
}

esp_err_t nvs_flash_erase(void) { return nvs_flash_erase_partition(NVS_DEFAULT_PART_NAME); }

esp_err_t nvs_open_from_partition(const char *part_name, const char *name, nvs_open_mode_t mode,
                                  nvs_handle_t *out)
{
    pthread_mutex_lock(&s_lock);
    if (!s_ready) LEAVE(ESP_ERR_NVS_NOT_INITIALIZED);
    if (part_name != NULL && strcmp(part_name, s_part->label) != 0) LEAVE(ESP_ERR_NVS_PART_NOT_FOUND);
    if (name == NULL || strlen(name) > NVS_NS_NAME_MAX_SIZE - 1) LEAVE(ESP_ERR_NVS_INVALID_NAME);
    uint8_t ns;
    esp_err_t err = ns_index(name, mode == NVS_READWRITE, &ns);
    if (err != ESP_OK) LEAVE(err);
    for (size_t i = 0; i < sizeof(s_handles) / sizeof(s_handles[0]); i++) {
        if (s_handles[i].id == 0) {
            s_handles[i] = (handle_t){ ++s_last_handle, ns, mode == NVS_READWRITE };
            *out = s_handles[i].id;
            LEAVE(ESP_OK);
        }
    }
    LEAVE(ESP_ERR_NO_MEM);
}

esp_err_t nvs_open(const char *name, nvs_open_mode_t mode, nvs_handle_t *out)
{
    return nvs_open_from_partition(NVS_DEFAULT_PART_NAME, name, mode, out);
}

void nvs_close(nvs_handle_t h)
{
    pthread_mutex_lock(&s_lock);
    handle_t *hd = get_handle(h);
    if (hd != NULL) hd->id = 0;
    pthread_mutex_unlock(&s_lock);
}

esp_err_t nvs_commit(nvs_handle_t h)
{
    handle_t *hd;
    LEAVE(enter(h, NULL, false, &hd));   /* writes are on flash already */
}

/* Erase an item and, for a blob index, its chunks. */
static esp_err_t erase_found(const found_t *f)
{
    esp_err_t err = erase_at(f->page, f->index, f->item.span);
    if (err == ESP_OK && f->item.type == T_BLOB_IDX) {
        uint8_t count = f->item.data[4], start = f->item.data[5];
        for (int c = 0; c < count && err == ESP_OK; c++) {
            found_t d;
            if (find(f->item.ns, T_BLOB_DATA, f->item.key, (uint8_t)(start + c), &d)) {
                err = erase_at(d.page, d.index, d.item.span);
            }
        }
    }
    return err;
}

esp_err_t nvs_erase_key(nvs_handle_t h, const char *key)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, true, &hd);
    if (err != ESP_OK) LEAVE(err);
    found_t f;
    bool any = false;
    while (find(hd->ns, T_ANY, key, CHUNK_ANY, &f)) {
        err = erase_found(&f);
        if (err != ESP_OK) LEAVE(err);
        any = true;
    }
    LEAVE(any ? ESP_OK : ESP_ERR_NVS_NOT_FOUND);
}

esp_err_t nvs_erase_all(nvs_handle_t h)
{
    handle_t *hd;
    esp_err_t err = enter(h, NULL, true, &hd);
    if (err != ESP_OK) LEAVE(err);
    found_t f;
    while (err == ESP_OK && find(hd->ns, T_ANY, NULL, CHUNK_ANY, &f)) {
        err = erase_found(&f);
    }
    LEAVE(err);
}

static nvs_type_t api_type(uint8_t t)
{
    return t == T_BLOB_IDX || t == T_BLOB ? NVS_TYPE_BLOB : (nvs_type_t)t;
}

esp_err_t nvs_find_key(nvs_handle_t h, const char *key, nvs_type_t *out_type)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, false, &hd);
    if (err != ESP_OK) LEAVE(err);
    found_t f;
    if (!find(hd->ns, T_ANY, key, CHUNK_ANY, &f)) LEAVE(ESP_ERR_NVS_NOT_FOUND);
    if (out_type != NULL) *out_type = api_type(f.item.type);
    LEAVE(ESP_OK);
}

/* ---- integers ------------------------------------------------------------------------- */

static esp_err_t set_int(nvs_handle_t h, const char *key, uint8_t type, uint64_t v, size_t width)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, true, &hd);
    if (err != ESP_OK) LEAVE(err);
    item_t it;
    item_init(&it, hd->ns, type, key, CHUNK_ANY);
    memcpy(it.data, &v, width);   /* little-endian host, as the chip */
    found_t old;
    if (find(hd->ns, type, key, CHUNK_ANY, &old)) {
        if (memcmp(old.item.data, it.data, sizeof(it.data)) == 0) LEAVE(ESP_OK);
        /* erase-then-write: see nvs_set_str */
        err = erase_at(old.page, old.index, old.item.span);
        if (err != ESP_OK) LEAVE(err);
    }
    LEAVE(append(&it, NULL, 0));
}

static esp_err_t get_int(nvs_handle_t h, const char *key, uint8_t type, void *out, size_t width)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, false, &hd);
    if (err != ESP_OK) LEAVE(err);
    found_t f;
    if (!find(hd->ns, type, key, CHUNK_ANY, &f)) LEAVE(ESP_ERR_NVS_NOT_FOUND);
    if (out == NULL) LEAVE(ESP_ERR_INVALID_ARG);
    memcpy(out, f.item.data, width);
    LEAVE(ESP_OK);
}

#define INT_API(sfx, ctype, tcode)                                                            \
    esp_err_t nvs_set_##sfx(nvs_handle_t h, const char *key, ctype v)                          \
    {                                                                                         \
        uint64_t u = 0;                                                                       \
        memcpy(&u, &v, sizeof(v));                                                            \
        return set_int(h, key, tcode, u, sizeof(v));                                          \
    }                                                                                         \
    esp_err_t nvs_get_##sfx(nvs_handle_t h, const char *key, ctype *out)                       \
    {                                                                                         \
        return get_int(h, key, tcode, out, sizeof(*out));                                     \
    }
INT_API(u8, uint8_t, T_U8)
INT_API(i8, int8_t, T_I8)
INT_API(u16, uint16_t, T_U16)
INT_API(i16, int16_t, T_I16)
INT_API(u32, uint32_t, T_U32)
INT_API(i32, int32_t, T_I32)
INT_API(u64, uint64_t, T_U64)
INT_API(i64, int64_t, T_I64)

/* ---- strings -------------------------------------------------------------------------- */

esp_err_t nvs_set_str(nvs_handle_t h, const char *key, const char *value)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, true, &hd);
    if (err != ESP_OK) LEAVE(err);
    if (value == NULL) LEAVE(ESP_ERR_INVALID_ARG);
    size_t len = strlen(value) + 1;
    if (len > CHUNK_MAX) LEAVE(ESP_ERR_NVS_VALUE_TOO_LONG);
    found_t old;
    bool had = find(hd->ns, T_SZ, key, CHUNK_ANY, &old);
    if (had) {
        uint8_t cur[CHUNK_MAX];
        size_t cur_len = 0;
        if (read_var(&old, cur, sizeof(cur), &cur_len) && cur_len == len &&
            memcmp(cur, value, len) == 0) {
            LEAVE(ESP_OK);
        }
        /* Erase first, then write: a crash in between loses the key instead of keeping a
         * duplicate; the real code writes first (nvs_storage.cpp) and repairs at load. */
        err = erase_at(old.page, old.index, old.item.span);
        if (err != ESP_OK) LEAVE(err);
    }
    item_t it;
    item_init(&it, hd->ns, T_SZ, key, CHUNK_ANY);
    var_header(&it, (const uint8_t *)value, len);
    LEAVE(append(&it, (const uint8_t *)value, len));
}

esp_err_t nvs_get_str(nvs_handle_t h, const char *key, char *out, size_t *length)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, false, &hd);
    if (err != ESP_OK) LEAVE(err);
    if (length == NULL) LEAVE(ESP_ERR_INVALID_ARG);
    found_t f;
    size_t len = 0;
    if (!find(hd->ns, T_SZ, key, CHUNK_ANY, &f) || !read_var(&f, NULL, 0, &len)) {
        LEAVE(ESP_ERR_NVS_NOT_FOUND);
    }
    if (out == NULL) {
        *length = len;
        LEAVE(ESP_OK);
    }
    if (*length < len) {
        *length = len;
        LEAVE(ESP_ERR_NVS_INVALID_LENGTH);
    }
    read_var(&f, (uint8_t *)out, *length, &len);
    *length = len;
    LEAVE(ESP_OK);
}

/* ---- blobs ---------------------------------------------------------------------------- */

static bool blob_size(uint8_t ns, const char *key, found_t *idx, size_t *size)
{
    if (find(ns, T_BLOB_IDX, key, CHUNK_ANY, idx)) {
        uint32_t s;
        memcpy(&s, idx->item.data, 4);
        *size = s;
        return true;
    }
    if (find(ns, T_BLOB, key, CHUNK_ANY, idx)) {   /* version 1 single-page blob */
        return read_var(idx, NULL, 0, size);
    }
    return false;
}

static bool blob_read(uint8_t ns, const found_t *idx, uint8_t *out, size_t size)
{
    if (idx->item.type == T_BLOB) {
        size_t n;
        return read_var(idx, out, size, &n) && n == size;
    }
    uint8_t count = idx->item.data[4], start = idx->item.data[5];
    size_t off = 0;
    for (int c = 0; c < count; c++) {
        found_t d;
        uint8_t chunk[CHUNK_MAX];
        size_t n = 0;
        if (!find(ns, T_BLOB_DATA, idx->item.key, (uint8_t)(start + c), &d) ||
            !read_var(&d, chunk, sizeof(chunk), &n) || off + n > size) {
            return false;
        }
        memcpy(out + off, chunk, n);
        off += n;
    }
    return off == size;
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t length)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, true, &hd);
    if (err != ESP_OK) LEAVE(err);
    if (value == NULL && length > 0) LEAVE(ESP_ERR_INVALID_ARG);
    if (length > (size_t)(s_npages - 1) * CHUNK_MAX) LEAVE(ESP_ERR_NVS_VALUE_TOO_LONG);
    found_t old;
    size_t old_size = 0;
    bool had = blob_size(hd->ns, key, &old, &old_size);
    uint8_t start = VER_0;
    if (had && old.item.type == T_BLOB_IDX) {
        uint8_t *cur = malloc(old_size ? old_size : 1);
        bool same = cur != NULL && old_size == length && blob_read(hd->ns, &old, cur, old_size) &&
                    memcmp(cur, value, length) == 0;
        free(cur);
        if (same) LEAVE(ESP_OK);
        start = old.item.data[5] == VER_0 ? VER_1 : VER_0;
    }
    const uint8_t *src = value;
    size_t off = 0;
    uint8_t count = 0;
    do {
        int p = active_page();
        int room = ENTRY_COUNT - next_free_entry(p) - 1;
        if (s_pages[p].state != PG_ACTIVE || room < 1) room = ENTRY_COUNT - 1;
        size_t n = length - off < (size_t)room * ENTRY_SIZE ? length - off : (size_t)room * ENTRY_SIZE;
        item_t it;
        item_init(&it, hd->ns, T_BLOB_DATA, key, (uint8_t)(start + count));
        var_header(&it, src + off, n);
        err = append(&it, src + off, n);
        if (err != ESP_OK) LEAVE(err);
        off += n;
        count++;
    } while (off < length);
    if (had) {
        /* old version: its index and chunks (chunk numbers differ from the new ones) */
        found_t o;
        if (blob_size(hd->ns, key, &o, &old_size)) {
            err = erase_found(&o);
            if (err != ESP_OK) LEAVE(err);
        }
    }
    item_t idx;
    item_init(&idx, hd->ns, T_BLOB_IDX, key, CHUNK_ANY);
    uint32_t size32 = (uint32_t)length;
    memcpy(idx.data, &size32, 4);
    idx.data[4] = count;
    idx.data[5] = start;
    LEAVE(append(&idx, NULL, 0));
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *length)
{
    handle_t *hd;
    esp_err_t err = enter(h, key, false, &hd);
    if (err != ESP_OK) LEAVE(err);
    if (length == NULL) LEAVE(ESP_ERR_INVALID_ARG);
    found_t idx;
    size_t size = 0;
    if (!blob_size(hd->ns, key, &idx, &size)) LEAVE(ESP_ERR_NVS_NOT_FOUND);
    if (out == NULL) {
        *length = size;
        LEAVE(ESP_OK);
    }
    if (*length < size) {
        *length = size;
        LEAVE(ESP_ERR_NVS_INVALID_LENGTH);
    }
    if (!blob_read(hd->ns, &idx, out, size)) LEAVE(ESP_ERR_NVS_NOT_FOUND);
    *length = size;
    LEAVE(ESP_OK);
}
