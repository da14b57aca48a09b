/* TLS: checks the configured certificate before anything listens, and says which connections
 * may carry booth PINs and the technicians' token.
 *
 * libwebsockets loads the certificate itself, but reports a bad one only as "context creation
 * failed"; checking it here first turns each mistake into a clear start-up error.
 *
 * Threads: tolk_net_tls_check() on the main thread at start; tolk_net_control_allowed() on the
 * service thread of the connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/net_private.h"
#include "tolk/error.h"
#include "tolk/log.h"

static void log_tls_error(const char *file, const char *what)
{
    char reason[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    tolk_log_error("TLS: %s: %s%s%s", file, what, reason[0] ? ": " : "", reason);
    ERR_clear_error();
}

/* Reads the first PEM object of file with read (PEM_read_X509, PEM_read_PrivateKey); NULL, and
 * a logged reason naming the file, when it can not. */
static void *read_pem(const char *file, void *(*read)(FILE *), const char *what)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        tolk_log_error("TLS: %s: %s", file, strerror(errno));
        return NULL;
    }
    void *object = read(f);
    fclose(f);
    if (!object)
        log_tls_error(file, what);
    return object;
}

static void *read_x509(FILE *f)
{
    return PEM_read_X509(f, NULL, NULL, NULL);
}

static void *read_private_key(FILE *f)
{
    return PEM_read_PrivateKey(f, NULL, NULL, NULL);
}

static bool valid_now(X509 *cert, const char *file)
{
    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        tolk_log_error("TLS: %s: the certificate is not valid yet (check the clock)", file);
        return false;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        tolk_log_error("TLS: %s: the certificate has expired", file);
        return false;
    }
    return true;
}

int tolk_net_tls_check(const struct tolk_config *cfg)
{
    X509 *cert = read_pem(cfg->tls_cert, read_x509, "not a PEM certificate");
    EVP_PKEY *key = cert ? read_pem(cfg->tls_key, read_private_key,
                                    "not a PEM private key (or it is encrypted)")
                         : NULL;
    bool ok = cert && key && valid_now(cert, cfg->tls_cert);
    if (ok && X509_check_private_key(cert, key) != 1) {
        tolk_log_error("TLS: %s does not belong to the certificate %s", cfg->tls_key,
                       cfg->tls_cert);
        ERR_clear_error();
        ok = false;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    return ok ? 0 : TOLK_ENET;
}

static bool peer_is_loopback(struct lws *wsi)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&sa, &len) != 0)
        return false;
    if (sa.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa.ss_family != AF_INET6)
        return false;
    const struct in6_addr *a = &((struct sockaddr_in6 *)&sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

bool tolk_net_control_allowed(struct lws *wsi, const struct tolk_config *cfg)
{
    if (tolk_net_listeners_only(wsi, cfg))
        return false;
    return cfg->tls_cert[0] || cfg->allow_insecure_control || peer_is_loopback(wsi);
}

/* By the port it came in on: lws_is_ssl() reports the vhost's TLS, not the connection's. */
bool tolk_net_listeners_only(struct lws *wsi, const struct tolk_config *cfg)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (!cfg->http_port || getsockname(lws_get_socket_fd(wsi), (struct sockaddr *)&sa, &len) != 0)
        return false;
    in_port_t port = sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                              : ((struct sockaddr_in *)&sa)->sin_port;
    return ntohs(port) == cfg->http_port;
}
