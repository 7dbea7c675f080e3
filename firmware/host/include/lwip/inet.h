#pragma once
#include "lwip/sockets.h"
