/* A test's own RTP/SRTP sender: Opus frames of a tone (RFC 7587), RTCP sender reports, SRTP
 * with libsrtp2 when given a key, and raw datagrams for malformed-packet tests. Loopback only.
 * Main thread of the test. */
#ifndef TOLK_TESTS_RECEIVER_RTP_H
#define TOLK_TESTS_RECEIVER_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tolk_rtp_sender;

/* Sends to 127.0.0.1:port (RTP) and port + 1 (RTCP); key: 30 bytes of SRTP master key and
 * salt, or NULL for plain RTP. 20 ms frames of a -12 dBFS sine of tone_hz. */
int tolk_rtp_sender_open(struct tolk_rtp_sender **out, int port, int payload_type,
                         const uint8_t *key, double tone_hz);
void tolk_rtp_sender_close(struct tolk_rtp_sender *s);
/* Encodes and sends count frames, paced in real time (20 ms apart). */
int tolk_rtp_sender_send_frames(struct tolk_rtp_sender *s, int count);
/* An RTCP sender report mapping the next frame's timestamp to its capture time. */
int tolk_rtp_sender_send_report(struct tolk_rtp_sender *s);
/* A raw datagram to the RTP port. */
int tolk_rtp_sender_send_raw(struct tolk_rtp_sender *s, const void *data, size_t len);
/* A copy of the next RTP packet (plain, before SRTP) with its header bytes 0..1 replaced. */
int tolk_rtp_sender_send_with_header(struct tolk_rtp_sender *s, uint8_t b0, uint8_t b1);

#endif
