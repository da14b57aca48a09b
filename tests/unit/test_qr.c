/* Unit tests of server/qr/qr.c: the PBM and the terminal drawing of several URLs decode back to the
 * exact text with zbarimg (zbar-tools), the SVG draws the same modules as the PBM in a viewBox of
 * the right size, and bad arguments are refused. Without zbarimg the program exits 77 (skip), or
 * fails when TOLK_REQUIRE_BROWSER=1. Single-threaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qr/qr.h"

#define URL_LAN "http://192.168.1.20:8080/?channel=fr"
#define URL_V6 "http://[2001:db8:85a3::8a2e:370:7334]:8080/?channel=de"
#define URL_UTF8 "http://tolk.local:8080/?channel=fr&salle=Élysée-Straße-会议室-🎧"

/* The module grid of a decoded drawing: dark[y * n + x]. */
struct grid {
    int n;
    bool *dark;
};

static char *url_200(void)
{
    static char url[201];
    snprintf(url, sizeof url, "http://tolk.local:8080/?channel=fr&pad=");
    for (size_t i = strlen(url); i < 200; i++)
        url[i] = (char)('a' + i % 26);
    url[200] = '\0';
    return url;
}

/* Runs zbarimg on the image and returns what it printed (malloc'd); fails the test unless it
 * exits 0. */
static char *zbar_decode(const char *image, size_t len)
{
    char path[] = "/tmp/tolk-test-qr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, image, len), (ssize_t)len);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "zbarimg --raw -q --nodbus %s", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *text = calloc(1, 8192);
    assert_non_null(text);
    size_t got = fread(text, 1, 8191, p);
    int status = pclose(p);
    unlink(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("zbarimg found no code (status %d, output \"%.*s\")", status, (int)got, text);
    return text;
}

/* zbarimg --raw prints each symbol's text and a newline: exactly one symbol, exactly the text. */
static void expect_decodes_to(const char *image, size_t len, const char *text)
{
    char *decoded = zbar_decode(image, len);
    size_t n = strlen(text);
    if (strncmp(decoded, text, n) != 0 || strcmp(decoded + n, "\n") != 0)
        fail_msg("decoded \"%s\", expected \"%s\\n\"", decoded, text);
    free(decoded);
}

static void pbm_decodes(const char *text, int scale)
{
    char *pbm = NULL;
    size_t len = 0;
    assert_int_equal(tolk_qr_pbm(text, scale, &pbm, &len), 0);
    assert_non_null(pbm);
    expect_decodes_to(pbm, len, text);
    free(pbm);
}

static void test_pbm_lan(void **state) { pbm_decodes(URL_LAN, 4); pbm_decodes(URL_LAN, 2); }
static void test_pbm_ipv6(void **state) { pbm_decodes(URL_V6, 4); }
static void test_pbm_long(void **state) { pbm_decodes(url_200(), 3); }
static void test_pbm_utf8(void **state) { pbm_decodes(URL_UTF8, 4); }

/* The modules of a scale-1 PBM, quiet zone included. */
static struct grid pbm_grid(const char *text)
{
    char *pbm = NULL;
    size_t len = 0;
    assert_int_equal(tolk_qr_pbm(text, 1, &pbm, &len), 0);
    int w = 0, h = 0, used = 0;
    assert_int_equal(sscanf(pbm, "P4\n%d %d\n%n", &w, &h, &used), 2);
    assert_int_equal(w, h);
    size_t stride = ((size_t)w + 7) / 8;
    assert_int_equal(len, (size_t)used + stride * (size_t)h);
    struct grid g = {w, calloc((size_t)w * (size_t)w, sizeof(bool))};
    const unsigned char *raster = (const unsigned char *)pbm + used;
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            g.dark[y * w + x] = raster[(size_t)y * stride + (size_t)x / 8] & (0x80 >> (x % 8));
    free(pbm);
    return g;
}

/* Fills the rectangles "Mx yhWv1h-Wz" of the path's d attribute into a grid of n * n modules. */
static struct grid svg_grid(const char *svg, int n)
{
    struct grid g = {n, calloc((size_t)n * (size_t)n, sizeof(bool))};
    const char *d = strstr(svg, " d=\"");
    assert_non_null(d);
    d += 4;
    int x, y, w, w2, used;
    while (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used) == 4) {
        assert_int_equal(w, w2);
        assert_true(x >= 0 && y >= 0 && w > 0 && x + w <= n && y < n);
        for (int i = 0; i < w; i++)
            g.dark[y * n + x + i] = true;
        d += used;
    }
    assert_int_equal(*d, '"');
    return g;
}

static void svg_matches(const char *text, int modules)
{
    char *svg = NULL;
    size_t len = 0;
    assert_int_equal(tolk_qr_svg(text, &svg, &len), 0);
    assert_int_equal(strlen(svg), len);
    assert_memory_equal(svg, "<svg ", 5);
    assert_true(len > 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
    char view[64];
    snprintf(view, sizeof view, " viewBox=\"0 0 %d %d\"", modules, modules);
    const char *tag_end = strchr(svg, '>');
    const char *vb = strstr(svg, view);
    assert_true(vb && vb < tag_end);
    const char *crisp = strstr(svg, " shape-rendering=\"crispEdges\"");
    assert_true(crisp && crisp < tag_end);
    const char *width = strstr(svg, " width=");
    assert_true(width > tag_end); /* the root element has no size of its own */
    assert_non_null(strstr(svg, "fill=\"#fff\""));
    const char *path = strstr(svg, "<path");
    assert_true(path && !strstr(path + 1, "<path"));
    struct grid s = svg_grid(svg, modules), p = pbm_grid(text);
    assert_int_equal(p.n, modules);
    assert_memory_equal(s.dark, p.dark, (size_t)modules * (size_t)modules);
    free(s.dark);
    free(p.dark);
    free(svg);
}

/* In 8-bit mode at level M: 36 bytes need version 3 (29 modules), 72 bytes (URL_UTF8) version 5
 * (37), 200 bytes version 10 (57); the SVG adds 2 * 4 modules of quiet zone. */
static void test_svg_lan(void **state) { svg_matches(URL_LAN, 37); }
static void test_svg_long(void **state) { svg_matches(url_200(), 65); }
static void test_svg_utf8(void **state) { svg_matches(URL_UTF8, 45); }

static char *terminal_text(const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(tolk_qr_print_terminal(f, text), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* Reads one terminal cell: whether its top and bottom halves are drawn (light). */
static const char *read_cell(const char *p, bool *top, bool *bottom)
{
    if (*p == ' ') {
        *top = *bottom = false;
        return p + 1;
    }
    assert_memory_equal(p, "\xe2\x96", 2);
    assert_true(p[2] == '\x88' || p[2] == '\x80' || p[2] == '\x84');
    *top = p[2] != '\x84';
    *bottom = p[2] != '\x80';
    return p + 3;
}

/* The picture a phone sees of a black terminal showing the output: glyphs light, blank cells and
 * a 6-module border dark, scale pixels per module, as a PBM. */
static char *terminal_picture(const char *out, int lines, int cols, size_t *len)
{
    const int border = 6, scale = 4;
    int w = (cols + 2 * border) * scale, h = (2 * lines + 2 * border) * scale;
    size_t stride = ((size_t)w + 7) / 8;
    char header[32];
    int hlen = snprintf(header, sizeof header, "P4\n%d %d\n", w, h);
    *len = (size_t)hlen + stride * (size_t)h;
    char *pbm = malloc(*len);
    memcpy(pbm, header, (size_t)hlen);
    unsigned char *raster = (unsigned char *)pbm + hlen;
    memset(raster, 0xff, stride * (size_t)h);
    for (int line = 0; line < lines; line++, out++) {
        for (int c = 0; c < cols; c++) {
            bool light[2];
            out = read_cell(out, &light[0], &light[1]);
            for (int half = 0; half < 2; half++)
                for (int py = 0; py < scale && light[half]; py++)
                    for (int px = 0; px < scale; px++) {
                        int x = (border + c) * scale + px;
                        int y = (border + 2 * line + half) * scale + py;
                        raster[(size_t)y * stride + (size_t)x / 8] &= (unsigned char)~(0x80 >> (x % 8));
                    }
        }
        assert_int_equal(*out, '\n');
    }
    assert_int_equal(*out, '\0');
    return pbm;
}

/* ceil((modules + 2 * 2) / 2) lines of modules + 4 cells; the picture decodes to the text. */
static void terminal_decodes(const char *text, int modules)
{
    char *out = terminal_text(text);
    int cols = modules + 2 * TOLK_QR_TERMINAL_QUIET, lines = (cols + 1) / 2, count = 0;
    for (const char *p = out; *p; p++)
        count += *p == '\n';
    assert_int_equal(count, lines);
    size_t len = 0;
    char *pbm = terminal_picture(out, lines, cols, &len);
    expect_decodes_to(pbm, len, text);
    free(pbm);
    free(out);
}

static void test_terminal_lan(void **state) { terminal_decodes(URL_LAN, 29); }
static void test_terminal_long(void **state) { terminal_decodes(url_200(), 57); }
static void test_terminal_utf8(void **state) { terminal_decodes(URL_UTF8, 37); }

static void test_errors(void **state)
{
    char *out = (char *)"untouched";
    size_t len = 1;
    assert_int_equal(tolk_qr_svg(NULL, &out, &len), -EINVAL);
    assert_null(out);
    assert_int_equal(tolk_qr_svg("", &out, &len), -EINVAL);
    assert_int_equal(tolk_qr_svg(URL_LAN, NULL, &len), -EINVAL);
    assert_int_equal(tolk_qr_svg(URL_LAN, &out, NULL), -EINVAL);
    assert_int_equal(tolk_qr_pbm(NULL, 4, &out, &len), -EINVAL);
    assert_int_equal(tolk_qr_pbm("", 4, &out, &len), -EINVAL);
    assert_int_equal(tolk_qr_pbm(URL_LAN, 0, &out, &len), -EINVAL);
    assert_int_equal(tolk_qr_pbm(URL_LAN, TOLK_QR_MAX_SCALE + 1, &out, &len), -EINVAL);
    assert_int_equal(tolk_qr_pbm(URL_LAN, 4, NULL, &len), -EINVAL);
    assert_int_equal(tolk_qr_print_terminal(stdout, NULL), -EINVAL);
    assert_int_equal(tolk_qr_print_terminal(stdout, ""), -EINVAL);
    assert_int_equal(tolk_qr_print_terminal(NULL, URL_LAN), -EINVAL);
    /* level M holds at most 2331 bytes */
    static char huge[3001];
    memset(huge, 'x', sizeof huge - 1);
    assert_int_equal(tolk_qr_svg(huge, &out, &len), -ERANGE);
    assert_null(out);
    assert_int_equal(len, 0);
    assert_int_equal(tolk_qr_pbm(huge, 1, &out, &len), -ERANGE);
}

static bool have_zbarimg(void)
{
    return system("command -v zbarimg >/dev/null 2>&1") == 0;
}

int main(void)
{
    if (!have_zbarimg()) {
        const char *require = getenv("TOLK_REQUIRE_BROWSER");
        bool required = require && strcmp(require, "1") == 0;
        fprintf(stderr, "test_qr: zbarimg not found (apt-get install zbar-tools)%s\n",
                required ? " and TOLK_REQUIRE_BROWSER=1: failing" : ": skipping");
        return required ? 1 : 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbm_lan),       cmocka_unit_test(test_pbm_ipv6),
        cmocka_unit_test(test_pbm_long),      cmocka_unit_test(test_pbm_utf8),
        cmocka_unit_test(test_svg_lan),       cmocka_unit_test(test_svg_long),
        cmocka_unit_test(test_svg_utf8),      cmocka_unit_test(test_terminal_lan),
        cmocka_unit_test(test_terminal_long), cmocka_unit_test(test_terminal_utf8),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
