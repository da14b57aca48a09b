/* Token checks (auth.h). Threads: the request's service thread; no allocation. */
#include "net/auth.h"

#include <string.h>

/* Equal strings, in a time that depends only on the lengths. */
static bool same(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned diff = alen != blen;
    for (size_t i = 0; i < alen && i < blen; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
    return diff == 0 && blen > 0;
}

static bool from_cookie(struct lws *wsi, const char *token)
{
    char cookies[1024];
    if (lws_hdr_copy(wsi, cookies, sizeof cookies, WSI_TOKEN_HTTP_COOKIE) <= 0)
        return false;
    size_t name_len = strlen(TOLK_AUTH_COOKIE);
    for (char *p = cookies; *p;) {
        p += strspn(p, " ;");
        size_t n = strcspn(p, ";");
        if (n > name_len && strncmp(p, TOLK_AUTH_COOKIE, name_len) == 0 && p[name_len] == '=' &&
            same(p + name_len + 1, n - name_len - 1, token))
            return true;
        p += n;
    }
    return false;
}

static bool from_header(struct lws *wsi, const char *token)
{
    char value[256];
    int n = lws_hdr_copy(wsi, value, sizeof value, WSI_TOKEN_HTTP_AUTHORIZATION);
    return n > 7 && strncmp(value, "Bearer ", 7) == 0 && same(value + 7, (size_t)n - 7, token);
}

static bool from_query(struct lws *wsi, const char *token)
{
    char arg[256];
    const char *value = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
    return value && same(value, strlen(value), token);
}

enum tolk_auth tolk_net_auth(struct lws *wsi, const char *token)
{
    if (from_cookie(wsi, token) || from_header(wsi, token))
        return TOLK_AUTH_HEADER;
    return from_query(wsi, token) ? TOLK_AUTH_QUERY : TOLK_AUTH_NONE;
}
