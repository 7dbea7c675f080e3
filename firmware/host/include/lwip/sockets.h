/*
 * Host port of lwIP's socket API as ESP-IDF exposes it: POSIX sockets of the host, bound to the
 * node's address (--ip). Like lwIP, a socket can only be created once the TCP/IP stack runs
 * (esp_netif_init -> tcpip_init); before that lwIP's netconn layer posts to an invalid mbox and
 * LWIP_ASSERT("Invalid mbox") aborts (lwip/src/api/tcpip.c, tcpip_send_msg_wait_sem, with
 * CONFIG_LWIP_ESP_LWIP_ASSERT=y, the IDF default).
 */
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>

int lwip_socket(int domain, int type, int protocol);
int lwip_bind(int s, const struct sockaddr *name, socklen_t namelen);
int lwip_connect(int s, const struct sockaddr *name, socklen_t namelen);
ssize_t lwip_sendto(int s, const void *data, size_t size, int flags, const struct sockaddr *to,
                    socklen_t tolen);
ssize_t lwip_send(int s, const void *data, size_t size, int flags);

#define socket(d, t, p) lwip_socket(d, t, p)
#define bind(s, n, l) lwip_bind(s, n, l)
#define connect(s, n, l) lwip_connect(s, n, l)
#define sendto(s, d, n, f, t, l) lwip_sendto(s, d, n, f, t, l)
#define send(s, d, n, f) lwip_send(s, d, n, f)
#define closesocket(s) close(s)
