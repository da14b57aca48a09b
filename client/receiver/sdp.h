/* The SDP of an Opus RTP/SRTP stream (RFC 4566, RFC 7587, RFC 4568 a=crypto): what the
 * receiver needs to listen to it. Pure functions; main thread. */
#ifndef TOLK_SDP_H
#define TOLK_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOLK_SDP_KEY_LEN 30 /* AES_CM_128_HMAC_SHA1_80: 16-byte key + 14-byte salt */

struct tolk_sdp {
    char address[64];  /* c= connection address (unicast or multicast), IPv4 or IPv6 */
    bool ipv6;
    int ttl;           /* multicast TTL from c=ADDR/TTL, 0 if none */
    int port;          /* m=audio PORT */
    int rtcp_port;     /* a=rtcp:PORT, else port + 1 */
    int payload_type;  /* the first format of m= that is opus/48000 */
    int ptime_ms;      /* a=ptime, 0 if absent */
    bool secure;       /* RTP/SAVP */
    bool has_key;      /* a=crypto AES_CM_128_HMAC_SHA1_80 inline: key */
    uint8_t key[TOLK_SDP_KEY_LEN];
    char name[128];    /* s= */
};

/* Parses SDP text. Returns 0, or TOLK_ECONFIG with a reason in err: no audio m= line, no Opus
 * payload, no c= address, RTP/SAVP without a usable a=crypto key, or an unsupported suite. */
int tolk_sdp_parse(const char *text, struct tolk_sdp *out, char *err, size_t err_len);
/* Reads and parses a file (at most 64 KiB). */
int tolk_sdp_load(const char *path, struct tolk_sdp *out, char *err, size_t err_len);

#endif
