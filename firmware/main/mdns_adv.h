/*
 * mDNS advert (PROTOCOL.md section 5): _ruview._tcp and _ruview._udp on the HTTP port,
 * instance ruview-<node_id>-<last 4 hex of MAC>, host ruview-<6 hex of MAC>.local.
 */
#pragma once

#include "config_load.h"
#include "node_info.h"

/* Start mDNS; the responder follows the station interface up and down by itself. */
void mdns_adv_start(const node_config_t *cfg, const node_info_t *info);
