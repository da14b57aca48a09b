/* tolk error convention.
 *
 * Every function that can fail returns 0 on success or a negative code: a negative errno value
 * (-ENOMEM, -EINVAL, ...) or one of the TOLK_E* codes below, which sit outside errno's range.
 * tolk_strerror() turns either kind into a message. Thread-safe, no allocation.
 */
#ifndef TOLK_ERROR_H
#define TOLK_ERROR_H

enum {
    TOLK_ECONFIG = -10000, /* the configuration is invalid */
    TOLK_EDEVICE = -10001, /* the audio device could not be opened or failed */
    TOLK_ECODEC = -10002,  /* the Opus codec refused a setting or a packet */
    TOLK_EPROTO = -10003,  /* a malformed protocol message */
    TOLK_ENET = -10004,    /* the network layer could not start */
};

const char *tolk_strerror(int err);

#endif
