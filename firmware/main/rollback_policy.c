#include "rollback_policy.h"

bool rv_rollback_capable(const rv_rollback_facts_t *f)
{
    if (!f->app_rollback_enabled || f->running_new) {
        return false;   /* the app never asks for a check, or the bootloader ignored it */
    }
    if (f->running_pending) {
        return true;    /* only a rollback-enabled bootloader writes PENDING_VERIFY */
    }
    return f->bootloader_desc_found && f->bootloader_version == RV_BOOTLOADER_ROLLBACK_MARK;
}
