/* mdns_* forwarded on the board link; the emulator's zeroconf advertiser publishes it.
 * A service is re-sent whole whenever its TXT changes (contract B). */
#include <stdio.h>
#include <string.h>

#include "mdns.h"
#include "port.h"

#define MAX_SVC 4
#define MAX_TXT 12

typedef struct {
    bool used;
    char instance[64], type[32], proto[8];
    uint16_t port;
    char key[MAX_TXT][32], val[MAX_TXT][96];
    int ntxt;
} svc_t;

static bool s_up;
static char s_instance[64];
static svc_t s_svc[MAX_SVC];

/* the board's CONFIG_RUVIEW_HTTP_PORT is --http-port here (see httpd.c) */
static uint16_t host_port(uint16_t port)
{
#ifdef CONFIG_RUVIEW_HTTP_PORT
    if (port == CONFIG_RUVIEW_HTTP_PORT) return (uint16_t)g_port.http_port;
#endif
    return port;
}

static void announce(const svc_t *s)
{
    char txt[2048], k[80], v[200];
    size_t o = 0;
    txt[o++] = '{';
    for (int i = 0; i < s->ntxt && o < sizeof(txt) - 300; i++) {
        json_escape(k, sizeof(k), s->key[i]);
        json_escape(v, sizeof(v), s->val[i]);
        o += (size_t)snprintf(txt + o, sizeof(txt) - o, "%s\"%s\":\"%s\"", i ? "," : "", k, v);
    }
    txt[o++] = '}';
    txt[o] = '\0';
    link_sendf("mdns", "ssssdr", "op", "service", "instance", s->instance, "type", s->type,
               "proto", s->proto, "port", (int)s->port, "txt", txt);
}

static svc_t *find(const char *type, const char *proto)
{
    for (int i = 0; i < MAX_SVC; i++) {
        if (s_svc[i].used && strcmp(s_svc[i].type, type) == 0 && strcmp(s_svc[i].proto, proto) == 0) {
            return &s_svc[i];
        }
    }
    return NULL;
}

esp_err_t mdns_init(void)
{
    if (s_up) return ESP_ERR_INVALID_STATE;
    s_up = true;
    return ESP_OK;
}

void mdns_free(void)
{
    if (!s_up) return;
    s_up = false;
    memset(s_svc, 0, sizeof(s_svc));
    link_sendf("mdns", "s", "op", "stop");
}

esp_err_t mdns_hostname_set(const char *hostname)
{
    if (!s_up) return ESP_ERR_INVALID_STATE;
    if (hostname == NULL || strlen(hostname) > 63) return ESP_ERR_INVALID_ARG;
    link_sendf("mdns", "ss", "op", "hostname", "value", hostname);
    return ESP_OK;
}

esp_err_t mdns_instance_name_set(const char *name)
{
    if (!s_up) return ESP_ERR_INVALID_STATE;
    if (name == NULL || strlen(name) > 63) return ESP_ERR_INVALID_ARG;
    snprintf(s_instance, sizeof(s_instance), "%s", name);
    return ESP_OK;
}

static void set_txt(svc_t *s, mdns_txt_item_t txt[], size_t n)
{
    s->ntxt = 0;
    for (size_t i = 0; i < n && s->ntxt < MAX_TXT; i++) {
        snprintf(s->key[s->ntxt], sizeof(s->key[0]), "%s", txt[i].key);
        snprintf(s->val[s->ntxt], sizeof(s->val[0]), "%s", txt[i].value ? txt[i].value : "");
        s->ntxt++;
    }
}

esp_err_t mdns_service_add(const char *instance, const char *type, const char *proto,
                           uint16_t port, mdns_txt_item_t txt[], size_t n)
{
    if (!s_up) return ESP_ERR_INVALID_STATE;
    if (type == NULL || proto == NULL || (n > 0 && txt == NULL)) return ESP_ERR_INVALID_ARG;
    if (find(type, proto) != NULL) return ESP_ERR_INVALID_ARG;   /* already added */
    for (int i = 0; i < MAX_SVC; i++) {
        if (!s_svc[i].used) {
            svc_t *s = &s_svc[i];
            memset(s, 0, sizeof(*s));
            s->used = true;
            snprintf(s->instance, sizeof(s->instance), "%s", instance ? instance : s_instance);
            snprintf(s->type, sizeof(s->type), "%s", type);
            snprintf(s->proto, sizeof(s->proto), "%s", proto);
            s->port = host_port(port);
            set_txt(s, txt, n);
            announce(s);
            return ESP_OK;
        }
    }
    return ESP_ERR_NO_MEM;
}

esp_err_t mdns_service_remove(const char *type, const char *proto)
{
    svc_t *s = find(type, proto);
    if (s == NULL) return ESP_ERR_NOT_FOUND;
    s->used = false;
    link_sendf("mdns", "sss", "op", "service_remove", "type", type, "proto", proto);
    return ESP_OK;
}

esp_err_t mdns_service_remove_all(void)
{
    for (int i = 0; i < MAX_SVC; i++) {
        if (s_svc[i].used) mdns_service_remove(s_svc[i].type, s_svc[i].proto);
    }
    return ESP_OK;
}

esp_err_t mdns_service_port_set(const char *type, const char *proto, uint16_t port)
{
    svc_t *s = find(type, proto);
    if (s == NULL) return ESP_ERR_NOT_FOUND;
    s->port = host_port(port);
    announce(s);
    return ESP_OK;
}

esp_err_t mdns_service_instance_name_set(const char *type, const char *proto, const char *name)
{
    svc_t *s = find(type, proto);
    if (s == NULL || name == NULL) return s == NULL ? ESP_ERR_NOT_FOUND : ESP_ERR_INVALID_ARG;
    snprintf(s->instance, sizeof(s->instance), "%s", name);
    announce(s);
    return ESP_OK;
}

esp_err_t mdns_service_txt_set(const char *type, const char *proto, mdns_txt_item_t txt[],
                               uint8_t n)
{
    svc_t *s = find(type, proto);
    if (s == NULL) return ESP_ERR_NOT_FOUND;
    set_txt(s, txt, n);
    announce(s);
    return ESP_OK;
}

esp_err_t mdns_service_txt_item_set(const char *type, const char *proto, const char *key,
                                    const char *value)
{
    svc_t *s = find(type, proto);
    if (s == NULL) return ESP_ERR_NOT_FOUND;
    if (key == NULL) return ESP_ERR_INVALID_ARG;
    int i;
    for (i = 0; i < s->ntxt && strcmp(s->key[i], key) != 0; i++) {}
    if (i == s->ntxt) {
        if (s->ntxt == MAX_TXT) return ESP_ERR_NO_MEM;
        s->ntxt++;
    }
    snprintf(s->key[i], sizeof(s->key[0]), "%s", key);
    snprintf(s->val[i], sizeof(s->val[0]), "%s", value ? value : "");
    announce(s);
    return ESP_OK;
}

esp_err_t mdns_service_txt_item_remove(const char *type, const char *proto, const char *key)
{
    svc_t *s = find(type, proto);
    if (s == NULL) return ESP_ERR_NOT_FOUND;
    for (int i = 0; i < s->ntxt; i++) {
        if (strcmp(s->key[i], key) == 0) {
            for (int k = i + 1; k < s->ntxt; k++) {
                strcpy(s->key[k - 1], s->key[k]);
                strcpy(s->val[k - 1], s->val[k]);
            }
            s->ntxt--;
            announce(s);
            return ESP_OK;
        }
    }
    return ESP_ERR_NOT_FOUND;
}
