/* SRTP/SRTCP protection with libsrtp2 (see srtp.h).
 *
 * libsrtp's crypto kernel is process-wide: the first session initialises it and the last one
 * shuts it down, counted under a mutex (main thread in the server, but cheap to make safe).
 * A session belongs to the thread that protects with it (the RTP sender).
 */
#include "rtp/srtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdlib.h>
#include <string.h>

#include "tolk/log.h"

_Static_assert(TOLK_SRTP_MAX_TRAILER >= SRTP_MAX_TRAILER_LEN + 4, "SRTCP trailer room");

struct tolk_srtp {
    srtp_t session; /* the sender thread's, once created */
};

static pthread_mutex_t library_lock = PTHREAD_MUTEX_INITIALIZER;
static int library_users; /* under library_lock */

static int library_acquire(void)
{
    int rc = 0;
    pthread_mutex_lock(&library_lock);
    if (library_users == 0 && srtp_init() != srtp_err_status_ok)
        rc = -EIO;
    if (rc == 0)
        library_users++;
    pthread_mutex_unlock(&library_lock);
    return rc;
}

static void library_release(void)
{
    pthread_mutex_lock(&library_lock);
    if (--library_users == 0)
        srtp_shutdown();
    pthread_mutex_unlock(&library_lock);
}

int tolk_srtp_create(struct tolk_srtp **out, const unsigned char key[TOLK_SRTP_KEY_LEN])
{
    *out = NULL;
    struct tolk_srtp *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = library_acquire();
    if (rc < 0) {
        free(s);
        return rc;
    }
    unsigned char key_copy[TOLK_SRTP_KEY_LEN]; /* libsrtp takes a non-const pointer */
    memcpy(key_copy, key, sizeof key_copy);
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    policy.ssrc.type = ssrc_any_outbound;
    policy.key = key_copy;
    policy.window_size = 128;
    srtp_err_status_t status = srtp_create(&s->session, &policy);
    memset(key_copy, 0, sizeof key_copy);
    if (status != srtp_err_status_ok) {
        tolk_log_error("srtp: cannot create a session (libsrtp error %d)", (int)status);
        s->session = NULL;
        tolk_srtp_destroy(s);
        return -EINVAL;
    }
    *out = s;
    return 0;
}

void tolk_srtp_destroy(struct tolk_srtp *s)
{
    if (!s)
        return;
    if (s->session)
        srtp_dealloc(s->session);
    free(s);
    library_release();
}

int tolk_srtp_protect_rtp(struct tolk_srtp *s, uint8_t *pkt, size_t *len)
{
    int n = (int)*len;
    if (srtp_protect(s->session, pkt, &n) != srtp_err_status_ok)
        return -EIO;
    *len = (size_t)n;
    return 0;
}

int tolk_srtp_protect_rtcp(struct tolk_srtp *s, uint8_t *pkt, size_t *len)
{
    int n = (int)*len;
    if (srtp_protect_rtcp(s->session, pkt, &n) != srtp_err_status_ok)
        return -EIO;
    *len = (size_t)n;
    return 0;
}

void tolk_srtp_forget(struct tolk_srtp *s, uint32_t ssrc)
{
    srtp_remove_stream(s->session, htonl(ssrc)); /* not found (nothing sent yet) is fine */
}
