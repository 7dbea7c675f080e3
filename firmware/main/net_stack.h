/*
 * The network stack, first: esp_netif_init() runs lwIP's tcpip_init(); before it, any socket()
 * hits LWIP_ASSERT("Invalid mbox") in tcpip.c and aborts (CONFIG_LWIP_ESP_LWIP_ASSERT), which
 * on every boot is a boot loop. The default event loop is needed by esp_netif and esp_wifi.
 */
#pragma once

/* esp_netif_init() + esp_event_loop_create_default(). Call once, before any socket. */
void net_stack_start(void);
