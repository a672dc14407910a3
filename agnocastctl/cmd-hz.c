/* `agnocastctl hz TOPIC`: the publishing rate of each publisher, like `ros2 topic hz`. */
#include "agnocastctl.h"
#include "json.h"
#include "sampler.h"

#include <inttypes.h>
#include <stdio.h>

static struct sampler_options cmd_hz_opt = {.window_s = 1.0};

static const GOptionEntry cmd_hz_options[] = {
    {"window", 'w', 0, G_OPTION_ARG_DOUBLE, &cmd_hz_opt.window_s,
     "Seconds per report (default 1, 0.1 to 3600)", "SEC"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &cmd_hz_opt.count,
     "Stop after N reports (default 0: until interrupted)", "N"},
    {NULL},
};

static void cmd_hz_report(const struct sampler_window *w, gboolean json)
{
    uint64_t total = 0;
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < w->npubs; i++)
        total += w->pubs[i].messages;
    if (json) {
        g_string_append(out, "{");
        json_append_key(out, "topic");
        json_append_string(out, w->topic);
        g_string_append_printf(out, ",\"window_s\":%.3f,\"rate_hz\":%.3f,\"publishers\":[",
                               w->seconds, (double)total / w->seconds);
        for (guint i = 0; i < w->npubs; i++) {
            const struct sampler_pub *p = &w->pubs[i];
            g_string_append_printf(out,
                                   "%s{\"pid\":%" PRIu32 ",\"index\":%" PRIu32
                                   ",\"messages\":%" PRIu64 ",\"rate_hz\":%.3f",
                                   i ? "," : "", p->pid, p->index, p->messages,
                                   (double)p->messages / w->seconds);
            if (p->why != NULL) {
                g_string_append(out, ",\"error\":");
                json_append_string(out, p->why);
            }
            g_string_append_c(out, '}');
        }
        g_string_append(out, "]}\n");
    } else {
        g_autofree char *topic = g_strescape(w->topic, NULL);
        g_string_append_printf(
            out, "%s: %.3f Hz over %.2f s (%" PRIu64 " messages, %u publisher%s)\n", topic,
            (double)total / w->seconds, w->seconds, total, w->npubs, w->npubs == 1 ? "" : "s");
        for (guint i = 0; i < w->npubs; i++) {
            const struct sampler_pub *p = &w->pubs[i];
            if (p->why != NULL)
                g_string_append_printf(out, "  publisher %" PRIu32 "/%" PRIu32 ": unreadable\n",
                                       p->pid, p->index);
            else
                g_string_append_printf(
                    out, "  publisher %" PRIu32 "/%" PRIu32 ": %.3f Hz (%" PRIu64 " messages)\n",
                    p->pid, p->index, (double)p->messages / w->seconds, p->messages);
        }
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
}

static int cmd_hz_run(const struct ctl_invocation *inv, GError **error)
{
    return sampler_run(inv, &cmd_hz_opt, cmd_hz_report, error);
}

const struct ctl_cmd cmd_hz_entry = {
    .name = "hz",
    .summary = "Show the publishing rate of a topic, per publisher",
    .usage = "TOPIC",
    .description =
        "Every --window seconds prints the rate of the topic and of each publisher\n"
        "(PID/INDEX), from the number of messages its ring head advanced. The heads are\n"
        "read from the publishers' segments (read-only): the broker is not asked per\n"
        "message and the publishers are not slowed. --json prints one JSON document per\n"
        "report, one per line: {\"topic\",\"window_s\",\"rate_hz\",\"publishers\":[{\"pid\",\n"
        "\"index\",\"messages\",\"rate_hz\"}]}. Stops after --count reports or on Ctrl-C.",
    .args_min = 1,
    .args_max = 1,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .options = cmd_hz_options,
    .run = cmd_hz_run,
};
