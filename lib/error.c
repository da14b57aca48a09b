/* tolk_strerror(): messages for negative errno values and TOLK_E* codes. Any thread. */
#include "tolk/error.h"

#include <string.h>

const char *tolk_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case TOLK_ECONFIG: return "invalid configuration";
    case TOLK_EDEVICE: return "audio device error";
    case TOLK_ECODEC: return "codec error";
    case TOLK_EPROTO: return "malformed protocol message";
    case TOLK_ENET: return "network error";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerrordesc_np(-err) ? strerrordesc_np(-err) : "unknown error";
    return "unknown error";
}
