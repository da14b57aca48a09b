/* QR codes of URLs (libqrencode): an SVG for the web pages, a block drawing for the terminal, a PBM
 * image for the tests. Error correction level M, 8-bit mode, the text's UTF-8 bytes as they are.
 * Pure functions: any thread may call them (Debian's libqrencode is built thread-safe).
 */
#ifndef TOLK_QR_H
#define TOLK_QR_H

#include <stddef.h>
#include <stdio.h>

#define TOLK_QR_QUIET 4          /* quiet zone of the SVG and the PBM, in modules */
#define TOLK_QR_TERMINAL_QUIET 2 /* quiet zone in the terminal, where lines are precious */
#define TOLK_QR_MAX_SCALE 64     /* largest PBM scale, in pixels per module */

/* A standalone SVG document in *out (malloc'd, NUL-terminated, *len bytes without the NUL):
 * viewBox "0 0 N N" in modules (N = symbol width + 2 * TOLK_QR_QUIET), white background, the dark
 * modules as one <path>, no width/height so CSS sizes it. -EINVAL for NULL/empty text, -ERANGE
 * when the text is too long for a QR code, -ENOMEM. */
int tolk_qr_svg(const char *text, char **out, size_t *len);

/* Prints the code to out with Unicode half blocks, two module rows per line, light modules drawn
 * and dark ones left to the (dark) terminal background; ceil((width + 4) / 2) lines, each ending in
 * '\n'. Errors as tolk_qr_svg, and -EIO when writing fails. */
int tolk_qr_print_terminal(FILE *out, const char *text);

/* A binary PBM (P4) image in *out (malloc'd, *len bytes), scale pixels per module
 * (1..TOLK_QR_MAX_SCALE), quiet zone TOLK_QR_QUIET modules. Errors as tolk_qr_svg. */
int tolk_qr_pbm(const char *text, int scale, char **out, size_t *len);

#endif
