/*
 * esp_netif (one station netif with address --ip) and the lwIP socket layer: host sockets
 * bound to --ip. esp_netif_init() is what starts lwIP's tcpip thread (tcpip_init); a socket
 * created before it aborts exactly as lwIP does on the chip: the netconn API posts to the
 * tcpip mbox, which is not valid yet, and LWIP_ASSERT("Invalid mbox", ...) in
 * tcpip_send_msg_wait_sem (lwip/src/api/tcpip.c) calls newlib's __assert_func, which prints
 * "assert failed: <func> <file>:<line> (<message>)" and aborts (CONFIG_LWIP_ESP_LWIP_ASSERT=y).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "port.h"

ESP_EVENT_DEFINE_BASE(IP_EVENT);

struct esp_netif_obj { char hostname[33]; bool up; };
static struct esp_netif_obj s_sta = { "espressif", false };
static atomic_bool s_tcpip_up;

bool netif_is_initialized(void) { return atomic_load(&s_tcpip_up); }

esp_err_t esp_netif_init(void)
{
    if (atomic_exchange(&s_tcpip_up, true)) {
        ESP_LOGE("esp_netif_lwip", "esp_netif_init: already initialized");   /* IDF: ESP_OK */
    }
    return ESP_OK;
}

esp_netif_t *esp_netif_create_default_wifi_sta(void)
{
    /* esp_netif_create_default_wifi_sta asserts a working stack (esp_netif_new) */
    configASSERT(netif_is_initialized());
    return &s_sta;
}

esp_netif_t *esp_netif_get_handle_from_ifkey(const char *if_key)
{
    return strcmp(if_key, "WIFI_STA_DEF") == 0 ? &s_sta : NULL;
}

esp_err_t esp_netif_get_ip_info(esp_netif_t *netif, esp_netif_ip_info_t *info)
{
    if (netif == NULL || info == NULL) return ESP_ERR_ESP_NETIF_INVALID_PARAMS;
    memset(info, 0, sizeof(*info));
    if (netif->up) {
        inet_pton(AF_INET, g_port.ip, &info->ip.addr);
        inet_pton(AF_INET, "255.0.0.0", &info->netmask.addr);
    }
    return ESP_OK;
}

esp_err_t esp_netif_set_hostname(esp_netif_t *netif, const char *hostname)
{
    if (netif == NULL || hostname == NULL) return ESP_ERR_ESP_NETIF_INVALID_PARAMS;
    snprintf(netif->hostname, sizeof(netif->hostname), "%s", hostname);
    return ESP_OK;
}

esp_err_t esp_netif_get_hostname(esp_netif_t *netif, const char **hostname)
{
    if (netif == NULL || hostname == NULL) return ESP_ERR_ESP_NETIF_INVALID_PARAMS;
    *hostname = netif->hostname;
    return ESP_OK;
}

esp_err_t esp_netif_get_mac(esp_netif_t *netif, uint8_t mac[])
{
    (void)netif;
    return esp_read_mac(mac, ESP_MAC_WIFI_STA);
}

bool esp_netif_is_netif_up(esp_netif_t *netif) { return netif != NULL && netif->up; }

/* called by the WiFi driver port on got_ip / disconnect */
void netif_set_up(bool up) { s_sta.up = up; }

/* ---- lwIP sockets --------------------------------------------------------------------- */

int lwip_socket(int domain, int type, int protocol)
{
    if (!netif_is_initialized()) LWIP_ASSERT_NO_TCPIP();
    return socket(domain, type | SOCK_CLOEXEC, protocol);
}

/* An IPv4 socket not bound yet sends from the node's address, as the chip's only netif. */
static void bind_node_addr(int s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    if (getsockname(s, (struct sockaddr *)&a, &len) != 0 || a.sin_family != AF_INET ||
        a.sin_port != 0) {
        return;
    }
    a.sin_port = 0;
    inet_pton(AF_INET, g_port.ip, &a.sin_addr);
    bind(s, (struct sockaddr *)&a, sizeof(a));
}

int lwip_bind(int s, const struct sockaddr *name, socklen_t namelen)
{
    if (name != NULL && name->sa_family == AF_INET && namelen >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in a;
        memcpy(&a, name, sizeof(a));
        if (a.sin_addr.s_addr == htonl(INADDR_ANY)) inet_pton(AF_INET, g_port.ip, &a.sin_addr);
        return bind(s, (struct sockaddr *)&a, sizeof(a));
    }
    return bind(s, name, namelen);
}

int lwip_connect(int s, const struct sockaddr *name, socklen_t namelen)
{
    bind_node_addr(s);
    return connect(s, name, namelen);
}

/* The radio loses this share of outgoing datagrams (udp-loss fault): sendto succeeds, as on a
 * chip whose frame is lost in the air, and nothing reaches the network. */
static _Atomic uint32_t s_loss_ppm;

void sockets_set_udp_loss(double percent)
{
    if (!(percent > 0)) percent = 0;
    if (percent > 100) percent = 100;
    atomic_store(&s_loss_ppm, (uint32_t)(percent * 10000.0));
}

static bool lost_in_air(int s)
{
    uint32_t ppm = atomic_load(&s_loss_ppm);
    int type = 0;
    socklen_t len = sizeof(type);
    if (ppm == 0 || getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) {
        return false;
    }
    return esp_random() % 1000000u < ppm;
}

ssize_t lwip_sendto(int s, const void *data, size_t size, int flags, const struct sockaddr *to,
                    socklen_t tolen)
{
    bind_node_addr(s);
    if (lost_in_air(s)) return (ssize_t)size;
    return sendto(s, data, size, flags | MSG_NOSIGNAL, to, tolen);
}

ssize_t lwip_send(int s, const void *data, size_t size, int flags)
{
    if (lost_in_air(s)) return (ssize_t)size;
    return send(s, data, size, flags | MSG_NOSIGNAL);
}
