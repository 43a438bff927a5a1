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
    case RPO_ERR_SIZE:         return "inconsistent sizes, or a size product that overflows size_t";
    case RPO_ERR_PARAM:        return "unknown setting, or value out of its range";
    case RPO_ERR_NONFINITE:    return "NaN or infinity in an input";
    case RPO_ERR_NOMEM:        return "out of memory";
    case RPO_ERR_UNSUPPORTED:  return "not supported by this build";
    case RPO_ERR_RANGE:        return "the result does not fit the output type";
    default:                   return "unknown status code";
    }
}
