/* Real-time scheduling for the threads that carry audio between the sound card and the wire.
 *
 * Best effort: SCHED_FIFO needs an rtprio limit (systemd LimitRTPRIO=, the audio group's
 * limits.conf) or CAP_SYS_NICE; without one the thread keeps its normal priority and works,
 * only with more scheduling jitter. The priorities, in one place, from the top:
 *   - audio callbacks: set by the host (JACK's clients run at its -P, 10 by default, and
 *     PortAudio's ALSA callback asks for its own);
 *   - tolk-server's engine (a few hundred µs per frame of capture, meters and Opus);
 *   - tolk-server's RTP sender (a packet per channel per frame, whatever the listener count);
 *   - tolk-receiver's network thread (a packet per frame).
 * tolk-server's WebSocket threads stay at normal priority on purpose: their work grows with the
 * listener count, and at saturation real-time threads would starve everything else on the
 * machine (the shell a technician needs, the main thread's alarms).
 */
#ifndef TOLK_REALTIME_H
#define TOLK_REALTIME_H

enum tolk_rt_priority {
    TOLK_RT_ENGINE = 40,
    TOLK_RT_RTP_SENDER = 30,
    TOLK_RT_RECEIVER_NET = 5, /* below JACK's clients: the receiver's own callback comes first */
};

/* Asks SCHED_FIFO at priority for the calling thread. Returns 0, or -errno (typically -EPERM);
 * on failure nothing changes. */
int tolk_realtime_raise(int priority);

#endif
