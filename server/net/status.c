/* GET /api/status: the server's state as JSON for the technicians, scripts and tests (the
 * route itself is in http.c).
 *
 * Threads: runs on the service thread that took the request. It reads only the engine's
 * published atomics (tolk_engine_channel_status/stats) and the listener counts, so it needs no
 * lock and never waits for the engine.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/meter.h"
#include "control/monitor.h"
#include "net/net_private.h"
#include "tolk/clock.h"

double tolk_net_db(float db)
{
    if (!isfinite(db) || db < TOLK_METER_FLOOR_DB)
        return TOLK_METER_FLOOR_DB;
    return round(db * 10.0) / 10.0;
}

static json_t *id_or_null(const struct tolk_config *cfg, int channel)
{
    return channel >= 0 && channel < cfg->channel_count ? json_string(cfg->channels[channel].id)
                                                        : json_null();
}

static json_t *channel_json(struct tolk_net *net, int i)
{
    const struct tolk_config *cfg = net->cfg;
    const struct tolk_channel_config *c = &cfg->channels[i];
    struct tolk_channel_status st;
    tolk_engine_channel_status(net->engine, i, &st);
    json_t *name = json_string(c->name);
    if (!name) /* not UTF-8 */
        name = json_string(c->id);
    return json_pack("{s:i, s:s, s:o, s:s, s:b, s:b, s:o, s:i, s:f, s:f, s:b, s:I}", "index", i,
                     "id", c->id, "name", name, "lang", c->lang, "live", st.live, "signal",
                     st.signal, "carrying", id_or_null(cfg, st.carry), "listeners",
                     atomic_load(&net->channel_listeners[i]), "peak_db", tolk_net_db(st.peak_db),
                     "rms_db", tolk_net_db(st.rms_db), "clipped", st.clipped, "frames",
                     (json_int_t)st.frames);
}

static json_t *alarms_json(struct tolk_net *net)
{
    struct tolk_alarm alarms[TOLK_MAX_ALARMS];
    int n = net->monitor ? tolk_monitor_alarms(net->monitor, alarms, TOLK_MAX_ALARMS) : 0;
    json_t *list = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:s, s:I}", "id", alarms[i].id,
                                              "kind", alarms[i].kind, "channel",
                                              id_or_null(net->cfg, alarms[i].channel), "text",
                                              alarms[i].text, "since",
                                              (json_int_t)alarms[i].since_ms));
    return list;
}

unsigned char *tolk_net_status_json(struct tolk_net *net, size_t *len)
{
    const struct tolk_config *cfg = net->cfg;
    struct tolk_engine_stats es;
    tolk_engine_stats(net->engine, &es);
    json_t *channels = json_array();
    for (int i = 0; i < cfg->channel_count; i++)
        json_array_append_new(channels, channel_json(net, i));
    json_int_t uptime = (json_int_t)((tolk_clock_mono_ns() - net->created_ns) / 1000000000);
    json_t *doc = json_pack("{s:s, s:s, s:I, s:i, s:{s:b, s:I}, s:i, s:o}", "server", "tolk",
                            "version", TOLK_VERSION, "uptime_s", uptime, "listeners",
                            atomic_load(&net->listeners), "device", "running",
                            es.device_running, "overruns", (json_int_t)es.device_overruns,
                            "frame_ms", cfg->frame_ms, "channels", channels);
    json_object_set_new(doc, "alarms", alarms_json(net));
    json_object_set_new(doc, "public_url", json_string(net->public_url));
    return tolk_net_json_body(doc, len);
}
