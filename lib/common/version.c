/* Version queries and status messages. */
#include "rpo.h"

unsigned rpo_version_number(void)
{
    return RPO_VERSION_NUMBER;
}

const char *rpo_version_string(void)
{
    return RPO_VERSION_STRING;
}

const char *rpo_status_string(int status)
{
    switch (status) {
    case RPO_OK:               return "success";
    case RPO_ERR_NULL_POINTER: return "a required pointer is NULL";
    case RPO_ERR_SIZE:         return "a size breaks a rule of the call (sizes that must match, a zero or out-of-bounds size or index) or a size product overflows size_t";
    case RPO_ERR_PARAM:        return "unknown setting, a value out of its range, or settings that conflict";
    case RPO_ERR_NONFINITE:    return "NaN or infinity in an input";
    case RPO_ERR_NOMEM:        return "out of memory";
    case RPO_ERR_UNSUPPORTED:  return "a valid request that these settings, this build or this CPU cannot serve";
    case RPO_ERR_RANGE:        return "the result does not fit the output type";
    default:                   return "unknown status code";
    }
}
