/* Host port of the espressif/mdns component's API: each call is forwarded on the board link,
 * where the emulator's zeroconf advertiser publishes it. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"

typedef struct { const char *key; const char *value; } mdns_txt_item_t;

esp_err_t mdns_init(void);
void mdns_free(void);
esp_err_t mdns_hostname_set(const char *hostname);
esp_err_t mdns_instance_name_set(const char *instance_name);
esp_err_t mdns_service_add(const char *instance_name, const char *service_type, const char *proto,
                           uint16_t port, mdns_txt_item_t txt[], size_t num_items);
esp_err_t mdns_service_remove(const char *service_type, const char *proto);
esp_err_t mdns_service_remove_all(void);
esp_err_t mdns_service_port_set(const char *service_type, const char *proto, uint16_t port);
esp_err_t mdns_service_instance_name_set(const char *service_type, const char *proto,
                                         const char *instance_name);
esp_err_t mdns_service_txt_set(const char *service_type, const char *proto, mdns_txt_item_t txt[],
                               uint8_t num_items);
esp_err_t mdns_service_txt_item_set(const char *service_type, const char *proto, const char *key,
                                    const char *value);
esp_err_t mdns_service_txt_item_remove(const char *service_type, const char *proto,
                                       const char *key);
