/* Logging to stderr with a wall-clock timestamp.
 *
 * Any thread may log except real-time ones: the PortAudio callback and the engine's tick must not
 * (stdio locks). Lines are written with one fprintf so lines from threads do not interleave.
 */
#ifndef TOLK_LOG_H
#define TOLK_LOG_H

enum tolk_log_level { TOLK_LOG_ERROR, TOLK_LOG_WARN, TOLK_LOG_INFO, TOLK_LOG_DEBUG };

void tolk_log_set_level(enum tolk_log_level level);
void tolk_log(enum tolk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tolk_log_error(...) tolk_log(TOLK_LOG_ERROR, __VA_ARGS__)
#define tolk_log_warn(...) tolk_log(TOLK_LOG_WARN, __VA_ARGS__)
#define tolk_log_info(...) tolk_log(TOLK_LOG_INFO, __VA_ARGS__)
#define tolk_log_debug(...) tolk_log(TOLK_LOG_DEBUG, __VA_ARGS__)

#endif
