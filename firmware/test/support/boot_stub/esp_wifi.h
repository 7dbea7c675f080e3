/* Boot-order test only: csi_rx.h names the CSI callback's argument type. */
#pragma once
typedef struct wifi_csi_info_t wifi_csi_info_t;
