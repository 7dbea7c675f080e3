/*
 * One UDP socket to target_ip:target_port (PROTOCOL.md section 1). When lwIP runs out of
 * buffers (ENOMEM) the sender backs off for 100 ms and drops what comes meanwhile; every
 * outcome is counted for the self-test and the log.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "config_load.h"

typedef enum {
    UDP_SENT = 0,     /* handed to lwIP */
    UDP_FAILED,       /* sendto() failed (ENOMEM starts the back-off) */
    UDP_DROPPED,      /* not attempted: inside the ENOMEM back-off */
    UDP_DISABLED,     /* no valid target_ip: telemetry is off */
} udp_result_t;

typedef struct {
    uint32_t sent;
    uint32_t failed;
    uint32_t dropped;
} udp_stats_t;

/* Open the socket when cfg->target_ip_valid; otherwise every send returns UDP_DISABLED. */
void udp_sender_start(const node_config_t *cfg);
udp_result_t udp_sender_send(const uint8_t *data, size_t len);
bool udp_sender_enabled(void);
void udp_sender_stats(udp_stats_t *out);
