/* RTP/SRTP input: the Opus stream an SDP file describes (RFC 3550, RFC 7587), unprotected with
 * libsrtp2 when the SDP carries a key, with RTCP sender reports for capture times. Its own
 * thread. */
#ifndef TOLK_RTP_INPUT_H
#define TOLK_RTP_INPUT_H

#include "receiver.h"
#include "sdp.h"

struct tolk_rtp_input;

struct tolk_rtp_input_config {
    const struct tolk_sdp *sdp;  /* copied */
    struct tolk_ring *ring;      /* records out (this input is its only writer) */
    struct tolk_rx_state *state; /* `net` written here */
};

/* Binds the RTP and RTCP ports (joining the group if the address is multicast), sets up SRTP,
 * starts the thread. TOLK_ENET (logged) if a port cannot be bound. */
int tolk_rtp_input_start(struct tolk_rtp_input **out, const struct tolk_rtp_input_config *cfg);
/* Stops the thread and frees everything; NULL is a no-op. */
void tolk_rtp_input_destroy(struct tolk_rtp_input *in);

#endif
