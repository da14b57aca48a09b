/* QR codes of URLs with libqrencode, rendered as SVG (web pages), Unicode half blocks (terminal) and
 * binary PBM (tests, with zbarimg). Pure functions: any thread may call them; libqrencode as built
 * by Debian guards its shared tables with a mutex.
 */
#include "qr/qr.h"

#include <errno.h>
#include <qrencode.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* UTF-8 of U+2588 FULL BLOCK, U+2580 UPPER HALF BLOCK, U+2584 LOWER HALF BLOCK. */
#define FULL_BLOCK "\xe2\x96\x88"
#define UPPER_HALF "\xe2\x96\x80"
#define LOWER_HALF "\xe2\x96\x84"

static int encode(const char *text, QRcode **code)
{
    *code = NULL;
    if (!text || !*text)
        return -EINVAL;
    errno = 0;
    *code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (!*code)
        return errno ? -errno : -EINVAL;
    return 0;
}

/* Whether the module at (x, y) of the symbol drawn with a quiet zone of `quiet` modules is dark;
 * the quiet zone and anything outside the symbol is light. */
static bool dark_at(const QRcode *code, int quiet, int x, int y)
{
    x -= quiet;
    y -= quiet;
    if (x < 0 || y < 0 || x >= code->width || y >= code->width)
        return false;
    return code->data[(size_t)y * (size_t)code->width + (size_t)x] & 1;
}

/* The dark modules of row y as rectangles one module high, one per run. */
static void svg_row(FILE *f, const QRcode *code, int y)
{
    int n = code->width + 2 * TOLK_QR_QUIET;
    for (int x = 0; x < n;) {
        if (!dark_at(code, TOLK_QR_QUIET, x, y)) {
            x++;
            continue;
        }
        int run = 1;
        while (x + run < n && dark_at(code, TOLK_QR_QUIET, x + run, y))
            run++;
        fprintf(f, "M%d %dh%dv1h-%dz", x, y, run, run);
        x += run;
    }
}

static int svg_write(FILE *f, const QRcode *code)
{
    int n = code->width + 2 * TOLK_QR_QUIET;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "shape-rendering=\"crispEdges\">"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
            n, n, n, n);
    for (int y = 0; y < n; y++)
        svg_row(f, code, y);
    fputs("\"/></svg>\n", f);
    return ferror(f) ? -ENOMEM : 0;
}

int tolk_qr_svg(const char *text, char **out, size_t *len)
{
    QRcode *code = NULL;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = NULL;
    int rc = -EINVAL;
    if (!out || !len)
        goto done;
    *out = NULL;
    *len = 0;
    rc = encode(text, &code);
    if (rc < 0)
        goto done;
    f = open_memstream(&buf, &size);
    rc = f ? svg_write(f, code) : -ENOMEM;
done:
    if (f && fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0) {
        *out = buf;
        *len = size;
    } else {
        free(buf);
    }
    QRcode_free(code);
    return rc;
}

/* Which character draws the top module row y and the one below it in column x. Light modules
 * are the glyphs, so the terminal's dark background shows through for dark modules; rows past
 * the bottom edge (odd row count) are left to the background too. */
static const char *terminal_cell(const QRcode *code, int x, int y)
{
    int n = code->width + 2 * TOLK_QR_TERMINAL_QUIET;
    bool top = !dark_at(code, TOLK_QR_TERMINAL_QUIET, x, y);
    bool bottom = y + 1 < n && !dark_at(code, TOLK_QR_TERMINAL_QUIET, x, y + 1);
    if (top && bottom)
        return FULL_BLOCK;
    if (top)
        return UPPER_HALF;
    return bottom ? LOWER_HALF : " ";
}

/* Polarity: scanners want dark modules on a light ground. On the dark terminal a technician runs
 * tolk-server in, the foreground is light, so drawing the light modules (and the quiet zone) as
 * block glyphs and leaving dark modules as blank cells gives exactly that with no escape sequence.
 * Reverse video would give the same result on a dark terminal (it also swaps whatever the colours
 * are, so it is equally inverted on a light one) but puts SGR codes in the output, which show up
 * as garbage when stdout is a log file, the journal or a pager, and can leave the terminal
 * reversed if the output is cut. Light-background terminals get an inverted code, which the
 * common phone scanners also read; the web page's SVG is the reference. */
int tolk_qr_print_terminal(FILE *out, const char *text)
{
    QRcode *code = NULL;
    int rc = out ? encode(text, &code) : -EINVAL;
    if (rc < 0)
        goto done;
    int n = code->width + 2 * TOLK_QR_TERMINAL_QUIET;
    for (int y = 0; y < n; y += 2) {
        for (int x = 0; x < n; x++)
            fputs(terminal_cell(code, x, y), out);
        fputc('\n', out);
    }
    if (fflush(out) != 0 || ferror(out))
        rc = -EIO;
done:
    QRcode_free(code);
    return rc;
}

/* Rows of the P4 raster: 1 bits are black, each row padded to a whole byte. */
static void pbm_raster(const QRcode *code, int scale, unsigned char *p, size_t stride)
{
    int pixels = (code->width + 2 * TOLK_QR_QUIET) * scale;
    for (int py = 0; py < pixels; py++, p += stride) {
        memset(p, 0, stride);
        for (int px = 0; px < pixels; px++)
            if (dark_at(code, TOLK_QR_QUIET, px / scale, py / scale))
                p[px / 8] |= (unsigned char)(0x80u >> (px % 8));
    }
}

int tolk_qr_pbm(const char *text, int scale, char **out, size_t *len)
{
    QRcode *code = NULL;
    char *buf = NULL;
    int rc = -EINVAL;
    if (!out || !len || scale < 1 || scale > TOLK_QR_MAX_SCALE)
        goto done;
    *out = NULL;
    *len = 0;
    rc = encode(text, &code);
    if (rc < 0)
        goto done;
    int pixels = (code->width + 2 * TOLK_QR_QUIET) * scale;
    size_t stride = ((size_t)pixels + 7) / 8;
    char header[32];
    int hlen = snprintf(header, sizeof header, "P4\n%d %d\n", pixels, pixels);
    size_t size = (size_t)hlen + stride * (size_t)pixels;
    buf = malloc(size);
    if (!buf) {
        rc = -ENOMEM;
        goto done;
    }
    memcpy(buf, header, (size_t)hlen);
    pbm_raster(code, scale, (unsigned char *)buf + hlen, stride);
    *out = buf;
    *len = size;
done:
    QRcode_free(code);
    return rc;
}
