/* The status line: in place on a terminal, one key=value line per call otherwise. Main
 * thread. */
#ifndef TOLK_STATUS_H
#define TOLK_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "receiver.h"

/* Prints the current figures of s; label names the stream (channel id or SDP name). */
void tolk_status_print(FILE *out, bool tty, const char *label, const struct tolk_rx_state *s);
/* On a terminal, ends the line in place so later output starts on a fresh line. */
void tolk_status_finish(FILE *out, bool tty);

#endif
