/* `agnocastctl bw TOPIC`: the bytes per second a topic's publishers publish. */
#include "agnocastctl.h"
#include "format.h"
#include "json.h"
#include "sampler.h"

#include <inttypes.h>
#include <stdio.h>

static struct sampler_options cmd_bw_opt = {.window_s = 1.0, .sizes = TRUE};

static const GOptionEntry cmd_bw_options[] = {
    {"window", 'w', 0, G_OPTION_ARG_DOUBLE, &cmd_bw_opt.window_s,
     "Seconds per report (default 1, 0.1 to 3600)", "SEC"},
    {"count", 'n', 0, G_OPTION_ARG_INT, &cmd_bw_opt.count,
     "Stop after N reports (default 0: until interrupted)", "N"},
    {NULL},
};

static void cmd_bw_report(const struct sampler_window *w, gboolean json)
{
    uint64_t bytes = 0, messages = 0, estimated = 0;
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < w->npubs; i++) {
        bytes += w->pubs[i].bytes;
        messages += w->pubs[i].messages;
        estimated += w->pubs[i].estimated;
    }
    if (json) {
        g_string_append(out, "{");
        json_append_key(out, "topic");
        json_append_string(out, w->topic);
        g_string_append_printf(out,
                               ",\"window_s\":%.3f,\"bytes\":%" PRIu64 ",\"bytes_per_s\":%.1f"
                               ",\"estimated_messages\":%" PRIu64 ",\"publishers\":[",
                               w->seconds, bytes, (double)bytes / w->seconds, estimated);
        for (guint i = 0; i < w->npubs; i++) {
            const struct sampler_pub *p = &w->pubs[i];
            g_string_append_printf(
                out,
                "%s{\"pid\":%" PRIu32 ",\"index\":%" PRIu32 ",\"messages\":%" PRIu64
                ",\"bytes\":%" PRIu64 ",\"bytes_per_s\":%.1f,\"mean_size\":%" PRIu64
                ",\"estimated_messages\":%" PRIu64 ",\"corrupt\":%" PRIu64,
                i ? "," : "", p->pid, p->index, p->messages, p->bytes,
                (double)p->bytes / w->seconds, p->messages ? p->bytes / p->messages : 0,
                p->estimated, p->corrupt);
            if (p->why != NULL) {
                g_string_append(out, ",\"error\":");
                json_append_string(out, p->why);
            }
            g_string_append_c(out, '}');
        }
        g_string_append(out, "]}\n");
    } else {
        g_autofree char *topic = g_strescape(w->topic, NULL);
        g_autofree char *rate = format_size_human((uint64_t)((double)bytes / w->seconds));
        g_string_append_printf(out, "%s: %s/s over %.2f s (%" PRIu64 " messages", topic, rate,
                               w->seconds, messages);
        if (estimated > 0)
            g_string_append_printf(out, ", %" PRIu64 " sized by estimate", estimated);
        g_string_append(out, ")\n");
        for (guint i = 0; i < w->npubs; i++) {
            const struct sampler_pub *p = &w->pubs[i];
            if (p->why != NULL) {
                g_string_append_printf(out, "  publisher %" PRIu32 "/%" PRIu32 ": unreadable\n",
                                       p->pid, p->index);
                continue;
            }
            g_autofree char *prate = format_size_human((uint64_t)((double)p->bytes / w->seconds));
            g_autofree char *mean = format_size_human(p->messages ? p->bytes / p->messages : 0);
            g_string_append_printf(out, "  publisher %" PRIu32 "/%" PRIu32 ": %s/s, mean %s\n",
                                   p->pid, p->index, prate, mean);
        }
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
}

static int cmd_bw_run(const struct ctl_invocation *inv, GError **error)
{
    return sampler_run(inv, &cmd_bw_opt, cmd_bw_report, error);
}

const struct ctl_cmd cmd_bw_entry = {
    .name = "bw",
    .summary = "Show the bytes per second published on a topic",
    .usage = "TOPIC",
    .description =
        "Every --window seconds prints the bytes per second of the topic and of each\n"
        "publisher: the sizes of the new entries of its ring, sampled every 10 ms from\n"
        "its segment (read-only). Entries overwritten before they were sampled (a fast\n"
        "publisher with a small depth) are counted at the mean size of the ones read and\n"
        "reported as estimated. A message's size is its top-level block and its nested\n"
        "allocations (agnocast_loan_alloc, the heap hook), as the publisher recorded\n"
        "them in its ring. --json prints one\n"
        "document per report, one per line: {\"topic\",\"window_s\",\"bytes\",\n"
        "\"bytes_per_s\",\"estimated_messages\",\"publishers\":[{\"pid\",\"index\",\n"
        "\"messages\",\"bytes\",\"bytes_per_s\",\"mean_size\",\"estimated_messages\",\n"
        "\"corrupt\"}]}. Stops after --count reports or on Ctrl-C.",
    .args_min = 1,
    .args_max = 1,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .options = cmd_bw_options,
    .run = cmd_bw_run,
};
