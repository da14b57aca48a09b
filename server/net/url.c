/* The addresses delegates and technicians are given: the public URL (printed at start, shown as
 * QR codes) and each channel's listener URL.
 *
 * Threads: any; getifaddrs() is the only call out, made when the URL is derived.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"
#include "net/net_private.h"

/* The host a phone on the venue network can reach: the configured one if it is specific,
 * else the first non-loopback IPv4 address of this machine. */
static void lan_host(const struct tolk_config *cfg, char *host, size_t len)
{
    bool any = strcmp(cfg->listen_host, "0.0.0.0") == 0 || strcmp(cfg->listen_host, "::") == 0;
    if (!any) {
        bool v6 = strchr(cfg->listen_host, ':') != NULL;
        snprintf(host, len, "%s%s%s", v6 ? "[" : "", cfg->listen_host, v6 ? "]" : "");
        return;
    }
    snprintf(host, len, "localhost");
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET || (ifa->ifa_flags & IFF_LOOPBACK))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, host, (socklen_t)len);
        break;
    }
    freeifaddrs(list);
}

void tolk_net_public_url(const struct tolk_config *cfg, char *url, size_t len)
{
    if (cfg->public_url[0]) {
        /* "http://tolk.local:8080" and "http://tolk.local:8080/" both end with one '/' */
        size_t n = strlen(cfg->public_url);
        const char *scheme_end = strstr(cfg->public_url, "://");
        bool has_path = scheme_end && strchr(scheme_end + 3, '/');
        snprintf(url, len, "%s%s", cfg->public_url,
                 has_path || cfg->public_url[n - 1] == '/' ? "" : "/");
        return;
    }
    char host[80];
    lan_host(cfg, host, sizeof host);
    snprintf(url, len, "%s://%s:%d/", cfg->tls_cert[0] ? "https" : "http", host,
             cfg->listen_port);
}

void tolk_net_channel_url(const struct tolk_net *net, const char *channel, char *url, size_t len)
{
    if (channel)
        snprintf(url, len, "%s?channel=%s", net->public_url, channel);
    else
        snprintf(url, len, "%s", net->public_url);
}
