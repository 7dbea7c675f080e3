/* Host port of esp_netif: one station interface whose address is --ip. esp_netif_init()
 * stands for lwIP's tcpip_init(): sockets exist only after it (see lwip/sockets.h). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "esp_err.h"
#include "esp_event.h"

#define ESP_ERR_ESP_NETIF_BASE 0x5000
#define ESP_ERR_ESP_NETIF_INVALID_PARAMS (ESP_ERR_ESP_NETIF_BASE + 0x01)
#define ESP_ERR_ESP_NETIF_IF_NOT_READY (ESP_ERR_ESP_NETIF_BASE + 0x02)

typedef struct { uint32_t addr; } esp_ip4_addr_t;
typedef struct { esp_ip4_addr_t ip, netmask, gw; } esp_netif_ip_info_t;
typedef struct esp_netif_obj esp_netif_t;

#define esp_ip4_addr_get_byte(ipaddr, idx) (((const uint8_t *)(&(ipaddr)->addr))[idx])
#define esp_ip4_addr1(a) esp_ip4_addr_get_byte(a, 0)
#define esp_ip4_addr2(a) esp_ip4_addr_get_byte(a, 1)
#define esp_ip4_addr3(a) esp_ip4_addr_get_byte(a, 2)
#define esp_ip4_addr4(a) esp_ip4_addr_get_byte(a, 3)
#define IPSTR "%d.%d.%d.%d"
#define IP2STR(ipaddr) esp_ip4_addr1(ipaddr), esp_ip4_addr2(ipaddr), esp_ip4_addr3(ipaddr), \
                       esp_ip4_addr4(ipaddr)

ESP_EVENT_DECLARE_BASE(IP_EVENT);
typedef enum {
    IP_EVENT_STA_GOT_IP, IP_EVENT_STA_LOST_IP, IP_EVENT_AP_STAIPASSIGNED, IP_EVENT_GOT_IP6,
    IP_EVENT_ETH_GOT_IP, IP_EVENT_ETH_LOST_IP, IP_EVENT_PPP_GOT_IP, IP_EVENT_PPP_LOST_IP,
} ip_event_t;

typedef struct {
    esp_netif_t *esp_netif;
    esp_netif_ip_info_t ip_info;
    bool ip_changed;
} ip_event_got_ip_t;

esp_err_t esp_netif_init(void);
esp_netif_t *esp_netif_create_default_wifi_sta(void);
esp_err_t esp_netif_get_ip_info(esp_netif_t *netif, esp_netif_ip_info_t *ip_info);
esp_err_t esp_netif_set_hostname(esp_netif_t *netif, const char *hostname);
esp_err_t esp_netif_get_hostname(esp_netif_t *netif, const char **hostname);
esp_netif_t *esp_netif_get_handle_from_ifkey(const char *if_key);
esp_err_t esp_netif_get_mac(esp_netif_t *netif, uint8_t mac[]);
bool esp_netif_is_netif_up(esp_netif_t *netif);
