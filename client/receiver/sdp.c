/* SDP parsing for the RTP input (see sdp.h). Pure; main thread. Only the first audio m=
 * section is read; session-level c= applies unless the section has its own. */
#include "sdp.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tolk/error.h"

#define SUITE "AES_CM_128_HMAC_SHA1_80"

struct parse {
    struct tolk_sdp *sdp;
    bool in_audio, seen_audio, have_c;
    int formats[32], nformats;
    int opus_pt;
    char *err;
    size_t err_len;
};

static int fail(struct parse *ps, const char *what)
{
    snprintf(ps->err, ps->err_len, "%s", what);
    return TOLK_ECONFIG;
}

static int parse_c(struct parse *ps, const char *v)
{
    char net[8], type[8], addr[80];
    if (sscanf(v, "%7s %7s %79s", net, type, addr) != 3 || strcmp(net, "IN") != 0)
        return fail(ps, "c=: not \"IN IP4|IP6 ADDRESS\"");
    ps->sdp->ipv6 = strcmp(type, "IP6") == 0;
    char *slash = strchr(addr, '/');
    ps->sdp->ttl = 0;
    if (slash) {
        *slash = '\0';
        if (!ps->sdp->ipv6)
            ps->sdp->ttl = atoi(slash + 1);
    }
    if (strlen(addr) >= sizeof ps->sdp->address)
        return fail(ps, "c=: address too long");
    strcpy(ps->sdp->address, addr);
    ps->have_c = true;
    return 0;
}

static int parse_m(struct parse *ps, const char *v)
{
    char media[16], proto[32];
    int port, used = 0;
    ps->in_audio = false;
    if (ps->seen_audio || sscanf(v, "%15s %d %31s%n", media, &port, proto, &used) != 3 ||
        strcmp(media, "audio") != 0)
        return 0;
    if (strcmp(proto, "RTP/AVP") != 0 && strcmp(proto, "RTP/SAVP") != 0)
        return fail(ps, "m=audio: transport is neither RTP/AVP nor RTP/SAVP");
    if (port <= 0 || port > 65535)
        return fail(ps, "m=audio: bad port");
    ps->in_audio = ps->seen_audio = true;
    ps->sdp->port = port;
    ps->sdp->secure = strcmp(proto, "RTP/SAVP") == 0;
    for (const char *p = v + used; *p && ps->nformats < 32;) {
        char *end;
        long pt = strtol(p, &end, 10);
        if (end == p)
            break;
        ps->formats[ps->nformats++] = (int)pt;
        p = end;
    }
    return 0;
}

static bool listed(const struct parse *ps, int pt)
{
    for (int i = 0; i < ps->nformats; i++)
        if (ps->formats[i] == pt)
            return true;
    return false;
}

static int parse_crypto(struct parse *ps, const char *v)
{
    char suite[64], params[256];
    int tag;
    if (sscanf(v, "%d %63s %255s", &tag, suite, params) != 3)
        return fail(ps, "a=crypto: not \"TAG SUITE inline:KEY\"");
    if (strcmp(suite, SUITE) != 0)
        return 0; /* another suite: maybe a later line has ours */
    if (strncmp(params, "inline:", 7) != 0)
        return fail(ps, "a=crypto: key parameters are not inline:");
    char *b64 = params + 7;
    b64[strcspn(b64, "|;")] = '\0'; /* lifetime and MKI are not used */
    char key[64];
    int n = lws_b64_decode_string(b64, key, sizeof key);
    if (n != TOLK_SDP_KEY_LEN)
        return fail(ps, "a=crypto: the inline key is not 30 bytes of base64");
    memcpy(ps->sdp->key, key, TOLK_SDP_KEY_LEN);
    ps->sdp->has_key = true;
    return 0;
}

static int parse_a(struct parse *ps, const char *v)
{
    int pt, rate, n;
    char enc[32];
    if (!ps->in_audio)
        return 0;
    if (sscanf(v, "rtpmap:%d %31[^/]/%d", &pt, enc, &rate) == 3) {
        if (strcasecmp(enc, "opus") == 0 && rate == 48000 && listed(ps, pt) && ps->opus_pt < 0)
            ps->opus_pt = pt;
    } else if (sscanf(v, "ptime:%d", &n) == 1) {
        ps->sdp->ptime_ms = n;
    } else if (sscanf(v, "rtcp:%d", &n) == 1) {
        ps->sdp->rtcp_port = n;
    } else if (strncmp(v, "crypto:", 7) == 0 && !ps->sdp->has_key) {
        return parse_crypto(ps, v + 7);
    }
    return 0;
}

static int parse_line(struct parse *ps, char type, const char *v)
{
    switch (type) {
    case 's':
        snprintf(ps->sdp->name, sizeof ps->sdp->name, "%.*s", (int)sizeof ps->sdp->name - 1, v);
        return 0;
    case 'c':
        return ps->seen_audio && !ps->in_audio ? 0 : parse_c(ps, v);
    case 'm':
        return parse_m(ps, v);
    case 'a':
        return parse_a(ps, v);
    default:
        return 0;
    }
}

static int finish(struct parse *ps)
{
    struct tolk_sdp *s = ps->sdp;
    if (!ps->seen_audio)
        return fail(ps, "no m=audio line");
    if (ps->opus_pt < 0)
        return fail(ps, "m=audio lists no payload type mapped to opus/48000");
    if (!ps->have_c || !s->address[0])
        return fail(ps, "no c= connection address");
    if (s->secure && !s->has_key)
        return fail(ps, "RTP/SAVP without an a=crypto " SUITE " inline key");
    s->payload_type = ps->opus_pt;
    if (!s->rtcp_port)
        s->rtcp_port = s->port + 1;
    return 0;
}

int tolk_sdp_parse(const char *text, struct tolk_sdp *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    struct parse ps = {.sdp = out, .opus_pt = -1, .err = err, .err_len = err_len};
    char line[512];
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\r\n");
        size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, p, m);
        line[m] = '\0';
        p += n;
        p += strspn(p, "\r\n");
        if (m >= 2 && line[1] == '=') {
            int rc = parse_line(&ps, line[0], line + 2);
            if (rc)
                return rc;
        }
    }
    return finish(&ps);
}

int tolk_sdp_load(const char *path, struct tolk_sdp *out, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, err_len, "%s: %s", path, strerror(e));
        return -e;
    }
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return tolk_sdp_parse(text, out, err, err_len);
}
