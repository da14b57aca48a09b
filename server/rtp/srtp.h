/* SRTP/SRTCP protection of outgoing packets with libsrtp2 (internal to server/rtp/).
 *
 * One session per stream, AES_CM_128_HMAC_SHA1_80 for RTP and RTCP, keyed with the channel's
 * 30-byte master key and salt; it accepts any outbound SSRC (libsrtp keeps the rollover count
 * of each). create/destroy on the main thread (they also init and shut down libsrtp, counted);
 * protect and forget on the thread that owns the stream (the RTP sender).
 */
#ifndef TOLK_RTP_SRTP_H
#define TOLK_RTP_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Spare bytes a packet buffer needs after the packet for protection (libsrtp's maximum for
 * SRTCP: SRTP_MAX_TRAILER_LEN + 4). */
#define TOLK_SRTP_MAX_TRAILER 148

struct tolk_srtp;

int tolk_srtp_create(struct tolk_srtp **out, const unsigned char key[TOLK_SRTP_KEY_LEN]);
void tolk_srtp_destroy(struct tolk_srtp *srtp);

/* Encrypts and authenticates a packet in place; *len grows by the trailer (tag, and SRTCP's
 * index). pkt must have TOLK_SRTP_MAX_TRAILER spare bytes. Returns 0 or -EIO. */
int tolk_srtp_protect_rtp(struct tolk_srtp *srtp, uint8_t *pkt, size_t *len);
int tolk_srtp_protect_rtcp(struct tolk_srtp *srtp, uint8_t *pkt, size_t *len);

/* Drops the state of an SSRC that said BYE. */
void tolk_srtp_forget(struct tolk_srtp *srtp, uint32_t ssrc);

#endif
