/* Host port of hal/include/hal/efuse_hal.h: chip revision = major * 100 + minor. */
#pragma once
#include <stdint.h>
uint32_t efuse_hal_chip_revision(void);
uint32_t efuse_hal_get_major_chip_version(void);
uint32_t efuse_hal_get_minor_chip_version(void);
