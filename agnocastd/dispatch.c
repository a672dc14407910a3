/* The request table: which kinds a client may send, what each needs, and the one failure path. */
#include "dispatch.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>

#include "broker.h"
#include "client.h"
#include "log.h"

struct handler {
    uint16_t kind;
    bool needs_registration;
    dispatch_fn fn;
};

static const struct handler handlers[] = {
    {AGNOCAST_MSG_HELLO, false, session_hello},
    {AGNOCAST_MSG_REGISTER_PROCESS, false, session_register},
    {AGNOCAST_MSG_ATTACH_SEGMENT, true, session_attach},
    {AGNOCAST_MSG_REPORT_OCCUPIED, true, session_report_occupied},
    {AGNOCAST_MSG_ADD_PUBLISHER, true, endpoint_add_publisher},
    {AGNOCAST_MSG_REMOVE_PUBLISHER, true, endpoint_remove_publisher},
    {AGNOCAST_MSG_ADD_SUBSCRIPTION, true, endpoint_add_subscription},
    {AGNOCAST_MSG_REMOVE_SUBSCRIPTION, true, endpoint_remove_subscription},
    {AGNOCAST_MSG_HAND_WAKE, true, session_hand_wake},
    {AGNOCAST_MSG_LIST_TOPICS, false, query_list_topics},
    {AGNOCAST_MSG_TOPIC_INFO, false, query_topic_info},
    {AGNOCAST_MSG_LIST_PROCESSES, false, query_list_processes},
    {AGNOCAST_MSG_STATS, false, query_stats},
    {AGNOCAST_MSG_GET_SEGMENT, false, query_get_segment},
    {AGNOCAST_MSG_LIST_RULES, false, query_list_rules},
};

static const struct handler *handler_for(uint16_t kind)
{
    for (size_t i = 0; i < G_N_ELEMENTS(handlers); i++)
        if (handlers[i].kind == kind)
            return &handlers[i];
    return NULL;
}

static void version_mismatch(struct client *c, const struct agnocast_frame *f)
{
    g_warning("client pid %d (uid %u) speaks protocol version %u, this broker %d; closing",
              (int)c->pid, (unsigned)c->uid, f->version, AGNOCAST_PROTO_VERSION);
    client_send_error(c, f->request_id, -EPROTONOSUPPORT,
                      "protocol version %u is not supported by this broker (version %d); use a "
                      "client and broker from the same release",
                      f->version, AGNOCAST_PROTO_VERSION);
    client_close_after_flush(c);
}

void dispatch_frame(struct client *c, const void *buf, size_t len, int *fds, int nfds)
{
    struct agnocast_frame f;
    const struct handler *h;
    char *why = NULL;
    int rc;

    rc = agnocast_proto_decode(buf, len, &f);
    if (rc == -EPROTONOSUPPORT) {
        version_mismatch(c, &f);
        return;
    }
    if (rc < 0) {
        char *shown = log_escape(buf, len, 48);
        client_drop(c, "it sent a malformed frame (%zu bytes: \"%s\")", len, shown);
        g_free(shown);
        return;
    }
    if (f.kind < BROKER_KIND_SLOTS)
        c->broker->requests[f.kind]++;
    if (!c->said_hello && f.kind != AGNOCAST_MSG_HELLO) {
        client_drop(c, "it sent %s before HELLO", agnocast_proto_kind_name(f.kind));
        return;
    }
    h = handler_for(f.kind);
    if (h == NULL) {
        client_drop(c, "it sent %s, which is not a request", agnocast_proto_kind_name(f.kind));
        return;
    }
    if (h->needs_registration && c->proc == NULL) {
        rc = -EPERM;
        why = g_strdup_printf("%s needs a registered process: send REGISTER_PROCESS first",
                              agnocast_proto_kind_name(f.kind));
    } else {
        g_debug("pid %d: %s (request %u)", (int)c->pid, agnocast_proto_kind_name(f.kind),
                f.request_id);
        rc = h->fn(c, &f, fds, nfds, &why);
    }
    if (rc < 0) {
        g_info("pid %d: %s refused: %s", (int)c->pid, agnocast_proto_kind_name(f.kind),
               why != NULL ? why : g_strerror(-rc));
        client_send_error(c, f.request_id, rc, "%s", why != NULL ? why : g_strerror(-rc));
        g_free(why);
    }
}
