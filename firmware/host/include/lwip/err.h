#pragma once
typedef signed char err_t;
